"""The kubelet's one rewrite of what Envoy Gateway puts in the Envoy container (realcluster/bootstrap.py).

The bootstrap is EG's own: rendered by ``bootstrap.GetRenderedBootstrapConfig`` with the options EG's
Kubernetes provider passes (``internal/infrastructure/kubernetes/proxy/resource.go``: SDS files under
``/sds``, the xDS host ``envoy-gateway.<ns>.svc.cluster.local.``), copied from EG v1.9.1's testdata
(``internal/xds/bootstrap/testdata/render/enable-prometheus.yaml``, whose xDS host is the
default ``envoy-gateway``) at test time from the module cache.
"""

from __future__ import annotations

import json

import pytest
import yaml

from egdoctor_lab.realcluster.bootstrap import expand, rewrite_bootstrap, rewrite_sds_file
from egdoctor_lab.realcluster.crds import CrdError, module_dir

MOUNTS = {"/certs": "/lab/pod/volumes/certs", "/sds": "/lab/pod/volumes/sds"}
XDS_HOST = "envoy-gateway"


@pytest.fixture(scope="module")
def eg_bootstrap() -> str:
    try:
        eg = module_dir("github.com/envoyproxy/gateway", "v1.9.1")
    except (CrdError, Exception) as exc:
        pytest.skip(f"EG module not available: {exc}")
    return (eg / "internal/xds/bootstrap/testdata/render/enable-prometheus.yaml").read_text()


def _differences(a: object, b: object, path: str = "") -> list[tuple[str, object, object]]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            out += _differences(a.get(key), b.get(key), f"{path}.{key}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _differences(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [(path, a, b)]


def test_only_the_xds_host_and_mounted_paths_change(eg_bootstrap: str) -> None:
    before = yaml.safe_load(eg_bootstrap)
    after = yaml.safe_load(rewrite_bootstrap(eg_bootstrap, XDS_HOST, "10.250.0.1", MOUNTS))
    diffs = _differences(before, after)
    assert diffs, "the rewrite changed nothing"
    for path, old, new in diffs:
        if old == XDS_HOST or str(old).rstrip(".") == XDS_HOST.rstrip("."):
            assert new == "10.250.0.1", path
        else:
            assert isinstance(old, str) and old.startswith(("/sds/", "/certs/")), (path, old, new)
            assert new == "/lab/pod/volumes/" + old[1:], path
    assert any(str(old).startswith("/sds/") for _, old, _ in diffs)
    assert any(new == "10.250.0.1" for _, _, new in diffs)


def test_listeners_admin_and_readiness_stay_eg_s(eg_bootstrap: str) -> None:
    after = yaml.safe_load(rewrite_bootstrap(eg_bootstrap, XDS_HOST, "10.250.0.1", MOUNTS))
    before = yaml.safe_load(eg_bootstrap)
    assert after["admin"] == before["admin"]
    assert after["static_resources"]["listeners"] == before["static_resources"]["listeners"]


def test_sds_files_point_at_the_materialised_certs() -> None:
    sds = {
        "resources": [
            {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
                "name": "xds_certificate",
                "tls_certificate": {
                    "certificate_chain": {"filename": "/certs/tls.crt"},
                    "private_key": {"filename": "/certs/tls.key"},
                },
            }
        ]
    }
    out = json.loads(rewrite_sds_file(json.dumps(sds), MOUNTS))
    cert = out["resources"][0]["tls_certificate"]
    assert cert["certificate_chain"]["filename"] == "/lab/pod/volumes/certs/tls.crt"
    assert cert["private_key"]["filename"] == "/lab/pod/volumes/certs/tls.key"
    assert out["resources"][0]["name"] == "xds_certificate"


def test_args_expand_like_kubernetes() -> None:
    env = {"ENVOY_POD_NAME": "envoy-1"}
    assert expand("$(ENVOY_POD_NAME)", env) == "envoy-1"
    assert expand("--x=$(UNKNOWN)", env) == "--x=$(UNKNOWN)"
