"""The lab's rewrites of Envoy Gateway's xDS (egdoctor_lab/eg/envoy_config.py REWRITES): each changes only
what it names, and everything that decides the client IP stays EG's.

The xDS comes from EG's own translator at each pinned release (internal/xds/translator in
envoyproxy/gateway); Envoy then runs it with its default flags.
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from egdoctor_lab.datapath.plan import GatewayAddresses
from egdoctor_lab.eg import envoy_config
from egdoctor_lab.eg.build import envoy_binary
from egdoctor_lab.eg.envoy_config import REWRITES, LabSite, eg_bootstrap, rewritten
from egdoctor_lab.eg.releases import release
from tests.eg.conftest import VERSIONS

SCENARIO = "probe-direct-v2-strict"  # HTTP and two HTTPS listeners, PROXY protocol, two routes
KEY = "gateway/shared"


def _site(tmp: Path, served: dict[str, tuple[Path, Path]] | None = None) -> LabSite:
    addrs = GatewayAddresses(KEY, "127.9.10.1", "127.9.20.1", "127.9.40.1", (), (80, 443), tmp / "access.log")
    return LabSite(addrs, ("127.0.0.1", 18080), served or {})


def _paths(node: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of a JSON document by its path; list items by index."""
    out: dict[str, Any] = {}
    if isinstance(node, dict):
        for k, v in node.items():
            out.update(_paths(v, f"{prefix}/{k}"))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.update(_paths(v, f"{prefix}/{i}"))
    else:
        out[prefix] = node
    return out


def _changed(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    a, b = _paths(before), _paths(after)
    return {p for p in set(a) | set(b) if a.get(p, "<absent>") != b.get(p, "<absent>")}


def _one(xds: dict[str, Any], rewrite: Callable[[dict[str, Any], LabSite], None], site: LabSite) -> set[str]:
    before = {
        k: copy.deepcopy(list(xds.get(k) or []))
        for k in ("listeners", "routes", "clusters", "endpoints", "secrets")
    }
    after = copy.deepcopy(before)
    rewrite(after, site)
    return _changed(before, after)


# What each rewrite may touch: a predicate over the changed paths.
ALLOWED: dict[str, Callable[[str], bool]] = {
    "bind_loopback": lambda p: p.startswith("/listeners/") and p.endswith("/address/socket_address/address"),
    "access_log_to_file": lambda p: p.startswith("/listeners/") and p.endswith("/typed_config/path"),
    "inline_routes": lambda p: "/typed_config/rds/" in p or "/typed_config/route_config/" in p,
    "static_endpoints": lambda p: (
        p.startswith("/clusters/")
        and (p.endswith("/type") or "/eds_cluster_config/" in p or "/load_assignment/" in p)
    ),
    "static_secrets": lambda p: (
        p.endswith("/sds_config/ads") or p.endswith("/sds_config/resource_api_version")
    ),
    "served_certificate": lambda p: False,  # nothing unless a scenario says the served certificate differs
}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("rewrite", REWRITES, ids=lambda r: r.__name__)
def test_each_rewrite_touches_only_what_it_names(
    rewrite: Callable[[dict[str, Any], LabSite], None], version: str, translated: Any, tmp_path: Path
) -> None:
    xds = dict(translated(SCENARIO, version).xds[KEY])
    changed = _one(xds, rewrite, _site(tmp_path))
    allowed = ALLOWED[rewrite.__name__]
    assert {p for p in changed if not allowed(p)} == set()
    if rewrite.__name__ != "served_certificate":
        assert changed, f"{rewrite.__name__} changed nothing: the test no longer sees what it rewrites"


def test_every_rewrite_has_a_rule() -> None:
    assert {r.__name__ for r in REWRITES} == set(ALLOWED)


def _listener_essentials(listeners: list[dict[str, Any]]) -> list[Any]:
    """Listener filters, HCM settings (routes aside) and access-log formats: what decides the client IP."""
    out = []
    for lst in listeners:
        out.append(lst.get("listener_filters"))
        for chain in [*(lst.get("filter_chains") or []), lst.get("default_filter_chain") or {}]:
            for flt in chain.get("filters") or []:
                hcm = dict(flt.get("typed_config") or {})
                hcm.pop("rds", None)
                hcm.pop("route_config", None)
                for log in hcm.get("access_log") or []:
                    log.get("typed_config", {}).pop("path", None)
                out.append(hcm)
        for log in lst.get("access_log") or []:
            out.append({k: v for k, v in (log.get("typed_config") or {}).items() if k != "path"})
    return out


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "scenario", ["probe-direct-v2-strict", "probe-xff-edge1-hops1", "probe-direct-lb-plain-optional"]
)
def test_client_ip_settings_stay_egs(scenario: str, version: str, translated: Any, tmp_path: Path) -> None:
    """Every listener filter (PROXY protocol, TLS inspector), HCM setting (use_remote_address,
    xff_num_trusted_hops, original_ip_detection_extensions) and access-log format is EG's."""
    xds = translated(scenario, version).xds[KEY]
    ours = rewritten(xds, _site(tmp_path))
    assert _listener_essentials(copy.deepcopy(ours["listeners"])) == _listener_essentials(
        copy.deepcopy(list(xds["listeners"]))
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_envoy_of_the_release_accepts_the_bootstrap(version: str, translated: Any, tmp_path: Path) -> None:
    bootstrap = eg_bootstrap(translated(SCENARIO, version).xds[KEY], _site(tmp_path))
    path = tmp_path / "bootstrap.json"
    path.write_text(json.dumps(bootstrap))
    envoy = envoy_binary(release(version))
    proc = subprocess.run(
        [str(envoy), "--mode", "validate", "-c", str(path), "-l", "error"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_served_certificate_replaces_only_that_chains_certificate(translated: Any, tmp_path: Path) -> None:
    xds = dict(translated(SCENARIO).xds[KEY])
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    changed = _one(xds, envoy_config.served_certificate, _site(tmp_path, {"https-team-a": (cert, key)}))
    assert changed and all("/filter_chains/" in p and "/common_tls_context/" in p for p in changed)
    after = rewritten(xds, _site(tmp_path, {"https-team-a": (cert, key)}))
    chains = [c for lst in after["listeners"] for c in lst.get("filter_chains") or []]
    served = {
        c["name"]: c["transport_socket"]["typed_config"]["common_tls_context"]
        for c in chains
        if "transport_socket" in c
    }
    assert served["gateway/shared/https-team-a"]["tls_certificates"][0]["certificate_chain"][
        "filename"
    ] == str(cert)
    assert "tls_certificate_sds_secret_configs" in served["gateway/shared/https-team-b"]
