"""The lab's translator program is EG's own translation: on input egctl reads faithfully, its listeners,
routes and statuses equal `egctl x translate` of the same release.

`egctl x translate` (internal/cmd/egctl/translate.go in envoyproxy/gateway) loads objects with
internal/gatewayapi/resource/load.go, which keeps only names and namespaces, so the comparison uses a
layout whose outcome needs no labels or timestamps (allowedRoutes from All). egctl routes to Service
cluster IPs (endpoint routing off) where the lab keeps EG's default endpoint routing, so clusters and
endpoints differ by design and are not compared.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from egdoctor_lab.eg.build import egctl_binary
from egdoctor_lab.eg.releases import RELEASES, release
from egdoctor_lab.eg.translate import run_translator
from tests.eg.conftest import scenario_objects

EGCTL_VERSIONS = sorted(v for v, r in RELEASES.items() if r.egctl_builds)
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def _snake(node: Any) -> Any:
    """egctl prints protojson's camelCase field names; the lab's program prints proto names. Metadata
    (a google.protobuf.Struct) keeps its own keys."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            name = key if key.startswith("@") or not _CAMEL.search(key) else _CAMEL.sub(r"_\1", key).lower()
            out[name] = value if name == "filter_metadata" else _snake(value)
        return out
    if isinstance(node, list):
        return [_snake(v) for v in node]
    return node


def _input() -> list[dict[str, Any]]:
    objects = scenario_objects("probe-direct-v2-strict")
    for obj in objects:
        if obj["kind"] == "Gateway":
            for listener in obj["spec"]["listeners"]:
                listener["allowedRoutes"] = {"namespaces": {"from": "All"}}
    # EndpointSlices: egctl does not read them, the lab's program routes to them (without any, a route
    # to a Service would become a 503 direct response and differ for that reason alone).
    kinds = {
        "GatewayClass",
        "Gateway",
        "HTTPRoute",
        "Service",
        "Secret",
        "ClientTrafficPolicy",
        "Namespace",
        "EndpointSlice",
    }
    return [{k: v for k, v in o.items() if k != "status"} for o in objects if o["kind"] in kinds]


def _conditions(status: Any) -> Any:
    """A status with each condition reduced to type, status, reason and message (egctl's loader drops
    metadata.generation, so its observedGeneration is 0), and without the Gateway-level conditions EG's
    Kubernetes provider adds (Accepted from the listeners), which the lab's program adds as well."""
    if isinstance(status, dict):
        if "type" in status and "status" in status:
            return {k: status.get(k) for k in ("type", "status", "reason", "message")}
        return {k: _conditions(v) for k, v in status.items()}
    if isinstance(status, list):
        return [_conditions(v) for v in status]
    return status


@pytest.mark.parametrize("version", EGCTL_VERSIONS)
def test_listeners_routes_and_statuses_equal_egctls(version: str, tmp_path: Path) -> None:
    rel = release(version)
    objects = _input()
    source = tmp_path / "in.yaml"
    source.write_text(yaml.safe_dump_all(objects))
    argv = [str(egctl_binary(rel)), "x", "translate", "--from", "gateway-api", "--to", "gateway-api,xds"]
    argv += ["-t", "all", "-o", "json", "--add-missing-resources", "-f", str(source)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    theirs = json.loads(proc.stdout)
    ours = run_translator(rel, objects)

    configs = {c["@type"].rsplit(".", 1)[-1]: c for c in theirs["xds"]["gateway/shared"]["configs"]}
    their_listeners = [
        _snake(d["activeState"]["listener"]) for d in configs["ListenersConfigDump"]["dynamicListeners"]
    ]
    their_routes = [_snake(d["routeConfig"]) for d in configs["RoutesConfigDump"]["dynamicRouteConfigs"]]

    def strip(items: list[dict[str, Any]]) -> list[str]:
        return sorted(json.dumps({k: v for k, v in i.items() if k != "@type"}, sort_keys=True) for i in items)

    assert strip(ours.xds["gateway/shared"]["listeners"]) == strip(their_listeners)
    assert strip(ours.xds["gateway/shared"]["routes"]) == strip(their_routes)

    for kind, section in (
        ("Gateway", "gateways"),
        ("HTTPRoute", "httpRoutes"),
        ("ClientTrafficPolicy", "clientTrafficPolicies"),
    ):
        for obj in theirs[section]:
            meta = obj["metadata"]
            mine = dict(ours.status_of(kind, meta.get("namespace"), meta["name"]) or {})
            if kind == "Gateway":
                mine.pop("conditions", None)
            assert _conditions(mine) == _conditions(obj.get("status")), f"{kind} {meta['name']}"
