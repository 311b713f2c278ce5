"""Builds the real cluster's programs, once per machine, into ``<cache>/real/``.

* ``etcd`` and ``kube-apiserver``: the two small Go programs in ``gobuild/``, pinned by its go.mod/go.sum
  to k8s.io/kubernetes v1.36.3 (the minor Envoy Gateway v1.9.1's k8s.io libraries are) and the etcd
  server that release depends on. The version variables are set with ``-ldflags -X`` as Kubernetes'
  own build does (hack/lib/version.sh), so ``kubectl version`` reports the release.
* ``envoy-gateway``: ``go install github.com/envoyproxy/gateway/cmd/envoy-gateway@VERSION``.

The same cache, lock and logging as the translator's build (``egdoctor_lab/eg/build.py``).
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from egdoctor_lab.eg.build import _locked, _run, _say, cache_root, find_go
from egdoctor_lab.eg.releases import EgRelease

GO_SOURCES = Path(__file__).with_name("gobuild")
KUBERNETES_VERSION = "v1.36.3"
PROGRAMS = ("etcd", "kube-apiserver")
EG_MODULE = "github.com/envoyproxy/gateway/cmd/envoy-gateway"


def _version_ldflags() -> str:
    major, minor = KUBERNETES_VERSION.lstrip("v").split(".")[:2]
    variables = {
        "gitVersion": KUBERNETES_VERSION,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
    }
    flags = []
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {package}.{name}={value}" for name, value in variables.items()]
    return " ".join(flags)


def _sources() -> list[Path]:
    files = [GO_SOURCES / "go.mod", GO_SOURCES / "go.sum"]
    files += sorted(GO_SOURCES.glob("*/*.go"))
    return files


def kube_binaries() -> dict[str, Path]:
    """``etcd`` and ``kube-apiserver``, built now if missing or if their pinned sources changed."""
    directory = cache_root() / "real" / KUBERNETES_VERSION
    digest = hashlib.sha256(_version_ldflags().encode())
    for path in _sources():
        digest.update(str(path.relative_to(GO_SOURCES)).encode() + b"\0" + path.read_bytes())
    binaries = {name: directory / "bin" / name for name in PROGRAMS}
    stamp = directory / "bin" / "sources.sha256"
    with _locked(directory):
        built = all(p.is_file() for p in binaries.values()) and stamp.is_file()
        if built and stamp.read_text() == digest.hexdigest():
            return binaries
        go = find_go()
        (directory / "bin").mkdir(exist_ok=True)
        for name, binary in binaries.items():
            _say(f"building {name} {KUBERNETES_VERSION} (minutes on a fresh machine, then cached)")
            started = time.monotonic()
            _run(
                [go, "build", "-trimpath", "-ldflags", _version_ldflags(), "-o", str(binary), f"./{name}"],
                GO_SOURCES,
                dict(os.environ),
                name,
                directory / f"{name}-build.log",
            )
            _say(f"built {name} in {time.monotonic() - started:.0f} s")
        stamp.write_text(digest.hexdigest())
        return binaries


def envoy_gateway_binary(rel: EgRelease) -> Path:
    """The release's controller, ``envoy-gateway``, from ``go install`` of its tag."""
    directory = cache_root() / "eg" / rel.version
    binary = directory / "bin" / "envoy-gateway"
    with _locked(directory):
        if binary.is_file():
            return binary
        go = find_go()
        (directory / "bin").mkdir(exist_ok=True)
        _say(
            f"building envoy-gateway {rel.version} with go install (minutes on a fresh machine, then cached)"
        )
        started = time.monotonic()
        _run(
            [go, "install", f"{EG_MODULE}@{rel.version}"],
            None,
            {**os.environ, "GOBIN": str(directory / "bin")},
            f"envoy-gateway {rel.version}",
            directory / "envoy-gateway-build.log",
        )
        _say(f"built envoy-gateway {rel.version} in {time.monotonic() - started:.0f} s")
        return binary
