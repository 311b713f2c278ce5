"""Envoy runs the configuration Envoy Gateway's translator produced for a Gateway.

EG sends its xDS resources to Envoy over ADS; here they become one static bootstrap per Gateway (one
Envoy per Gateway, as EG deploys one Envoy Deployment per Gateway). The lab changes only what must
differ on one loopback machine or without a control plane, and ``REWRITES`` is the whole list; each
rewrite has a test that it touches nothing else (every listener filter, HCM setting, original-IP
detection extension and access-log format stays EG's). Envoy's command-line flags stay Envoy's defaults,
the access-log flush interval (10 s) included.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from egdoctor_lab.datapath.plan import GatewayAddresses

ADS_DELIVERED = ("rds", "eds_cluster_config", "sds_config")


@dataclass(frozen=True)
class LabSite:
    """Where one Gateway's Envoy runs in the lab."""

    addresses: GatewayAddresses
    echo: tuple[str, int]
    # listener name -> (certificate chain file, key file) Envoy serves instead of the Secret's, when a
    # scenario's spec.datapath.gateways[].servedCertificate says the data path differs from the objects
    served_certificates: Mapping[str, tuple[Path, Path]]


def _walk(node: Any, fn: Callable[[dict[str, Any]], None]) -> None:
    if isinstance(node, dict):
        fn(node)
        for value in node.values():
            _walk(value, fn)
    elif isinstance(node, list):
        for value in node:
            _walk(value, fn)


def bind_loopback(resources: dict[str, Any], site: LabSite) -> None:
    """Listener bind addresses 0.0.0.0 / :: -> the Gateway's Envoy address (ports unchanged): the
    Envoy pod's addresses, one loopback address per Gateway."""
    for listener in resources["listeners"]:
        sock = (listener.get("address") or {}).get("socket_address")
        if isinstance(sock, dict) and sock.get("address") in ("0.0.0.0", "::"):
            sock["address"] = site.addresses.envoy


def access_log_to_file(resources: dict[str, Any], site: LabSite) -> None:
    """Access-log path /dev/stdout -> the file the lab serves as the Envoy container's log
    (``kubectl logs`` shows a container's stdout)."""

    def fix(node: dict[str, Any]) -> None:
        if str(node.get("@type", "")).endswith("FileAccessLog") and node.get("path") == "/dev/stdout":
            node["path"] = str(site.addresses.access_log)

    _walk(resources["listeners"], fix)


def inline_routes(resources: dict[str, Any], site: LabSite) -> None:
    """HCM ``rds`` (served over ADS) -> the same RouteConfiguration inline as ``route_config``."""
    routes = {r["name"]: r for r in resources["routes"]}

    def fix(node: dict[str, Any]) -> None:
        rds = node.get("rds")
        if (
            isinstance(rds, dict)
            and "route_config_name" in rds
            and str(node.get("@type", "")).endswith("HttpConnectionManager")
        ):
            del node["rds"]
            node["route_config"] = copy.deepcopy(routes[rds["route_config_name"]])

    _walk(resources["listeners"], fix)


def static_endpoints(resources: dict[str, Any], site: LabSite) -> None:
    """EDS clusters -> STATIC with the ClusterLoadAssignment inline, every endpoint the lab's echo
    backend (Services and Pods are not real here)."""
    assignments = {e["cluster_name"]: e for e in resources["endpoints"]}
    for cluster in resources["clusters"]:
        if cluster.get("type") != "EDS":
            continue
        eds = cluster.pop("eds_cluster_config", {}) or {}
        name = eds.get("service_name") or cluster["name"]
        assignment = copy.deepcopy(assignments.get(name, {"cluster_name": cluster["name"], "endpoints": []}))
        assignment["cluster_name"] = cluster["name"]
        for locality in assignment.get("endpoints") or []:
            for lb_endpoint in locality.get("lb_endpoints") or []:
                sock = (((lb_endpoint.get("endpoint") or {}).get("address")) or {}).get("socket_address")
                if isinstance(sock, dict):
                    sock["address"], sock["port_value"] = site.echo
        cluster["type"] = "STATIC"
        cluster["load_assignment"] = assignment


def static_secrets(resources: dict[str, Any], site: LabSite) -> None:
    """SDS secrets (served over ADS) -> static secrets of the bootstrap, referenced by the same name."""

    def fix(node: dict[str, Any]) -> None:
        for key in ("tls_certificate_sds_secret_configs", "validation_context_sds_secret_config"):
            refs = node.get(key)
            for ref in refs if isinstance(refs, list) else [refs] if isinstance(refs, dict) else []:
                ref.pop("sds_config", None)

    _walk(resources["listeners"], fix)
    _walk(resources["clusters"], fix)


def served_certificate(resources: dict[str, Any], site: LabSite) -> None:
    """Only where the scenario says Envoy serves another certificate than its listener's Secret: that
    filter chain's certificate comes from the lab's files."""
    if not site.served_certificates:
        return
    for listener in resources["listeners"]:
        for chain in listener.get("filter_chains") or []:
            section = str(chain.get("name", "")).rsplit("/", 1)[-1]
            if section not in site.served_certificates:
                continue
            cert, key = site.served_certificates[section]
            tls = ((chain.get("transport_socket") or {}).get("typed_config")) or {}
            common = tls.setdefault("common_tls_context", {})
            common.pop("tls_certificate_sds_secret_configs", None)
            common["tls_certificates"] = [
                {"certificate_chain": {"filename": str(cert)}, "private_key": {"filename": str(key)}}
            ]


REWRITES: tuple[Callable[[dict[str, Any], LabSite], None], ...] = (
    bind_loopback,
    access_log_to_file,
    inline_routes,
    static_endpoints,
    static_secrets,
    served_certificate,
)


def rewritten(xds: Mapping[str, Any], site: LabSite) -> dict[str, Any]:
    resources = {
        k: copy.deepcopy(list(xds.get(k) or []))
        for k in ("listeners", "routes", "clusters", "endpoints", "secrets")
    }
    for rewrite in REWRITES:
        rewrite(resources, site)
    return resources


def eg_bootstrap(xds: Mapping[str, Any], site: LabSite) -> dict[str, Any]:
    """A bootstrap that makes Envoy run EG's resources for one Gateway; admin on an ephemeral
    127.0.0.1 port (EG's is 127.0.0.1:19000, one per pod)."""
    resources = rewritten(xds, site)
    return {
        "node": {"id": f"envoy-{site.addresses.key.replace('/', '-')}", "cluster": site.addresses.key},
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "static_resources": {
            "listeners": resources["listeners"],
            "clusters": resources["clusters"],
            "secrets": resources["secrets"],
        },
    }
