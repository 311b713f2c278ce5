"""How Envoy Gateway decides a listener's client-IP mode (envoyproxy/gateway v1.9.1, checked against its
translator in tests/eg and the ctp-* scenarios that run on it):

* internal/gatewayapi/clienttrafficpolicy.go: a section policy claims its listener first and keeps it when
  its translation fails; a failing policy applies clientIPDetection but not proxyProtocol (routes 500); a
  port-overlap refusal applies nothing; a Gateway-wide policy that fails on one listener applies elsewhere.
* internal/xds/translator/proxy_protocol.go, translator.go: one Envoy listener per port; the first listener
  enabling PROXY puts the filter on the port; plain-HTTP listeners on a port share the first one's HCM.
* internal/gatewayapi/helpers.go: an empty targetSelectors entry selects every Gateway of the namespace.
* internal/xds/translator/listener.go xffNumTrustedHops: numTrustedHops 0 behaves like 1.
* api/v1alpha1/policy_helpers.go: with targetRef set, targetRefs is ignored.
"""

from __future__ import annotations

from typing import Any

from egdoctor.model.topology import build_topology
from tests.checks.test_clientip import (
    ACCEPTED,
    DIRECT,
    GW_GROUP,
    PP,
    XFF1,
    ancestors,
    codes,
    condition,
    ctp,
    diagnose,
    envoy_service,
    gateway,
    route,
    setup,
)

HTTPS2 = [
    ("http", 80, "HTTP", None),
    ("https-a", 443, "HTTPS", "a.example.com"),
    ("https-b", 443, "HTTPS", "b.example.com"),
]


def _modes(objs: list[Any]) -> dict[str, tuple[str, str | None]]:
    topo = build_topology(diagnose(objs).snapshot)
    gv = topo.gateways[("gateway", "shared")]
    return {lv.name: (lv.client_ip.proxy_protocol, lv.client_ip.applied) for lv in gv.listeners}


def _https_gateway(*extra: Any, svc: Any = None) -> list[Any]:
    gw = gateway(HTTPS2)
    for spec in gw["spec"]["listeners"]:
        if spec["protocol"] == "HTTPS":
            spec["tls"] = {"mode": "Terminate", "certificateRefs": [{"name": "cert"}]}
    return [gw, route(), svc if svc is not None else envoy_service({PP: "v2"}), *extra]


def test_a_section_policy_enables_proxy_for_its_whole_port() -> None:
    objs = _https_gateway(ctp(DIRECT, section="https-a"))
    modes = _modes(objs)
    assert modes["https-a"][0] == "strict" and modes["https-b"][0] == "strict"
    assert modes["http"][0] == "off"
    assert "EGD305" in codes(diagnose(objs))  # the http listener only


def test_a_gateway_wide_policy_failing_on_tls_keeps_port_80() -> None:
    error = "TLS: failed to get certificate from ref: configmap gateway/ca does not exist"
    failing = ctp(DIRECT, status=ancestors(condition("Accepted", "False", "Invalid", error)))
    modes = _modes(_https_gateway(failing))
    assert modes["http"] == ("strict", "all")
    assert modes["https-a"] == ("off", "client-ip-detection-only")
    assert modes["https-b"] == ("off", "client-ip-detection-only")


def test_a_refused_section_policy_still_takes_its_listener_from_the_gateway_wide_one() -> None:
    overlap = (
        "ClientTrafficPolicy is being applied to multiple http (non https) listeners (gateway/shared/http-b) "
        "on the same port, which is not allowed."
    )
    listeners = [("http", 80, "HTTP", "a.example.com"), ("http-b", 80, "HTTP", "b.example.com")]
    section = ctp(
        DIRECT,
        name="client-ip-http",
        section="http",
        created="2026-01-12T08:00:00Z",
        status=ancestors(condition("Accepted", "False", "Invalid", overlap), section="http"),
    )
    objs = setup(ctp(DIRECT), section, listeners=listeners)
    modes = _modes(objs)
    # the first plain-HTTP listener on port 80 decides for the port: nothing applies there
    assert modes == {"http": ("off", "nothing"), "http-b": ("off", "all")}
    found = codes(diagnose(objs))
    assert "EGD305" in found and "EGD314" not in found


def test_an_empty_target_selector_selects_the_gateway() -> None:
    policy = ctp(DIRECT)
    del policy["spec"]["targetRefs"]
    policy["spec"]["targetSelectors"] = [{"group": GW_GROUP, "kind": "Gateway"}]
    objs = setup(policy)
    assert {m for m, _ in _modes(objs).values()} == {"strict"}
    assert codes(diagnose(objs)) == []


def test_zero_trusted_hops_is_one() -> None:
    zero = ctp({"clientIPDetection": {"xForwardedFor": {"numTrustedHops": 0}}})
    objs = setup(zero, svc=envoy_service({}, ranges=["198.51.100.0/24"]))
    assert codes(diagnose(objs, expect_hops=1)) == codes(
        diagnose(setup(ctp(XFF1), svc=envoy_service({}, ranges=["198.51.100.0/24"])), expect_hops=1)
    )
    assert "EGD308" not in codes(diagnose(objs, expect_hops=1))


def test_target_ref_wins_over_target_refs() -> None:
    policy = ctp(DIRECT)
    policy["spec"]["targetRef"] = {
        "group": GW_GROUP,
        "kind": "Gateway",
        "name": "shared",
        "sectionName": "http",
    }
    policy["status"] = ancestors(ACCEPTED, section="http")
    modes = _modes(setup(policy))
    assert modes["http"][0] == "strict"
    assert modes["https"][0] == "off"


def test_an_accepted_section_entry_is_not_hidden_by_a_conflicted_gateway_entry() -> None:
    older = ctp(XFF1, name="a-older", created="2026-01-10T09:00:00Z")
    newer = ctp(DIRECT, name="b-newer", created="2026-01-12T08:00:00Z")
    newer["spec"]["targetRefs"].append(
        {"group": GW_GROUP, "kind": "Gateway", "name": "shared", "sectionName": "http"}
    )
    newer["status"] = {
        "ancestors": [
            *ancestors(condition("Accepted", "False", "Conflicted", "Unable to target Gateway shared"))[
                "ancestors"
            ],
            *ancestors(ACCEPTED, section="http")["ancestors"],
        ]
    }
    topo = build_topology(diagnose(setup(older, newer)).snapshot)
    gv = topo.gateways[("gateway", "shared")]
    chosen = {lv.name: lv.client_ip.ctp.name if lv.client_ip.ctp else None for lv in gv.listeners}
    assert chosen == {"http": "b-newer", "https": "a-older"}


def _cross_namespace_policy(origin: str, **extra: Any) -> dict[str, Any]:
    policy = ctp(DIRECT, ns="team-a")
    del policy["spec"]["targetRefs"]
    policy["spec"]["targetSelectors"] = [
        {"group": GW_GROUP, "kind": "Gateway", "namespaces": {"from": origin, **extra}}
    ]
    policy["status"] = ancestors(ACCEPTED)
    return policy


def _grant(namespace: str = "gateway", from_ns: str = "team-a") -> dict[str, Any]:
    return {
        "apiVersion": f"{GW_GROUP}/v1beta1",
        "kind": "ReferenceGrant",
        "metadata": {"name": "ctp-to-gateway", "namespace": namespace},
        "spec": {
            "from": [{"group": "gateway.envoyproxy.io", "kind": "ClientTrafficPolicy", "namespace": from_ns}],
            "to": [{"group": GW_GROUP, "kind": "Gateway"}],
        },
    }


def _namespace(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def test_target_selector_namespaces_reach_another_namespace_only_with_a_grant() -> None:
    """targetSelectors[].namespaces (v1.8+): All or a namespace Selector, and a ReferenceGrant in the
    Gateway's namespace (internal/gatewayapi/helpers.go targetSelectorNamespacesMatch and
    isCrossNamespaceReferencePermitted)."""
    policy = _cross_namespace_policy("All")
    assert {m for m, _ in _modes(setup(policy, _grant())).values()} == {"strict"}
    assert {m for m, _ in _modes(setup(policy)).values()} == {"off"}
    assert {m for m, _ in _modes(setup(policy, _grant(from_ns="team-b"))).values()} == {"off"}
    by_label = _cross_namespace_policy("Selector", selector={"matchLabels": {"edge": "shared"}})
    labelled = _namespace("gateway", {"edge": "shared"})
    assert {m for m, _ in _modes(setup(by_label, _grant(), labelled)).values()} == {"strict"}
    assert {m for m, _ in _modes(setup(by_label, _grant(), _namespace("gateway", {}))).values()} == {"off"}
