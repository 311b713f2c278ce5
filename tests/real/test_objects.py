"""What of a scenario the real cluster applies (egdoctor_lab/realcluster/objects.py): no statuses or
server-owned metadata, nothing a controller creates, and the platform EnvoyProxy that gives EG's Service
the scenario's Octavia annotations."""

from __future__ import annotations

from egdoctor_lab.realcluster.objects import PLATFORM_PROXY, applied_objects, backend_listeners
from egdoctor_lab.scenario import load_scenario
from tests.conftest import SCENARIOS


def _demo() -> list[dict]:
    return [dict(o) for o in load_scenario(SCENARIOS / "demo.yaml").objects]


def test_controllers_write_status_and_create_their_objects() -> None:
    applied = applied_objects(_demo())
    assert all("status" not in o for o in applied)
    assert all(
        "creationTimestamp" not in o["metadata"] and "generation" not in o["metadata"] for o in applied
    )
    eg_made = [
        o
        for o in applied
        if (o["metadata"].get("labels") or {}).get("app.kubernetes.io/managed-by") == "envoy-gateway"
    ]
    assert eg_made == []
    kinds = {o["kind"] for o in applied}
    assert {"Gateway", "HTTPRoute", "ClientTrafficPolicy", "Secret", "EndpointSlice"} <= kinds


def test_the_platform_envoyproxy_carries_the_octavia_annotations() -> None:
    applied = applied_objects(_demo())
    proxy = next(o for o in applied if o["kind"] == "EnvoyProxy")
    assert proxy["metadata"]["name"] == PLATFORM_PROXY
    service = proxy["spec"]["provider"]["kubernetes"]["envoyService"]
    assert service["annotations"]["loadbalancer.openstack.org/proxy-protocol"] == "v2"
    assert service["externalTrafficPolicy"] == "Local"
    gatewayclass = next(o for o in applied if o["kind"] == "GatewayClass")
    assert gatewayclass["spec"]["parametersRef"]["name"] == PLATFORM_PROXY


def test_a_scenario_without_the_annotation_gets_none() -> None:
    objects = [dict(o) for o in load_scenario(SCENARIOS / "probe-direct-lb-plain.yaml").objects]
    proxy = next(o for o in applied_objects(objects) if o["kind"] == "EnvoyProxy")
    annotations = proxy["spec"]["provider"]["kubernetes"]["envoyService"]["annotations"]
    assert "loadbalancer.openstack.org/proxy-protocol" not in annotations


def test_backends_listen_where_ready_endpoints_are() -> None:
    listeners = backend_listeners(_demo())
    assert ("10.244.1.17", 8080) in listeners and ("10.244.2.9", 8080) in listeners
    assert ("10.244.1.30", 8080) not in listeners  # team-b's endpoint is not ready
