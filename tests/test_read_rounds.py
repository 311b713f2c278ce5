"""References are followed out of the asked namespaces in rounds (egdoctor/snapshot/cluster.py): the
first round goes out together with discovery at each kind's preferred version. A cluster that serves a
kind only at an older version (Gateway API at v1beta1 alone) must still have every reference followed as
far as on a current cluster: the chain starts one round later there, and keeps all its rounds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from egdoctor.snapshot import cluster
from tests.conftest import lab_for

GW = "gateway.networking.k8s.io"
EG = "gateway.envoyproxy.io"


def _scenario(path: Path, absent: list[str]) -> Path:
    def namespace(name: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}

    def gateway(ns: str, name: str, **extra: Any) -> dict[str, Any]:
        spec = {"gatewayClassName": "eg", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}
        return {
            "apiVersion": f"{GW}/v1",
            "kind": "Gateway",
            "metadata": {"name": name, "namespace": ns},
            "spec": {**spec, **extra},
        }

    documents = [
        {
            "apiVersion": "lab.egdoctor.io/v1",
            "kind": "LabScenario",
            "metadata": {"name": "rounds"},
            "spec": {"absentGroups": absent},
        },
        *(namespace(n) for n in ("gateway", "team-a", "edge")),
        {
            "apiVersion": f"{GW}/v1",
            "kind": "GatewayClass",
            "metadata": {"name": "eg"},
            "spec": {"controllerName": "gateway.envoyproxy.io/gatewayclass-controller"},
        },
        gateway("gateway", "shared"),
        # the last link: only a Gateway found through the route points at this EnvoyProxy
        gateway(
            "edge",
            "other",
            infrastructure={"parametersRef": {"group": EG, "kind": "EnvoyProxy", "name": "ep"}},
        ),
        {
            "apiVersion": f"{EG}/v1alpha1",
            "kind": "EnvoyProxy",
            "metadata": {"name": "ep", "namespace": "edge"},
            "spec": {},
        },
        {
            "apiVersion": f"{GW}/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": "web", "namespace": "team-a"},
            "spec": {
                "parentRefs": [
                    {"name": "shared", "namespace": "gateway"},
                    {"name": "other", "namespace": "edge"},
                ]
            },
        },
    ]
    path.write_text(yaml.safe_dump_all(documents))
    return path


@pytest.mark.parametrize("absent", [[], [f"{GW}/v1"]], ids=["v1-served", "v1beta1-only"])
def test_every_reference_is_followed_whatever_version_is_served(tmp_path: Path, absent: list[str]) -> None:
    """-n gateway: Gateways there -> routes pointing at them (anywhere) -> those routes' other Gateways
    -> their EnvoyProxy, four rounds on both clusters."""
    with lab_for(_scenario(tmp_path / "rounds.yaml", absent), tmp_path / "lab") as lab:
        conn = cluster.connect(str(lab.kubeconfig_path), None, 10.0)
        reader = cluster.ClusterReader(conn, 10.0)
        snapshot = reader.read(["Gateway", "GatewayClass", "HTTPRoute", "EnvoyProxy"], frozenset({"gateway"}))
    assert reader.served["Gateway"] == ("v1beta1" if absent else "v1")
    assert [o.name for o in snapshot.of("HTTPRoute")] == ["web"]
    assert sorted(o.name for o in snapshot.of("Gateway")) == ["other", "shared"]
    assert [o.name for o in snapshot.of("EnvoyProxy")] == ["ep"]
