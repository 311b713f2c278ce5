"""Client-IP mode checks (EGD301-EGD315), in process, from small objects and from the scenario files.

Behaviour under test comes from envoyproxy/gateway internal/gatewayapi/clienttrafficpolicy.go (policy
precedence, proxyProtocol over enableProxyProtocol, status reasons) and kubernetes/cloud-provider-openstack
pkg/openstack/loadbalancer.go (which proxy-protocol annotation values turn PROXY on, and which version).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from egdoctor.checks.engine import Diagnosis, run_checks
from egdoctor.checks.registry import Options
from egdoctor.findings.model import Finding, Severity
from egdoctor.model.topology import build_topology
from egdoctor.snapshot.assemble import assemble, derive_envoy_services
from egdoctor.snapshot.files import load_files
from egdoctor.snapshot.kinds import KINDS, spec_for_object
from egdoctor.snapshot.model import AccessProblem, Source

SCENARIOS = Path(__file__).resolve().parents[2] / "egdoctor_lab" / "scenarios"
EG = "gateway.envoyproxy.io/gatewayclass-controller"
PP = "loadbalancer.openstack.org/proxy-protocol"
GW_GROUP = "gateway.networking.k8s.io"

Listener = tuple[str, int, str, str | None]
DEFAULT_LISTENERS: tuple[Listener, ...] = (
    ("http", 80, "HTTP", None),
    ("https", 443, "HTTPS", "a.example.com"),
)


# -- object builders (shared with test_policies) -------------------------------------------------------------


def gateway(
    listeners: Iterable[Listener] = DEFAULT_LISTENERS, name: str = "shared", ns: str = "gateway"
) -> dict:
    specs = []
    for lname, port, proto, host in listeners:
        spec: dict[str, Any] = {
            "name": lname,
            "port": port,
            "protocol": proto,
            "allowedRoutes": {"namespaces": {"from": "All"}},
        }
        if host:
            spec["hostname"] = host
        specs.append(spec)
    return {
        "apiVersion": f"{GW_GROUP}/v1",
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": "2026-01-10T09:01:00Z"},
        "spec": {"gatewayClassName": "eg", "listeners": specs},
        "status": {"addresses": [{"type": "IPAddress", "value": "203.0.113.20"}]},
    }


def route(
    name: str = "web",
    ns: str = "team-a",
    hostnames: Iterable[str] = ("a.example.com",),
    section: str | None = None,
    gw: tuple[str, str] = ("gateway", "shared"),
) -> dict:
    parent: dict[str, Any] = {"group": GW_GROUP, "kind": "Gateway", "name": gw[1], "namespace": gw[0]}
    if section:
        parent["sectionName"] = section
    return {
        "apiVersion": f"{GW_GROUP}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "parentRefs": [parent],
            "hostnames": list(hostnames),
            "rules": [{"backendRefs": [{"name": name, "port": 80}]}],
        },
    }


def ancestors(
    *conditions: Mapping[str, Any], gw: str = "shared", ns: str = "gateway", section: str | None = None
) -> dict:
    ref: dict[str, Any] = {"group": GW_GROUP, "kind": "Gateway", "name": gw, "namespace": ns}
    if section:
        ref["sectionName"] = section
    return {"ancestors": [{"ancestorRef": ref, "controllerName": EG, "conditions": list(conditions)}]}


def condition(ctype: str, status: str, reason: str, message: str = "") -> dict:
    return {"type": ctype, "status": status, "reason": reason, "message": message}


ACCEPTED = condition("Accepted", "True", "Accepted", "Policy has been accepted.")


def ctp(
    spec: Mapping[str, Any],
    name: str = "client-ip",
    ns: str = "gateway",
    target: str = "shared",
    section: str | None = None,
    created: str = "2026-01-10T09:01:10Z",
    status: Mapping[str, Any] | None = None,
) -> dict:
    ref: dict[str, Any] = {"group": GW_GROUP, "kind": "Gateway", "name": target}
    if section:
        ref["sectionName"] = section
    return {
        "apiVersion": "gateway.envoyproxy.io/v1alpha1",
        "kind": "ClientTrafficPolicy",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": created},
        "spec": {"targetRefs": [ref], **spec},
        "status": dict(status) if status is not None else ancestors(ACCEPTED, section=section),
    }


def envoy_service(
    annotations: Mapping[str, str] | None = None,
    ranges: Iterable[str] = (),
    svc_type: str = "LoadBalancer",
    ingress: bool = True,
    name: str = "envoy-gateway-shared-b2034d54",
    ns: str = "envoy-gateway-system",
    gw: tuple[str, str] = ("gateway", "shared"),
) -> dict:
    spec: dict[str, Any] = {"type": svc_type, "ports": [{"port": 80}, {"port": 443}]}
    if ranges:
        spec["loadBalancerSourceRanges"] = list(ranges)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": ns,
            "annotations": dict(annotations or {}),
            "labels": {
                "gateway.envoyproxy.io/owning-gateway-name": gw[1],
                "gateway.envoyproxy.io/owning-gateway-namespace": gw[0],
            },
        },
        "spec": spec,
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.20"}] if ingress else []}},
    }


DIRECT = {"proxyProtocol": {"optional": False}}
XFF1 = {"clientIPDetection": {"xForwardedFor": {"numTrustedHops": 1}}}


def diagnose(
    objs: Iterable[Mapping[str, Any]],
    ns: str | None = "team-a",
    problems: Iterable[AccessProblem] = (),
    **options: Any,
) -> Diagnosis:
    raw: dict[str, list[Mapping[str, Any]]] = {name: [] for name in KINDS}
    for obj in objs:
        spec = spec_for_object(str(obj["apiVersion"]), str(obj["kind"]))
        assert spec is not None, obj["kind"]
        raw[spec.name].append(obj)
    problems = tuple(problems)
    if not any(p.input == "EnvoyService" for p in problems):
        raw["EnvoyService"] = list(derive_envoy_services(raw))
    snapshot = assemble(raw, frozenset({ns}) if ns else None, Source("files"), problems=problems)
    return run_checks(snapshot, Options(**options))


def mine(d: Diagnosis, prefixes: tuple[str, ...] = ("EGD3", "EGD7")) -> list[Finding]:
    return [f for f in d.findings if f.code.startswith(prefixes)]


def codes(d: Diagnosis) -> list[str]:
    return sorted(f.code for f in mine(d))


def only(d: Diagnosis, code: str) -> Finding:
    found = [f for f in d.findings if f.code == code]
    assert len(found) == 1, [(f.code, f.message) for f in d.findings]
    return found[0]


def setup(
    *extra: Mapping[str, Any],
    svc: Mapping[str, Any] | None = None,
    listeners: Iterable[Listener] = DEFAULT_LISTENERS,
) -> list[Mapping[str, Any]]:
    return [gateway(listeners), route(), svc if svc is not None else envoy_service({PP: "v2"}), *extra]


# -- the healthy layouts stay silent -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "options"),
    [
        ("shared-direct-healthy.yaml", {}),
        ("shared-direct-healthy.yaml", {"expect_mode": "direct"}),
        ("shared-xff-healthy.yaml", {}),
        ("shared-xff-healthy.yaml", {"expect_mode": "xff", "expect_hops": 1}),
    ],
)
@pytest.mark.parametrize("namespaces", [frozenset({"team-a"}), frozenset({"team-b"}), None])
def test_healthy_scenarios_report_none_of_these_codes(
    scenario: str, options: dict[str, Any], namespaces: frozenset[str] | None
) -> None:
    d = run_checks(load_files([str(SCENARIOS / scenario)], namespaces), Options(**options))
    assert mine(d) == []
    assert not any(c in d.skipped for c in ("lb-proxy-agreement", "clientip-missing", "btp-client-ip"))


def test_the_xff_scenario_is_really_in_xff_mode() -> None:
    topo = build_topology(load_files([str(SCENARIOS / "shared-xff-healthy.yaml")], None))
    assert {lv.client_ip.mode for gv in topo.gateways.values() for lv in gv.listeners} == {"xff"}


# -- mode detection table ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "annotation", "mode"),
    [
        (None, None, "none"),
        (None, "v2", "mixed"),  # LB sends PROXY, nobody expects it: HTTP 400
        ({"timeout": {"http": {"requestReceivedTimeout": "5s"}}}, None, "none"),
        ({"proxyProtocol": {}}, "v2", "direct"),
        ({"proxyProtocol": {"optional": True}}, "v2", "direct"),
        ({"proxyProtocol": {}}, None, "mixed"),
        ({"proxyProtocol": {}}, "true", "direct"),  # v1, still PROXY
        ({"proxyProtocol": {}}, "v1", "direct"),
        ({"proxyProtocol": {}}, "V2", "mixed"),  # CPO compares case-sensitively: no PROXY at all
        ({"proxyProtocol": {}}, "false", "mixed"),
        ({"enableProxyProtocol": True}, "v2", "direct"),
        ({"enableProxyProtocol": False}, "v2", "mixed"),
        (
            {"enableProxyProtocol": False, "proxyProtocol": {"optional": True}},
            "v2",
            "direct",
        ),  # proxyProtocol wins
        (XFF1, None, "xff"),
        (XFF1, "v2", "mixed"),
        ({"clientIPDetection": {"xForwardedFor": {"trustedCIDRs": ["10.0.0.0/8"]}}}, None, "xff"),
        ({"clientIPDetection": {"customHeader": {"name": "X-Real-IP"}}}, None, "xff"),
        ({**DIRECT, **XFF1}, "v2", "mixed"),
    ],
)
def test_mode_detection(spec: dict[str, Any] | None, annotation: str | None, mode: str) -> None:
    objs = [gateway(), envoy_service({PP: annotation} if annotation is not None else {})]
    if spec is not None:
        objs.append(ctp(spec))
    d = diagnose(objs)
    assert {lv.client_ip.mode for lv in d.topology.gateways[("gateway", "shared")].listeners} == {mode}


def test_mode_without_a_readable_envoy_service_comes_from_the_policy_alone() -> None:
    forbidden = AccessProblem("EnvoyService", "forbidden", "list", "services", "envoy-gateway-system", "no")
    d = diagnose([gateway(), ctp(DIRECT)], problems=[forbidden])
    listeners = d.topology.gateways[("gateway", "shared")].listeners
    assert {lv.client_ip.lb_proxy for lv in listeners} == {"unknown"}
    assert {lv.client_ip.mode for lv in listeners} == {"direct"}


def test_section_policy_beats_gateway_policy_and_oldest_wins_among_equals() -> None:
    d = diagnose(
        setup(
            ctp(DIRECT),
            ctp(XFF1, name="newer", created="2026-03-01T00:00:00Z"),
            ctp({"proxyProtocol": {"optional": True}}, name="http-only", section="http"),
        )
    )
    gv = d.topology.gateways[("gateway", "shared")]
    by_name = {lv.name: lv.client_ip for lv in gv.listeners}
    assert by_name["http"].ctp is not None and by_name["http"].ctp.name == "http-only"
    assert by_name["https"].ctp is not None and by_name["https"].ctp.name == "client-ip"


# -- EGD301 --------------------------------------------------------------------------------------------------


def test_301_once_on_the_gateway_when_no_listener_has_a_policy() -> None:
    d = diagnose(setup(svc=envoy_service()))
    f = only(d, "EGD301")
    assert f.gateway is not None and f.gateway.listener is None
    assert "for Gateway gateway/shared" in f.message
    assert "proxyProtocol" in f.hint and "numTrustedHops" in f.hint


def test_301_per_listener_when_only_some_listeners_lack_client_ip_handling() -> None:
    objs = setup(
        ctp({"timeout": {"http": {"requestReceivedTimeout": "5s"}}}, name="t", section="http"),
        ctp(XFF1),
        svc=envoy_service(),
    )
    f = only(diagnose(objs), "EGD301")
    assert f.gateway is not None and f.gateway.listener == "http"
    assert "applies but sets neither" in f.message


def test_301_needs_routes_on_the_listener() -> None:
    assert "EGD301" not in codes(diagnose([gateway(), envoy_service()], ns=None))


def test_301_hint_follows_the_expected_mode() -> None:
    f = only(diagnose(setup(svc=envoy_service()), expect_mode="xff"), "EGD301")
    assert "numTrustedHops" in f.hint and "proxyProtocol" not in f.hint


def test_301_points_at_a_rejected_policy() -> None:
    """A policy whose translation fails still claims its listeners, and Envoy Gateway applies its
    clientIPDetection there but not its proxyProtocol (internal/gatewayapi/clienttrafficpolicy.go,
    translateClientTrafficPolicyForListener, envoyproxy/gateway v1.9.1)."""
    rejected = ctp(DIRECT, status=ancestors(condition("Accepted", "False", "Invalid", "bad timeout")))
    d = diagnose(setup(rejected, svc=envoy_service()))
    message = only(d, "EGD301").message
    assert "failed on this listener (bad timeout)" in message and "see EGD303" in message
    assert "bad timeout" in only(d, "EGD303").message
    assert "HTTP 500" in only(d, "EGD303").message


def test_301_leaves_a_proxy_sending_lb_to_305() -> None:
    assert codes(diagnose(setup())) == ["EGD305", "EGD314"]


# -- EGD302 --------------------------------------------------------------------------------------------------


def test_302_policy_in_the_route_namespace() -> None:
    d = diagnose(setup(ctp(DIRECT, ns="team-a", status={})))
    f = only(d, "EGD302")
    assert f.subject is not None and f.subject.namespace == "team-a"
    assert "lives in namespace gateway" in f.message
    assert f.gateway is not None and f.gateway.key == ("gateway", "shared")
    assert "EGD305" in codes(d)


def test_302_gateway_that_does_not_exist() -> None:
    f = only(diagnose(setup(ctp(DIRECT, target="shraed", status={}))), "EGD302")
    assert "Gateway gateway/shraed, which does not exist" in f.message
    assert "Gateways in gateway: shared" in f.hint


def test_302_unknown_section_is_reported_from_the_spec_not_as_303() -> None:
    status = ancestors(
        condition(
            "Accepted", "False", "TargetNotFound", "No section name https-x found for Gateway gateway/shared"
        ),
        section="https-x",
    )
    d = diagnose(setup(ctp(DIRECT, section="https-x", status=status)))
    assert "names listener https-x" in only(d, "EGD302").message
    assert "EGD303" not in codes(d)


def test_302_target_selector_matching_nothing() -> None:
    policy = ctp(DIRECT)
    # The empty targetRefs keeps the snapshot's shape rules (which expect the list) from skipping it.
    policy["spec"] = {
        "targetRefs": [],
        "targetSelectors": [{"group": GW_GROUP, "kind": "Gateway", "matchLabels": {"tier": "edge"}}],
        **DIRECT,
    }
    assert "matches no Gateway" in only(diagnose(setup(policy)), "EGD302").message


# -- EGD303 --------------------------------------------------------------------------------------------------


def test_303_conflicted_carries_the_controller_message_and_names_the_winner() -> None:
    msg = "Unable to target Gateway shared, another ClientTrafficPolicy has already attached to it"
    loser = ctp(
        XFF1,
        name="second",
        created="2026-02-01T00:00:00Z",
        status=ancestors(condition("Accepted", "False", "Conflicted", msg)),
    )
    d = diagnose(setup(ctp(DIRECT), loser))
    f = only(d, "EGD303")
    assert msg in f.message and "(gateway/client-ip)" in f.message
    assert f.subject is not None and f.subject.name == "second"
    assert f.severity is Severity.ERROR


def test_303_overridden_is_a_warning() -> None:
    status = ancestors(
        ACCEPTED,
        condition(
            "Overridden",
            "True",
            "Overridden",
            "There are existing ClientTrafficPolicies that are overriding these sections [http]",
        ),
    )
    d = diagnose(setup(ctp(DIRECT, status=status), ctp(DIRECT, name="http", section="http")))
    f = only(d, "EGD303")
    assert f.severity is Severity.WARNING and "[http]" in f.message


# -- EGD304 / EGD305 / EGD314 --------------------------------------------------------------------------------


def test_304_strict_policy_plain_lb() -> None:
    d = diagnose(setup(ctp(DIRECT), svc=envoy_service()))
    f = only(d, "EGD304")
    assert "drops every connection" in f.message and f.gateway is not None and f.gateway.listener is None
    assert "new public IP" in only(d, "EGD314").message


def test_304_names_an_annotation_value_the_cloud_controller_ignores() -> None:
    f = only(
        diagnose(setup(ctp({"proxyProtocol": {"optional": True}}), svc=envoy_service({PP: "V2"}))), "EGD304"
    )
    assert '"V2", a value cloud-provider-openstack does not recognise' in f.message
    assert "sees the load balancer's address" in f.message


def test_304_fix_stays_in_the_policy_when_xff_is_expected() -> None:
    d = diagnose(setup(ctp(DIRECT), svc=envoy_service()), expect_mode="xff")
    assert "remove proxyProtocol" in only(d, "EGD304").hint
    assert "EGD314" not in codes(d)


def test_305_subject_is_the_gateway_without_a_policy() -> None:
    f = only(diagnose(setup()), "EGD305")
    assert f.subject is not None and f.subject.kind == "Gateway"
    assert "no ClientTrafficPolicy enables it" in f.message


def test_305_with_direct_expected_touches_only_the_policy() -> None:
    d = diagnose(setup(ctp(XFF1)), expect_mode="direct")
    assert "remove loadbalancer" not in only(d, "EGD305").hint
    assert "EGD314" not in codes(d)


def test_305_per_listener_and_no_lb_change_when_other_listeners_parse_proxy() -> None:
    listeners = (("http", 80, "HTTP", None), ("web", 8080, "HTTP", None))
    d = diagnose(setup(ctp(DIRECT), ctp({"timeout": {}}, name="w", section="web"), listeners=listeners))
    f = only(d, "EGD305")
    assert f.gateway is not None and f.gateway.listener == "web"
    assert "remove loadbalancer" not in f.hint
    assert "EGD314" not in codes(d)


def test_305_not_on_a_listener_sharing_its_port_with_a_proxy_listener() -> None:
    listeners = (("a", 443, "HTTPS", "a.example.com"), ("b", 443, "HTTPS", "b.example.com"))
    d = diagnose(setup(ctp(DIRECT), ctp({"timeout": {}}, name="b", section="b"), listeners=listeners))
    assert "EGD305" not in codes(d)


def test_314_wording_follows_keep_floatingip_and_a_pinned_address() -> None:
    kept = envoy_service({PP: "true", "loadbalancer.openstack.org/keep-floatingip": "true"})
    assert "kept but not reattached" in only(diagnose(setup(ctp(DIRECT), svc=kept)), "EGD314").message
    kept["spec"]["loadBalancerIP"] = "203.0.113.20"
    assert "so the address stays" in only(diagnose(setup(ctp(DIRECT), svc=kept)), "EGD314").message


# -- EGD306 / EGD307 -----------------------------------------------------------------------------------------


def test_306_optional_proxy_protocol() -> None:
    f = only(diagnose(setup(ctp({"proxyProtocol": {"optional": True}}))), "EGD306")
    assert f.severity is Severity.WARNING


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        ({"enableProxyProtocol": True}, "strict PROXY protocol"),
        ({"enableProxyProtocol": True, "proxyProtocol": {}}, "spec.proxyProtocol is also set and wins"),
        ({"enableProxyProtocol": False}, "it turns nothing on"),
    ],
)
def test_307_deprecated_field(spec: dict[str, Any], text: str) -> None:
    assert text in only(diagnose(setup(ctp(spec))), "EGD307").message


# -- EGD308 / EGD309 -----------------------------------------------------------------------------------------


def test_308_hops_too_high_too_low_and_right() -> None:
    objs = setup(
        ctp({"clientIPDetection": {"xForwardedFor": {"numTrustedHops": 2}}}),
        svc=envoy_service(ranges=["198.51.100.0/24"]),
    )
    assert "can be forged" in only(diagnose(objs, expect_hops=1), "EGD308").message
    assert "sees a proxy" not in only(diagnose(objs, expect_hops=1), "EGD308").message
    assert "see a proxy instead of the client" in only(diagnose(objs, expect_hops=3), "EGD308").message
    assert "EGD308" not in codes(diagnose(objs, expect_hops=2))
    assert "EGD308" not in codes(diagnose(objs))


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        ({**DIRECT, **XFF1}, "enables PROXY protocol and also trusts X-Forwarded-For"),
        ({"clientIPDetection": {"xForwardedFor": {"trustedCIDRs": ["198.51.100.0/24"]}}}, "trustedCIDRs"),
        ({"clientIPDetection": {"customHeader": {"name": "X-Real-IP"}}}, "header X-Real-IP"),
    ],
)
def test_309_settings_outside_the_two_modes(spec: dict[str, Any], text: str) -> None:
    svc = envoy_service({PP: "v2"} if "proxyProtocol" in spec else {}, ranges=["198.51.100.0/24"])
    assert text in only(diagnose(setup(ctp(spec), svc=svc)), "EGD309").message


# -- EGD310 / EGD311 / EGD312 / EGD313 -----------------------------------------------------------------------


@pytest.mark.parametrize(("value", "reported"), [("true", True), ("v1", True), ("v2", False)])
def test_310_proxy_v1(value: str, reported: bool) -> None:
    d = diagnose(setup(ctp(DIRECT), svc=envoy_service({PP: value})))
    assert ("EGD310" in codes(d)) is reported
    assert ("EGD314" in codes(d)) is reported


@pytest.mark.parametrize(("value", "reported"), [("true", True), ("false", False)])
def test_311_http_load_balancer(value: str, reported: bool) -> None:
    svc = envoy_service({"loadbalancer.openstack.org/x-forwarded-for": value}, ranges=["198.51.100.0/24"])
    assert ("EGD311" in codes(diagnose(setup(ctp(XFF1), svc=svc)))) is reported


def test_312_missing_service_reports_on_the_gateway() -> None:
    d = diagnose([gateway(), route(), ctp(DIRECT)])
    f = only(d, "EGD312")
    assert f.subject is not None and f.subject.kind == "Gateway" and "was not found" in f.message


@pytest.mark.parametrize(
    ("svc", "text"),
    [
        (envoy_service({PP: "v2"}, svc_type="ClusterIP"), "is of type ClusterIP"),
        (envoy_service({PP: "v2"}, ingress=False), "no address in status.loadBalancer.ingress"),
    ],
)
def test_312_service_problems(svc: dict[str, Any], text: str) -> None:
    assert text in only(diagnose(setup(ctp(DIRECT), svc=svc)), "EGD312").message


def test_312_found_by_labels_in_gateway_namespace_deploy_mode() -> None:
    svc = envoy_service({PP: "v2"}, name="shared", ns="gateway")
    assert codes(diagnose(setup(ctp(DIRECT), svc=svc))) == []


def test_forbidden_envoy_service_skips_the_checks_instead_of_guessing() -> None:
    forbidden = AccessProblem("EnvoyService", "forbidden", "list", "services", "envoy-gateway-system", "no")
    d = diagnose([gateway(), route(), ctp(DIRECT)], problems=[forbidden])
    assert codes(d) == []
    for check_id in ("envoy-service", "lb-proxy-agreement", "lb-annotations", "xff-open-lb", "lb-recreation"):
        assert check_id in d.skipped
    assert "EGD002" in [f.code for f in d.findings]


@pytest.mark.parametrize(
    ("ranges", "annotation", "reported"),
    [
        ((), None, True),
        (("0.0.0.0/0",), None, True),
        (("198.51.100.0/24",), None, False),
        ((), "198.51.100.0/24, 203.0.113.0/24", False),
    ],
)
def test_313_open_load_balancer_in_xff_mode(
    ranges: tuple[str, ...], annotation: str | None, reported: bool
) -> None:
    svc = envoy_service(ranges=ranges)
    if annotation:
        svc["metadata"]["annotations"]["service.beta.kubernetes.io/load-balancer-source-ranges"] = annotation
    assert ("EGD313" in codes(diagnose(setup(ctp(XFF1), svc=svc)))) is reported


def test_313_not_in_direct_mode() -> None:
    assert "EGD313" not in codes(diagnose(setup(ctp(DIRECT))))


# -- EGD315 --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "annotation", "expect", "reported"),
    [
        (DIRECT, "v2", "xff", True),
        (XFF1, None, "direct", True),
        (DIRECT, "v2", "direct", False),
        (XFF1, None, "xff", False),
        (DIRECT, None, "xff", False),  # mixed: EGD304 says it, with the XFF fix
    ],
)
def test_315_expected_mode(spec: dict[str, Any], annotation: str | None, expect: str, reported: bool) -> None:
    svc = envoy_service({PP: annotation} if annotation else {}, ranges=["198.51.100.0/24"])
    d = diagnose(setup(ctp(spec), svc=svc), expect_mode=expect)
    assert ("EGD315" in codes(d)) is reported
    if reported:
        assert "EGD314" in codes(d)


# -- scoping -------------------------------------------------------------------------------------------------


def test_listener_findings_reach_only_the_namespaces_routed_through_that_listener() -> None:
    listeners = (("a", 8080, "HTTP", "a.example.com"), ("b", 8081, "HTTP", "b.example.com"))
    objs = [
        gateway(listeners),
        route(hostnames=["a.example.com"]),
        route(name="shop", ns="team-b", hostnames=["b.example.com"]),
        envoy_service({PP: "v2"}),
        ctp(DIRECT),
        ctp({"timeout": {}}, name="b-timeouts", section="b"),
    ]
    assert "EGD305" in codes(diagnose(objs, ns="team-b"))
    assert "EGD305" not in codes(diagnose(objs, ns="team-a"))
