"""The shared helpers of the client-IP checks (egdoctor/checks/clientip.py): which Gateways are Envoy
Gateway's, how listener issues become findings, which namespaces a snapshot covers completely, and the
policies EGD301 points at when no policy configures a listener."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from egdoctor.checks.clientip import (
    Issue,
    _misplaced_ctps,
    _rejected_ctps,
    annotation_codes,
    ctp_targets,
    eg_gateways,
    emit,
    gateway_namespaces,
    obj_text,
    target_text,
)
from egdoctor.checks.registry import CheckContext, Options
from egdoctor.findings.model import GatewayRef, ObjectRef, Severity
from egdoctor.model.topology import build_topology
from egdoctor.snapshot.assemble import assemble, derive_envoy_services
from egdoctor.snapshot.kinds import KINDS, spec_for_object
from egdoctor.snapshot.model import Source
from egdoctor.snapshot.objects import Obj
from tests.checks.test_clientip import (
    DIRECT,
    PP,
    XFF1,
    ancestors,
    condition,
    ctp,
    envoy_service,
    gateway,
    route,
    setup,
)
from tests.checks.test_clientip import diagnose as diagnose_in

KEY = ("gateway", "shared")
GW = "Gateway gateway/shared"


def context(
    objs: Iterable[Mapping[str, Any]], namespaces: frozenset[str] | None = None, mode: str = "files"
) -> CheckContext:
    raw: dict[str, list[Mapping[str, Any]]] = {name: [] for name in KINDS}
    for obj in objs:
        spec = spec_for_object(str(obj["apiVersion"]), str(obj["kind"]))
        assert spec is not None, obj["kind"]
        raw[spec.name].append(obj)
    raw["EnvoyService"] = list(derive_envoy_services(raw))
    snapshot = assemble(raw, namespaces, Source(mode))
    return CheckContext(snapshot, build_topology(snapshot), Options())


def gateway_class(name: str, controller: str) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": {"name": name},
        "spec": {"controllerName": controller},
    }


# -- texts ---------------------------------------------------------------------------------------------------


def test_target_text() -> None:
    assert target_text(KEY, None) == GW
    assert target_text(KEY, []) == GW
    assert target_text(KEY, ["http"]) == f"listener http of {GW}"
    assert target_text(KEY, ["http", "https"]) == f"listeners http, https of {GW}"


def test_obj_text() -> None:
    assert obj_text(Obj({"kind": "GatewayClass", "metadata": {"name": "eg"}})) == "eg"
    assert obj_text(Obj({"kind": "Gateway", "metadata": {"name": "shared", "namespace": "gateway"}})) == (
        "gateway/shared"
    )


# -- which Gateways, which namespaces ------------------------------------------------------------------------


def test_eg_gateways_are_those_of_the_option_class_and_of_classes_envoy_gateway_controls() -> None:
    custom = gateway(name="custom")
    custom["spec"]["gatewayClassName"] = "edge"
    foreign = gateway(name="foreign")
    foreign["spec"]["gatewayClassName"] = "nginx"
    objs = [
        gateway(),
        custom,
        foreign,
        gateway_class("edge", "gateway.envoyproxy.io/gatewayclass-controller"),
        gateway_class("nginx", "example.com/nginx"),
    ]
    assert sorted(gv.key for gv in eg_gateways(context(objs))) == [
        ("gateway", "custom"),
        ("gateway", "shared"),
    ]


def test_gateway_namespaces_from_a_cluster_read() -> None:
    """The asked namespaces plus those of the Gateways their routes attach to."""
    objs = [gateway(), route(), route(name="lost", ns="team-a", gw=("edge", "missing"))]
    assert gateway_namespaces(context(objs, frozenset({"team-a"}), "cluster")) == {
        "team-a",
        "gateway",
        "edge",
    }
    assert gateway_namespaces(context([gateway()], frozenset({"team-b"}), "cluster")) == {"team-b"}
    assert gateway_namespaces(context(objs, None, "cluster")) is None
    assert gateway_namespaces(context(objs, frozenset({"team-a"}), "files")) is None


def test_a_policy_for_a_gateway_outside_the_read_namespaces_is_not_judged() -> None:
    """Read with -n team-a: a policy in team-b naming a Gateway there proves nothing (team-b's
    Gateways were not read), one in team-a naming a missing Gateway does."""
    ctx = context(
        [
            gateway(),
            route(),
            ctp(DIRECT, ns="team-b", target="edge"),
            ctp(DIRECT, ns="team-a", target="edge"),
        ],
        frozenset({"team-a"}),
        "cluster",
    )
    assert [str(f.subject) for f in ctp_targets(ctx)] == ["ClientTrafficPolicy team-a/client-ip"]


# -- emit ----------------------------------------------------------------------------------------------------

SUBJECT = ObjectRef("ClientTrafficPolicy", "gateway", "client-ip")


def issue(group: str, report: bool = True, severity: Severity | None = None, problem: str = "") -> Issue:
    params = {"ctp": "ClientTrafficPolicy gateway/client-ip", "problem": problem or group, "fix": "fix it"}
    return Issue("EGD309", (group,), SUBJECT, params, {"clientIP": group}, severity, report)


def _emitted(items: list[tuple[str, Issue]]) -> list[tuple[GatewayRef | None, Severity, str, Any]]:
    gv = context([gateway()]).topology.gateways[KEY]
    return [(f.gateway, f.severity, f.message, f.evidence) for f in emit(gv, items)]


def test_emit_once_on_the_gateway_when_every_listener_shares_the_issue() -> None:
    items = [("http", issue("a", severity=Severity.ERROR)), ("https", issue("a", problem="other words"))]
    assert _emitted(items) == [
        (
            GatewayRef(*KEY),
            Severity.ERROR,
            f"ClientTrafficPolicy gateway/client-ip on {GW}: a",
            {"clientIP": "a", "listeners": ["http", "https"]},
        )
    ]


def test_emit_per_listener_when_only_some_listeners_share_it() -> None:
    items = [
        ("https", issue("a", severity=Severity.ERROR)),
        ("http", issue("b")),
        ("https", issue("b")),
        ("http", issue("c")),
    ]
    assert _emitted(items) == [
        (
            GatewayRef(*KEY, "https"),
            Severity.ERROR,
            f"ClientTrafficPolicy gateway/client-ip on listener https of {GW}: a",
            {"clientIP": "a", "listeners": ["https"]},
        ),
        (
            GatewayRef(*KEY),
            Severity.WARNING,
            f"ClientTrafficPolicy gateway/client-ip on {GW}: b",
            {
                "clientIP": "b",
                "listeners": ["http", "https"],
            },
        ),
        (
            GatewayRef(*KEY, "http"),
            Severity.WARNING,
            f"ClientTrafficPolicy gateway/client-ip on listener http of {GW}: c",
            {"clientIP": "c", "listeners": ["http"]},
        ),
    ]


def test_emit_counts_unreported_listeners_but_does_not_show_them() -> None:
    items = [
        ("http", issue("hidden", report=False)),
        ("http", issue("a", report=False)),
        ("https", issue("a")),
        ("https", issue("b")),
    ]
    assert [(ref, message) for ref, _, message, _ in _emitted(items)] == [
        (GatewayRef(*KEY), f"ClientTrafficPolicy gateway/client-ip on {GW}: a"),
        (GatewayRef(*KEY, "https"), f"ClientTrafficPolicy gateway/client-ip on listener https of {GW}: b"),
    ]


# -- EGD301's pointers: rejected and misplaced policies ------------------------------------------------------

NO_POLICY = (
    "no ClientTrafficPolicy configures client-IP handling for {target}{detail}: backends, logs and rate "
    "limits see the load balancer's internal address"
)


def _egd301(objs: list[Any]) -> list[tuple[str | None, str, str]]:
    d = diagnose_in(objs, ns=None)
    return [
        (f.gateway.listener if f.gateway else None, f.message, f.hint)
        for f in d.findings
        if f.code == "EGD301"
    ]


def test_rejected_policies_of_a_gateway() -> None:
    conflicted = condition("Accepted", "False", "Conflicted", "taken")
    objs = [
        gateway(),
        gateway(name="other"),
        ctp(XFF1, name="a-elsewhere", target="other", status=ancestors(conflicted, gw="other")),
        ctp(XFF1, name="b-overridden", status=ancestors(condition("Overridden", "True", "Overridden"))),
        ctp(XFF1, name="c-accepted"),
        ctp(
            XFF1, name="d-conflicted", status=ancestors(condition("Accepted", "True", "Accepted"), conflicted)
        ),
        ctp(XFF1, name="e-conflicted", status=ancestors(conflicted)),
    ]
    ctx = context(objs)
    assert _rejected_ctps(ctx, KEY) == ["gateway/d-conflicted", "gateway/e-conflicted"]
    assert _rejected_ctps(ctx, ("gateway", "other")) == ["gateway/a-elsewhere"]
    assert _rejected_ctps(ctx, ("gateway", "none")) == []


def test_301_points_at_a_policy_that_is_not_accepted() -> None:
    conflicted = ctp(DIRECT, status=ancestors(condition("Accepted", "False", "Conflicted", "taken")))
    detail = " (ClientTrafficPolicy gateway/client-ip targets it but is not Accepted, see EGD303)"
    assert _egd301(setup(conflicted, svc=envoy_service())) == [
        (
            None,
            NO_POLICY.format(target=GW, detail=detail),
            "make ClientTrafficPolicy gateway/client-ip Accepted (see EGD303)",
        )
    ]


def test_misplaced_policies_of_a_gateway() -> None:
    objs = [
        gateway(),
        ctp(DIRECT, name="proper"),
        ctp(DIRECT, name="moved", ns="team-a"),
        ctp(DIRECT, name="same-name", ns="shared"),
        ctp(DIRECT, name="other-name", ns="team-a", target="edge"),
    ]
    ctx = context(objs)
    assert _misplaced_ctps(ctx, KEY) == ["shared/same-name", "team-a/moved"]
    assert _misplaced_ctps(ctx, ("gateway", "edge")) == ["team-a/other-name"]


def test_301_points_at_a_policy_in_the_wrong_namespace() -> None:
    detail = " (ClientTrafficPolicy team-a/client-ip names it from another namespace, see EGD302)"
    assert _egd301(setup(ctp(DIRECT, ns="team-a", status={}), svc=envoy_service())) == [
        (
            None,
            NO_POLICY.format(target=GW, detail=detail),
            "move ClientTrafficPolicy team-a/client-ip to namespace gateway (see EGD302)",
        )
    ]


def test_301_once_on_the_gateway_when_only_one_listener_has_routes() -> None:
    hint = (
        "create a ClientTrafficPolicy in namespace gateway targeting Gateway shared: direct mode "
        f'`proxyProtocol: {{optional: false}}` with {PP}: "v2" on the Envoy Service, or, behind a CDN/WAF, '
        "XFF mode `clientIPDetection.xForwardedFor.numTrustedHops: N`"
    )
    objs = [gateway(), route(section="https"), envoy_service()]
    assert _egd301(objs) == [(None, NO_POLICY.format(target=GW, detail=""), hint)]


def test_301_per_listener_after_a_listener_without_routes() -> None:
    quiet = ctp({"timeout": {}}, section="https")
    detail = (
        " (ClientTrafficPolicy gateway/client-ip applies but sets neither proxyProtocol nor "
        "clientIPDetection)"
    )
    objs = [gateway(), route(section="https"), envoy_service(), quiet]
    assert _egd301(objs) == [
        (
            "https",
            NO_POLICY.format(target=f"listener https of {GW}", detail=detail),
            "add to ClientTrafficPolicy gateway/client-ip: direct mode `proxyProtocol: {optional: false}` "
            f'with {PP}: "v2" on the Envoy Service, or, behind a CDN/WAF, XFF mode '
            "`clientIPDetection.xForwardedFor.numTrustedHops: N`",
        )
    ]


# -- the Envoy Service ---------------------------------------------------------------------------------------


def test_source_ranges_from_the_annotation_are_comma_separated() -> None:
    svc = envoy_service()
    svc["metadata"]["annotations"]["service.beta.kubernetes.io/load-balancer-source-ranges"] = (
        "0.0.0.0/0,198.51.100.0/24"
    )
    d = diagnose_in(setup(ctp(XFF1), svc=svc), ns=None)
    found = [f for f in d.findings if f.code == "EGD313"]
    assert [f.evidence["loadBalancerSourceRanges"] for f in found] == [["0.0.0.0/0", "198.51.100.0/24"]]
    assert "(loadBalancerSourceRanges include 0.0.0.0/0)" in found[0].message


def test_annotation_codes_of_a_single_listener_gateway() -> None:
    listeners = [("http", 80, "HTTP", None)]
    v1 = [gateway(listeners), envoy_service({PP: "v1", "loadbalancer.openstack.org/x-forwarded-for": "true"})]
    assert annotation_codes(context(v1).topology.gateways[KEY]) == ["EGD310", "EGD311"]
    v2 = [gateway(listeners), envoy_service({PP: "v2", "loadbalancer.openstack.org/x-forwarded-for": "yes"})]
    assert annotation_codes(context(v2).topology.gateways[KEY]) == []
    assert annotation_codes(context([gateway(listeners)]).topology.gateways[KEY]) == []


def test_306_one_finding_per_policy() -> None:
    optional = {"proxyProtocol": {"optional": True}}
    d = diagnose_in(setup(ctp(optional), ctp(optional, name="http-only", section="http")), ns=None)
    assert sorted(
        (f.gateway.listener if f.gateway else None, str(f.subject)) for f in d.findings if f.code == "EGD306"
    ) == [
        ("http", "ClientTrafficPolicy gateway/http-only"),
        ("https", "ClientTrafficPolicy gateway/client-ip"),
    ]
