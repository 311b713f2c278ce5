"""EGD111 for an EnvoyProxy Envoy Gateway refused, said once: on the GatewayClass when its status carries
the refusal, else on the EnvoyProxy (EG v1.9 writes `status.ancestors` on the EnvoyProxy itself:
internal/gatewayapi/status/envoyproxy.go; v1.7 does not)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.conftest import run_cli

REFUSED = {
    "type": "Accepted",
    "status": "False",
    "reason": "InvalidParameters",
    "message": "unable to configure access log",
}


def _objects(class_refused: bool) -> list[dict[str, Any]]:
    class_condition = (
        REFUSED if class_refused else {"type": "Accepted", "status": "True", "reason": "Accepted"}
    )
    return [
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "GatewayClass",
            "metadata": {"name": "eg"},
            "spec": {
                "controllerName": "gateway.envoyproxy.io/gatewayclass-controller",
                "parametersRef": {
                    "group": "gateway.envoyproxy.io",
                    "kind": "EnvoyProxy",
                    "name": "platform",
                    "namespace": "envoy-gateway-system",
                },
            },
            "status": {"conditions": [class_condition]},
        },
        {
            "apiVersion": "gateway.envoyproxy.io/v1alpha1",
            "kind": "EnvoyProxy",
            "metadata": {"name": "platform", "namespace": "envoy-gateway-system"},
            "spec": {},
            "status": {
                "ancestors": [
                    {
                        "ancestorRef": {
                            "group": "gateway.networking.k8s.io",
                            "kind": "GatewayClass",
                            "name": "eg",
                        },
                        "conditions": [dict(REFUSED)],
                    }
                ]
            },
        },
    ]


def _egd111(tmp_path: Path, class_refused: bool) -> list[tuple[str, str]]:
    dump = tmp_path / "dump.yaml"
    dump.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": _objects(class_refused)}))
    report = run_cli("check", "-A", "--from-file", str(dump), "-o", "json").json
    return [
        (f["object"]["kind"], f["message"])
        for f in report["findings"]
        if f["code"] == "EGD111" and f.get("object")
    ]


def test_refused_envoyproxy_is_reported_on_itself_when_its_class_does_not_say_so(tmp_path: Path) -> None:
    found = _egd111(tmp_path, class_refused=False)
    assert [kind for kind, _ in found] == ["EnvoyProxy"], found
    assert "GatewayClass eg" in found[0][1] and "unable to configure access log" in found[0][1]


def test_refused_envoyproxy_is_said_once_on_the_class_that_names_it(tmp_path: Path) -> None:
    found = _egd111(tmp_path, class_refused=True)
    assert [kind for kind, _ in found] == ["GatewayClass"], found
