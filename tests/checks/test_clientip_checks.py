"""The exact findings of the client-IP checks that build their text inline: EGD302 (policy targets),
EGD312 and EGD108 (the Envoy Service), EGD313 (XFF behind an open load balancer), EGD314 (load balancer
recreation), EGD308 (numTrustedHops) and EGD307 (enableProxyProtocol). Every diagnosis covers all
namespaces, so no finding is hidden by a namespace scope."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from egdoctor.checks.clientip import ctp_targets
from egdoctor.checks.engine import Diagnosis
from egdoctor.checks.registry import CheckContext, Options
from egdoctor.findings.model import GatewayRef
from egdoctor.model.topology import build_topology
from egdoctor.snapshot.assemble import assemble
from egdoctor.snapshot.kinds import KINDS, spec_for_object
from egdoctor.snapshot.model import Source
from tests.checks.test_clientip import (
    ACCEPTED,
    DIRECT,
    EG,
    GW_GROUP,
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
from tests.checks.test_deploy_modes import class_service, controller, envoy_proxy, gateway_class

SVC = "envoy-gateway-system/envoy-gateway-shared-b2034d54"
GW = "Gateway gateway/shared"
RANGES = ["198.51.100.0/24"]

# One finding as (severity name, subject, gateway, message, hint, evidence).
Seen = tuple[str, str, GatewayRef | None, str, str, Any]


def seen(objs: list[Any], code: str, **options: Any) -> list[Seen]:
    d: Diagnosis = diagnose_in(objs, ns=None, **options)
    return [
        (f.severity.name, str(f.subject), f.gateway, f.message, f.hint, f.evidence)
        for f in d.findings
        if f.code == code
    ]


def ref(name: str, **extra: Any) -> dict[str, Any]:
    return {"group": GW_GROUP, "kind": "Gateway", "name": name, **extra}


# -- EGD302 --------------------------------------------------------------------------------------------------

NO_EFFECT = ": it has no effect"


def test_302_gateway_in_another_namespace() -> None:
    assert seen(setup(ctp(DIRECT, ns="team-a", status={})), "EGD302") == [
        (
            "ERROR",
            "ClientTrafficPolicy team-a/client-ip",
            GatewayRef("gateway", "shared"),
            "ClientTrafficPolicy team-a/client-ip targets Gateway shared in its own namespace team-a, but "
            f"Gateway shared lives in namespace gateway{NO_EFFECT}",
            "policy target references are local: create the ClientTrafficPolicy in namespace gateway next to "
            "the Gateway, then delete team-a/client-ip",
            {"targetRef": ref("shared")},
        )
    ]


def test_302_gateway_in_two_other_namespaces_keeps_the_section() -> None:
    policy = ctp(DIRECT, ns="team-a", section="http", status={})
    assert [(g, m, h) for _, _, g, m, h, _ in seen(setup(policy, gateway(ns="edge")), "EGD302")] == [
        (
            None,
            "ClientTrafficPolicy team-a/client-ip targets Gateway shared in its own namespace team-a, but "
            f"Gateway shared lives in namespace edge or gateway{NO_EFFECT}",
            "policy target references are local: create the ClientTrafficPolicy in namespace edge or gateway "
            "next to the Gateway, then delete team-a/client-ip",
        )
    ]
    one = seen(setup(policy), "EGD302")
    assert [g for _, _, g, _, _, _ in one] == [GatewayRef("gateway", "shared", "http")]


def test_302_gateway_that_does_not_exist() -> None:
    objs = setup(gateway(name="b"), ctp(DIRECT, target="shraed", status={}))
    assert seen(objs, "EGD302") == [
        (
            "ERROR",
            "ClientTrafficPolicy gateway/client-ip",
            None,
            "ClientTrafficPolicy gateway/client-ip targetRefs[0] names Gateway gateway/shraed, which does "
            "not "
            f"exist{NO_EFFECT}",
            "correct targetRefs[0].name (Gateways in gateway: b, shared)",
            {"targetRef": ref("shraed")},
        )
    ]
    alone = seen(setup(ctp(DIRECT, ns="team-c", target="nope", status={})), "EGD302")
    assert [(g, m, h) for _, _, g, m, h, _ in alone] == [
        (
            None,
            f"ClientTrafficPolicy team-c/client-ip targetRefs[0] names Gateway team-c/nope, which does not "
            f"exist{NO_EFFECT}",
            "correct targetRefs[0].name; there is no Gateway in namespace team-c",
        )
    ]


def test_302_target_ref_and_the_refs_that_are_not_gateways() -> None:
    policy = ctp(DIRECT, status={})
    del policy["spec"]["targetRefs"]
    policy["spec"]["targetRef"] = ref("nope")
    assert [(g, m, h) for _, _, g, m, h, _ in seen(setup(policy), "EGD302")] == [
        (
            GatewayRef("gateway", "shared"),
            f"ClientTrafficPolicy gateway/client-ip targetRef names Gateway gateway/nope, which does not "
            f"exist{NO_EFFECT}",
            "correct targetRef.name (Gateways in gateway: shared)",
        )
    ]
    policy = ctp(DIRECT, status={})
    policy["spec"]["targetRefs"] = [
        {"group": GW_GROUP, "kind": "HTTPRoute", "name": "web"},
        {"group": "example.com", "kind": "Gateway", "name": "web"},
        {"name": "gone"},
        ref("shared", sectionName="nope"),
    ]
    assert seen(setup(policy), "EGD302") == [
        (
            "ERROR",
            "ClientTrafficPolicy gateway/client-ip",
            GatewayRef("gateway", "shared"),
            f"ClientTrafficPolicy gateway/client-ip targetRefs[2] names Gateway gateway/gone, which does not "
            f"exist{NO_EFFECT}",
            "correct targetRefs[2].name (Gateways in gateway: shared)",
            {"targetRef": {"name": "gone"}},
        ),
        (
            "ERROR",
            "ClientTrafficPolicy gateway/client-ip",
            GatewayRef("gateway", "shared"),
            "ClientTrafficPolicy gateway/client-ip targetRefs[3] names listener nope of Gateway "
            "gateway/shared, "
            f"which has no listener of that name{NO_EFFECT}",
            "set sectionName to one of http, https, or drop sectionName to target the whole Gateway",
            {"targetRef": ref("shared", sectionName="nope"), "listeners": ["http", "https"]},
        ),
    ]


def test_302_target_selectors_that_match_nothing() -> None:
    expressions = [{"key": "tier", "operator": "In", "values": ["edge"]}]
    selector = {"group": GW_GROUP, "kind": "Gateway", "matchExpressions": expressions}
    policy = ctp(DIRECT, status={})
    policy["spec"] = {
        "targetRefs": [],
        "targetSelectors": ["junk", {"kind": "HTTPRoute"}, selector],
        **DIRECT,
    }
    fix = "put those labels on the Gateway object itself, or use targetRefs with the Gateway's name"
    assert seen(setup(policy), "EGD302") == [
        (
            "ERROR",
            "ClientTrafficPolicy gateway/client-ip",
            GatewayRef("gateway", "shared"),
            "ClientTrafficPolicy gateway/client-ip targetSelectors[2] matches no Gateway in namespace "
            "gateway "
            f"(selector {expressions}){NO_EFFECT}",
            fix,
            {"targetSelector": selector},
        )
    ]
    labels = {"kind": "Gateway", "matchLabels": {"tier": "edge"}}
    policy = ctp(DIRECT, ns="team-a", status={})
    policy["spec"] = {"targetRefs": [], "targetSelectors": [labels], **DIRECT}
    assert [(g, m) for _, _, g, m, _, _ in seen(setup(policy), "EGD302")] == [
        (
            None,
            "ClientTrafficPolicy team-a/client-ip targetSelectors[0] matches no Gateway in namespace team-a "
            f"(selector {{'tier': 'edge'}}){NO_EFFECT}",
        )
    ]
    labelled = gateway(name="edge")
    labelled["metadata"]["labels"] = {"tier": "edge"}
    everything = ctp(DIRECT, status={})
    everything["spec"] = {"targetRefs": [], "targetSelectors": [labels, {"kind": "Gateway"}], **DIRECT}
    assert seen(setup(everything, labelled), "EGD302") == []


# -- EGD312 / EGD108 -----------------------------------------------------------------------------------------

ACCEPT_FIX = (
    "Envoy Gateway creates it for every Gateway it accepts: check that the Gateway is Accepted (EGD102), "
    "the GatewayClass too (EGD101), and the controller's logs"
)


def test_312_service_not_found() -> None:
    assert seen([gateway(), route(), ctp(DIRECT)], "EGD312") == [
        (
            "ERROR",
            GW,
            GatewayRef("gateway", "shared"),
            f"the Envoy Service of {GW} was not found: no Service carries the labels "
            "gateway.envoyproxy.io/owning-gateway-name=shared and "
            "gateway.envoyproxy.io/owning-gateway-namespace"
            "=gateway (one Envoy per Gateway, in envoy-gateway-system or, in GatewayNamespace deploy mode, "
            "in "
            "gateway), nor gateway.envoyproxy.io/owning-gatewayclass=eg (mergeGateways)",
            ACCEPT_FIX,
            {"deployMode": "unknown"},
        )
    ]
    merged = [gateway_class(), envoy_proxy(True), gateway(), route(), ctp(DIRECT)]
    assert seen(merged, "EGD312") == [
        (
            "ERROR",
            GW,
            GatewayRef("gateway", "shared"),
            f"the Envoy Service of {GW} was not found: EnvoyProxy envoy-gateway-system/merged-proxy sets "
            "mergeGateways, so one Envoy serves GatewayClass eg, but no Service in envoy-gateway-system "
            "carries "
            "the label gateway.envoyproxy.io/owning-gatewayclass=eg",
            ACCEPT_FIX,
            {"deployMode": "mergeGateways"},
        )
    ]


def test_312_service_type_and_address() -> None:
    def of_type(svc_type: str) -> list[Seen]:
        return [
            (
                "ERROR",
                f"Service {SVC}",
                GatewayRef("gateway", "shared"),
                f"the Envoy Service of {GW} ({SVC}) is of type {svc_type}, not LoadBalancer: Octavia creates "
                "no "
                "load balancer and the Gateway gets no public address",
                "remove the envoyService.type override from the EnvoyProxy (the default is LoadBalancer)",
                {"type": svc_type},
            )
        ]

    node_port = envoy_service({PP: "v2"}, svc_type="NodePort")
    assert seen(setup(ctp(DIRECT), svc=node_port), "EGD312") == of_type("NodePort")
    untyped = envoy_service({PP: "v2"})
    del untyped["spec"]["type"]
    assert seen(setup(ctp(DIRECT), svc=untyped), "EGD312") == of_type("ClusterIP")
    no_address: list[Seen] = [
        (
            "ERROR",
            f"Service {SVC}",
            GatewayRef("gateway", "shared"),
            f"the Envoy Service of {GW} ({SVC}) has no address in status.loadBalancer.ingress: Octavia has "
            "not "
            "finished, or failed, creating the load balancer",
            "`kubectl describe service -n envoy-gateway-system envoy-gateway-shared-b2034d54` shows the "
            "cloud "
            "controller's events (quota, flavor, subnet or floating-IP errors)",
            {},
        )
    ]
    junk = envoy_service({PP: "v2"})
    junk["status"]["loadBalancer"]["ingress"] = ["junk", {"ip": ""}, {"hostname": ""}]
    assert seen(setup(ctp(DIRECT), svc=junk), "EGD312") == no_address
    by_name = envoy_service({PP: "v2"})
    by_name["status"]["loadBalancer"]["ingress"] = [{"hostname": "lb.example.com"}]
    assert seen(setup(ctp(DIRECT), svc=by_name), "EGD312") == []


MERGED_BUT_ALONE: Seen = (
    "WARNING",
    f"Service {SVC}",
    GatewayRef("gateway", "shared"),
    "EnvoyProxy envoy-gateway-system/merged-proxy of GatewayClass eg sets mergeGateways: true, but "
    "the "
    f"Envoy Service of {GW} is {SVC}, labelled for this Gateway alone "
    "(gateway.envoyproxy.io/owning-gateway-name): Envoy Gateway has not (yet) deployed Envoy the way "
    "the "
    "EnvoyProxy asks",
    "Envoy Gateway moves every Gateway of the class onto one Envoy Service labelled "
    "gateway.envoyproxy.io/owning-gatewayclass=eg: check GatewayClass eg is Accepted (mergeGateways "
    "and "
    "the GatewayNamespace deploy mode exclude each other) and the controller's logs; the move gives "
    "the "
    "class a new load balancer and a new address (see EGD314)",
    {"deployMode": "default", "mergeGateways": True},
)


def test_108_service_labelled_against_merge_gateways() -> None:
    per_gateway = [
        gateway_class(),
        envoy_proxy(True),
        gateway(),
        route(),
        envoy_service({PP: "v2"}),
        ctp(DIRECT),
    ]
    assert seen(per_gateway, "EGD108") == [MERGED_BUT_ALONE]
    shared = [gateway_class(), envoy_proxy(False), gateway(), route(), class_service(), ctp(DIRECT)]
    assert seen(shared, "EGD108") == [
        (
            "WARNING",
            "Service envoy-gateway-system/envoy-eg-9a8b7c6d",
            GatewayRef("gateway", "shared"),
            "EnvoyProxy envoy-gateway-system/merged-proxy of GatewayClass eg sets mergeGateways: false, but "
            "the "
            f"Envoy Service of {GW} is envoy-gateway-system/envoy-eg-9a8b7c6d, the GatewayClass's shared one "
            "(gateway.envoyproxy.io/owning-gatewayclass=eg): Envoy Gateway has not (yet) deployed Envoy the "
            "way "
            "the EnvoyProxy asks",
            "Envoy Gateway gives each Gateway its own Envoy Service once mergeGateways is off: check the "
            "controller's logs; each Gateway gets a new load balancer and a new address",
            {"deployMode": "mergeGateways", "mergeGateways": False},
        )
    ]


# -- EGD313 / EGD314 / EGD310 / EGD311 -----------------------------------------------------------------------

RANGES_FIX = (
    "limit the load balancer to your CDN/WAF egress ranges with spec.provider.kubernetes.envoyService."
    f"loadBalancerSourceRanges in an EnvoyProxy, referenced from {GW} as spec.infrastructure.parametersRef "
    "(or from its GatewayClass as spec.parametersRef); editing the Service itself is undone by Envoy Gateway"
)


def _open(trusts: str, why: str) -> str:
    return (
        f"{GW} trusts {trusts} but the load balancer Service {SVC} accepts connections from anywhere "
        f"({why}): "
        "anyone can bypass the edge proxy and forge their IP"
    )


def test_313_what_the_listeners_trust_and_why_the_load_balancer_is_open() -> None:
    assert seen(setup(ctp(XFF1), svc=envoy_service()), "EGD313") == [
        (
            "ERROR",
            f"Service {SVC}",
            GatewayRef("gateway", "shared"),
            _open("X-Forwarded-For (numTrustedHops 1)", "no loadBalancerSourceRanges"),
            RANGES_FIX,
            {
                "clientIP": "CTP numTrustedHops 1, LB sends no PROXY header",
                "loadBalancerSourceRanges": [],
                "listeners": ["http", "https"],
            },
        )
    ]
    cidrs = ctp({"clientIPDetection": {"xForwardedFor": {"trustedCIDRs": ["10.0.0.0/8"]}}})
    wide = envoy_service(ranges=["::/0", "0.0.0.0/0", "10.0.0.0/8"])
    found = seen(setup(cidrs, svc=wide), "EGD313")
    assert [m for _, _, _, m, _, _ in found] == [
        _open("X-Forwarded-For (trustedCIDRs)", "loadBalancerSourceRanges include 0.0.0.0/0, ::/0")
    ]
    header = ctp({"clientIPDetection": {"customHeader": {"name": "X-Real-IP"}}})
    found = seen(setup(header, svc=envoy_service()), "EGD313")
    assert [m for _, _, _, m, _, _ in found] == [_open("header X-Real-IP", "no loadBalancerSourceRanges")]


def test_314_with_keep_floatingip_and_a_pinned_address() -> None:
    kept = envoy_service({PP: "true", "loadbalancer.openstack.org/keep-floatingip": "true"})
    recreates = (
        f"the fix for EGD310 changes the annotations of {SVC}, which recreates the Octavia load balancer"
    )
    assert seen(setup(ctp(DIRECT), svc=kept), "EGD314") == [
        (
            "INFO",
            f"Service {SVC}",
            GatewayRef("gateway", "shared"),
            f"{recreates}; keep-floatingip is set, so the floating IP 203.0.113.20 is kept but not "
            "reattached",
            "before the change, pin the address with EnvoyProxy envoyService.loadBalancerIP: 203.0.113.20 so "
            "the new load balancer takes it over; otherwise update DNS for every hostname on the Gateway",
            {"codes": ["EGD310"], "addresses": ["203.0.113.20"]},
        )
    ]
    kept["spec"]["loadBalancerIP"] = "203.0.113.20"
    found = seen(setup(ctp(DIRECT), svc=kept), "EGD314")
    assert [(m, h) for _, _, _, m, h, _ in found] == [
        (
            f"{recreates}; keep-floatingip is set and spec.loadBalancerIP pins 203.0.113.20, so the address "
            "stays",
            "expect a short outage while Octavia rebuilds the load balancer; DNS can stay as it is",
        )
    ]
    pinned_only = envoy_service({PP: "true", "loadbalancer.openstack.org/keep-floatingip": "yes"})
    pinned_only["spec"]["loadBalancerIP"] = "203.0.113.20"
    found = seen(setup(ctp(DIRECT), svc=pinned_only), "EGD314")
    assert [m for _, _, _, m, _, _ in found] == [f"{recreates} with a new public IP (today 203.0.113.20)"]


def test_314_lists_every_code_whose_fix_touches_the_annotations() -> None:
    svc = envoy_service({PP: "v1", "loadbalancer.openstack.org/x-forwarded-for": "true"}, ingress=False)
    gw = gateway()
    gw["status"] = {}
    found = seen([gw, route(), svc, ctp(DIRECT)], "EGD314", expect_mode="xff")
    assert found == [
        (
            "INFO",
            f"Service {SVC}",
            GatewayRef("gateway", "shared"),
            f"the fix for EGD310, EGD311, EGD315 changes the annotations of {SVC}, which recreates the "
            "Octavia "
            "load balancer with a new public IP (today (none yet))",
            'before the change, set loadbalancer.openstack.org/keep-floatingip: "true" and pin the address '
            "with "
            "EnvoyProxy envoyService.loadBalancerIP: (none yet), or plan a DNS update for every hostname on "
            "the "
            "Gateway",
            {"codes": ["EGD310", "EGD311", "EGD315"], "addresses": []},
        )
    ]
    annotations = [(c, s, o, g, v) for c in ("EGD310", "EGD311") for s, o, g, v, _, _ in seen([gw, svc], c)]
    assert [(c, s, o, g) for c, s, o, g, _ in annotations] == [
        ("EGD310", "WARNING", f"Service {SVC}", GatewayRef("gateway", "shared")),
        ("EGD311", "ERROR", f"Service {SVC}", GatewayRef("gateway", "shared")),
    ]
    assert [v for _, _, _, _, v in annotations] == [
        f'the load balancer Service {SVC} asks Octavia for PROXY protocol v1 ({PP}="v1") where v2 is '
        "documented (Envoy parses both, so traffic works today)",
        f'the load balancer Service {SVC} carries loadbalancer.openstack.org/x-forwarded-for="true", which '
        "makes Octavia an HTTP load balancer and breaks the TCP mode both client-IP modes need",
    ]


# -- EGD308 / EGD307 -----------------------------------------------------------------------------------------


def _hops(written: int, **kwargs: Any) -> dict[str, Any]:
    return ctp({"clientIPDetection": {"xForwardedFor": {"numTrustedHops": written}}}, **kwargs)


def test_308_too_many_and_too_few_hops() -> None:
    high = seen(setup(_hops(3), svc=envoy_service(ranges=RANGES)), "EGD308", expect_hops=1)
    assert high == [
        (
            "ERROR",
            "ClientTrafficPolicy gateway/client-ip",
            GatewayRef("gateway", "shared"),
            f"numTrustedHops is 3 on {GW} but the expected number of trusted proxies is 1 (--expect-hops): "
            "Envoy "
            "takes the address 3 from the right of X-Forwarded-For, 2 beyond the entries your proxies "
            "append, "
            "which the client writes itself: client IPs can be forged",
            "set clientIPDetection.xForwardedFor.numTrustedHops: 1 in ClientTrafficPolicy gateway/client-ip",
            {"clientIP": "CTP numTrustedHops 3, LB sends no PROXY header", "listeners": ["http", "https"]},
        )
    ]
    low = seen(setup(_hops(1), svc=envoy_service(ranges=RANGES)), "EGD308", expect_hops=2)
    assert [(m, h) for _, _, _, m, h, _ in low] == [
        (
            f"numTrustedHops is 1 on {GW} but the expected number of trusted proxies is 2 (--expect-hops): "
            "Envoy "
            "takes the address 1 from the right of X-Forwarded-For, one your own proxies appended: logs, "
            "rate "
            "limits and IP rules see a proxy instead of the client",
            "set clientIPDetection.xForwardedFor.numTrustedHops: 2 in ClientTrafficPolicy gateway/client-ip",
        )
    ]


def test_308_only_on_listeners_with_other_hops() -> None:
    objs = setup(_hops(1), _hops(2, name="two", section="http"), svc=envoy_service(ranges=RANGES))
    found = seen(objs, "EGD308", expect_hops=2)
    assert [(s, g) for _, s, g, _, _, _ in found] == [
        ("ClientTrafficPolicy gateway/client-ip", GatewayRef("gateway", "shared", "https"))
    ]


LEGACY_EFFECT = " (it turns on strict PROXY protocol, like proxyProtocol: {optional: false})"
LEGACY_FIX = "replace `enableProxyProtocol: true` with `proxyProtocol: {optional: false}`"


def test_307_enable_proxy_protocol() -> None:
    deprecated = "ClientTrafficPolicy gateway/client-ip uses the deprecated enableProxyProtocol"
    unknown = seen(setup(ctp({"enableProxyProtocol": True})), "EGD307")
    assert unknown == [
        (
            "WARNING",
            "ClientTrafficPolicy gateway/client-ip",
            GatewayRef("gateway", "shared"),
            deprecated + LEGACY_EFFECT,
            LEGACY_FIX + " (proxyProtocol needs Envoy Gateway v1.5 or later; check the release you run)",
            {"enableProxyProtocol": True},
        )
    ]
    known = seen(setup(ctp({"enableProxyProtocol": True}), controller("envoyproxy/gateway:v1.9.1")), "EGD307")
    assert [(m, h) for _, _, _, m, h, _ in known] == [(deprecated + LEGACY_EFFECT, LEGACY_FIX)]
    both = {"enableProxyProtocol": True, "proxyProtocol": {}}
    found = seen(setup(ctp(both), controller("envoyproxy/gateway:v1.4.1")), "EGD307")
    assert [(m, h) for _, _, _, m, h, _ in found] == [
        (
            f"{deprecated}; spec.proxyProtocol is also set and wins, so enableProxyProtocol is ignored",
            "delete enableProxyProtocol; proxyProtocol already says what Envoy does",
        )
    ]
    off = seen(setup(ctp({"enableProxyProtocol": False}, section="http")), "EGD307")
    assert [(g, m, h, e) for _, _, g, m, h, e in off] == [
        (
            GatewayRef("gateway", "shared", "http"),
            f"{deprecated} (set to False, it turns nothing on)",
            "delete enableProxyProtocol",
            {"enableProxyProtocol": False},
        )
    ]
    nowhere = seen(setup(ctp({"enableProxyProtocol": False}, target="gone", status={})), "EGD307")
    assert [g for _, _, g, _, _, _ in nowhere] == [None]


# -- EGD301 / EGD303 / EGD306 --------------------------------------------------------------------------------

NONE_301 = (
    "no ClientTrafficPolicy configures client-IP handling for Gateway gateway/shared{detail}: backends, logs "
    "and rate limits see the load balancer's internal address"
)
ACCEPTED_FALSE = {"type": "Accepted", "status": "False"}
CREATE = "create a ClientTrafficPolicy in namespace gateway targeting Gateway shared: "


def test_301_settings_follow_the_expected_mode() -> None:
    objs = [gateway(), route(), envoy_service()]
    direct = seen(objs, "EGD301", expect_mode="direct")
    assert direct == [
        (
            "ERROR",
            GW,
            GatewayRef("gateway", "shared"),
            NONE_301.format(detail=""),
            CREATE + f'`proxyProtocol: {{optional: false}}`, with {PP}: "v2" on the Envoy Service',
            {
                "clientIP": "no CTP client-IP setting, LB sends no PROXY header",
                "listeners": ["http", "https"],
            },
        )
    ]
    xff = seen(objs, "EGD301", expect_mode="xff")
    assert [h for _, _, _, _, h, _ in xff] == [
        CREATE + "`clientIPDetection: {xForwardedFor: {numTrustedHops: N}}` (N = the proxies in front of the "
        "load balancer, usually 1), with the Envoy Service's loadBalancerSourceRanges restricted to your "
        "CDN/WAF"
    ]


def test_301_direct_source_ip_is_the_load_balancer() -> None:
    policy = ctp({"clientIPDetection": {"directSourceIP": {}}})
    found = seen(setup(policy, svc=envoy_service()), "EGD301")
    detail = (
        " (ClientTrafficPolicy gateway/client-ip sets clientIPDetection.directSourceIP, which takes the peer "
        "address: behind the load balancer that is the load balancer)"
    )
    assert [(m, h) for _, _, _, m, h, _ in found] == [
        (
            NONE_301.format(detail=detail),
            "replace directSourceIP in ClientTrafficPolicy gateway/client-ip with direct mode "
            f'`proxyProtocol: {{optional: false}}` with {PP}: "v2" on the Envoy Service, or, behind a '
            "CDN/WAF, "
            "XFF mode `clientIPDetection.xForwardedFor.numTrustedHops: N`",
        )
    ]


def test_301_names_every_rejected_or_misplaced_policy() -> None:
    taken = ancestors(condition("Accepted", "False", "Conflicted", "taken"))
    rejected = setup(ctp(DIRECT, status=taken), ctp(DIRECT, name="b", status=taken), svc=envoy_service())
    assert [(m, h) for _, _, _, m, h, _ in seen(rejected, "EGD301")] == [
        (
            NONE_301.format(
                detail=" (ClientTrafficPolicy gateway/b, gateway/client-ip targets it but is not Accepted, "
                "see EGD303)"
            ),
            "make ClientTrafficPolicy gateway/b, gateway/client-ip Accepted (see EGD303)",
        )
    ]
    elsewhere = [ctp(DIRECT, ns=ns, status={}) for ns in ("team-a", "team-b")]
    misplaced = setup(*elsewhere, svc=envoy_service())
    assert [(m, h) for _, _, _, m, h, _ in seen(misplaced, "EGD301")] == [
        (
            NONE_301.format(
                detail=" (ClientTrafficPolicy team-a/client-ip, team-b/client-ip names it from another "
                "namespace, see EGD302)"
            ),
            "move ClientTrafficPolicy team-a/client-ip, team-b/client-ip to namespace gateway (see EGD302)",
        )
    ]


def test_301_only_after_the_listeners_that_handle_the_client_ip() -> None:
    direct_http = ctp(DIRECT, name="http", section="http")
    found = seen(setup(direct_http, svc=envoy_service()), "EGD301")
    assert [g for _, _, g, _, _, _ in found] == [GatewayRef("gateway", "shared", "https")]


OVERRIDDEN_EFFECT = (
    "; the overridden listeners take every setting from their section-level ClientTrafficPolicy only, so "
    "client-IP handling must be configured there too"
)
OVERRIDDEN_FIX = (
    "repeat proxyProtocol / clientIPDetection in each section-level ClientTrafficPolicy, or merge those into "
    "this one"
)


def test_303_overridden() -> None:
    overridden = condition("Overridden", "True", "Overridden", "overriding [http]")
    objs = setup(
        ctp(DIRECT, status=ancestors(ACCEPTED, overridden)), ctp(DIRECT, name="http", section="http")
    )
    assert seen(objs, "EGD303") == [
        (
            "WARNING",
            "ClientTrafficPolicy gateway/client-ip",
            GatewayRef("gateway", "shared"),
            f"ClientTrafficPolicy gateway/client-ip on {GW}: Overridden=True (Overridden): overriding [http]"
            + OVERRIDDEN_EFFECT,
            OVERRIDDEN_FIX,
            {"condition": overridden},
        )
    ]


def test_303_reads_only_envoy_gateways_entries_and_fills_in_what_they_leave_out() -> None:
    other = {
        "ancestorRef": {"name": "shared"},
        "controllerName": "example.com/other",
        "conditions": [condition("Accepted", "False", "Invalid", "x")],
    }
    bare = {"ancestorRef": {"name": "shared"}, "controllerName": EG, "conditions": [ACCEPTED_FALSE]}
    found = seen(setup(ctp(DIRECT, status={"ancestors": [other, "junk", bare]})), "EGD303")
    assert found == [
        (
            "ERROR",
            "ClientTrafficPolicy gateway/client-ip",
            GatewayRef("gateway", "shared"),
            f"ClientTrafficPolicy gateway/client-ip on {GW}: Accepted=False (): ",
            "fix what the controller reports (`kubectl describe clienttrafficpolicy -n gateway client-ip`)",
            {"condition": ACCEPTED_FALSE},
        )
    ]


def test_303_on_an_ancestor_that_is_not_a_gateway() -> None:
    not_found = {"type": "Accepted", "status": "False", "reason": "TargetNotFound", "message": "m"}
    anc = {
        "ancestorRef": {"name": "shared", "kind": "ListenerSet", "namespace": "edge", "sectionName": 7},
        "controllerName": EG,
        "conditions": [not_found, {"type": "Overridden", "status": "True"}],
    }
    found = seen(setup(ctp(DIRECT, status={"ancestors": [anc]})), "EGD303")
    assert [(s, g, m) for s, _, g, m, _, _ in found] == [
        (
            "ERROR",
            None,
            "ClientTrafficPolicy gateway/client-ip on ListenerSet edge/shared: Accepted=False "
            "(TargetNotFound): m",
        ),
        (
            "WARNING",
            None,
            "ClientTrafficPolicy gateway/client-ip on ListenerSet edge/shared: Overridden=True (): "
            + OVERRIDDEN_EFFECT,
        ),
    ]


def test_306_optional_proxy_protocol() -> None:
    found = seen(setup(ctp({"proxyProtocol": {"optional": True}})), "EGD306")
    assert found == [
        (
            "WARNING",
            "ClientTrafficPolicy gateway/client-ip",
            GatewayRef("gateway", "shared"),
            f"ClientTrafficPolicy gateway/client-ip sets proxyProtocol.optional: true on {GW}: connections "
            "without a header are accepted, so clients that reach Envoy without the load balancer can forge "
            "their IP",
            "set proxyProtocol.optional: false once the load balancer sends PROXY v2",
            {"clientIP": "CTP proxyProtocol optional, LB sends PROXY v2", "listeners": ["http", "https"]},
        )
    ]


def test_307_not_before_v1_5_unless_proxy_protocol_is_set_too() -> None:
    old = controller("envoyproxy/gateway:v1.4.2")
    plain = ctp({"enableProxyProtocol": True}, name="a")
    both = ctp({"enableProxyProtocol": True, "proxyProtocol": {}}, name="b", section="http")
    found = seen(setup(ctp(DIRECT, name="0-first", section="https"), plain, both, old), "EGD307")
    assert [s for _, s, _, _, _, _ in found] == ["ClientTrafficPolicy gateway/b"]
    assert seen(setup(plain, controller("envoyproxy/gateway:v1.5.0")), "EGD307") != []


# -- EGD302 for selectors that reach other namespaces --------------------------------------------------------


def _targets(objs: list[Any], fetched: set[str] | None = None) -> list[tuple[str, str]]:
    raw: dict[str, list[Mapping[str, Any]]] = {name: [] for name in KINDS}
    for obj in objs:
        spec = spec_for_object(str(obj["apiVersion"]), str(obj["kind"]))
        assert spec is not None, obj["kind"]
        raw[spec.name].append(obj)
    if fetched is not None:
        fetched = {name for name in KINDS if name not in fetched}
    snapshot = assemble(raw, None, Source("files"), fetched=fetched)
    ctx = CheckContext(snapshot, build_topology(snapshot), Options())
    return [(str(f.subject), f.message) for f in ctp_targets(ctx)]


def _selecting(*selectors: Mapping[str, Any]) -> dict[str, Any]:
    policy = ctp(DIRECT, ns="team-a", status={})
    policy["spec"] = {"targetRefs": [], "targetSelectors": list(selectors), **DIRECT}
    return policy


def _grant() -> dict[str, Any]:
    return {
        "apiVersion": f"{GW_GROUP}/v1beta1",
        "kind": "ReferenceGrant",
        "metadata": {"name": "ctp", "namespace": "gateway"},
        "spec": {
            "from": [
                {"group": "gateway.envoyproxy.io", "kind": "ClientTrafficPolicy", "namespace": "team-a"}
            ],
            "to": [{"group": GW_GROUP, "kind": "Gateway"}],
        },
    }


def _none_in_team_a(index: int, selector: str = "{}") -> tuple[str, str]:
    return (
        "ClientTrafficPolicy team-a/client-ip",
        f"ClientTrafficPolicy team-a/client-ip targetSelectors[{index}] matches no Gateway in namespace "
        "team-a "
        f"(selector {selector}): it has no effect",
    )


def test_302_selectors_reaching_other_namespaces_need_a_grant() -> None:
    every = {"kind": "Gateway", "namespaces": {"from": "All"}}
    assert _targets([gateway(), _selecting(every), _grant()]) == []
    assert _targets([gateway(), _selecting(every)]) == [_none_in_team_a(0)]
    labelled_ns = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "gateway", "labels": {"edge": "yes"}},
    }
    by_label = {"namespaces": {"from": "Selector", "selector": {"matchLabels": {"edge": "yes"}}}}
    assert _targets([gateway(), labelled_ns, _selecting(by_label), _grant()]) == []
    assert _targets([gateway(), _selecting(by_label), _grant()]) == [_none_in_team_a(0)]


def test_302_selectors_of_their_own_namespace_when_namespaces_were_not_read() -> None:
    """Without Namespaces and ReferenceGrants a selector reaching out cannot be judged; one that stays in
    its namespace (no namespaces, or from Same) still can."""
    every = {"kind": "Gateway", "namespaces": {"from": "All"}}
    same = {"namespaces": {"from": "Same"}, "matchLabels": {"tier": "edge"}}
    unset = {"namespaces": {}, "matchLabels": {"tier": "edge"}}
    objs = [gateway(), _selecting(every, same, unset)]
    expected = [_none_in_team_a(1, "{'tier': 'edge'}"), _none_in_team_a(2, "{'tier': 'edge'}")]
    assert _targets(objs, fetched={"Namespace"}) == expected
    assert _targets(objs, fetched={"ReferenceGrant"}) == expected
    assert _targets(objs) == [_none_in_team_a(0), *expected]


def test_302_not_for_a_listener_that_exists_or_a_ref_without_a_name() -> None:
    assert seen(setup(ctp(DIRECT, section="http")), "EGD302") == []
    policy = ctp(DIRECT, status={})
    policy["spec"]["targetRefs"] = [{"kind": "Gateway"}]
    found = seen(setup(policy), "EGD302")
    assert [m for _, _, _, m, _, _ in found] == [
        "ClientTrafficPolicy gateway/client-ip targetRefs[0] names Gateway gateway/, which does not exist: "
        "it "
        "has no effect"
    ]


# -- a Gateway the check skips does not stop it --------------------------------------------------------------


def _first(*extra: Any, svc: bool = False, listeners: Any = None) -> list[Any]:
    first = gateway(listeners or [("http", 80, "HTTP", None)], name="a-first")
    objs: list[Any] = [first, *extra]
    if svc:
        objs.append(envoy_service({PP: "v2"}, name="envoy-a-first", gw=("gateway", "a-first"), ranges=RANGES))
    return objs


def _codes(objs: list[Any], **options: Any) -> list[tuple[str, str | None]]:
    d = diagnose_in(objs, ns=None, **options)
    return sorted(
        (f.code, f.gateway.name if f.gateway else None) for f in d.findings if f.code.startswith("EGD3")
    )


def test_every_gateway_is_checked_after_one_without_an_envoy_service() -> None:
    svc = envoy_service({PP: "v1", "loadbalancer.openstack.org/x-forwarded-for": "true"})
    objs = [*_first(), gateway(), route(), svc, ctp(DIRECT)]
    assert _codes(objs) == [
        ("EGD310", "shared"),
        ("EGD311", "shared"),
        ("EGD312", "a-first"),
        ("EGD314", "shared"),
    ]
    open_lb = [*_first(), gateway(), route(), envoy_service(), ctp(XFF1, section="https")]
    assert ("EGD313", "shared") in _codes(open_lb)
    assert [g for _, _, g, _, _, _ in seen(open_lb, "EGD313")] == [GatewayRef("gateway", "shared", "https")]


def test_every_gateway_is_checked_after_one_that_is_fine() -> None:
    mine = ctp(DIRECT, name="a", target="a-first")
    objs = [*_first(mine, svc=True), gateway(), route(), envoy_service({PP: "v1"}), ctp(DIRECT)]
    assert _codes(objs) == [("EGD310", "shared"), ("EGD314", "shared")]
    xff_first = ctp(XFF1, name="a", target="a-first")
    restricted = envoy_service(name="envoy-a-first", gw=("gateway", "a-first"), ranges=RANGES)
    objs = [*_first(xff_first), restricted, gateway(), route(), envoy_service(), ctp(XFF1)]
    assert _codes(objs) == [("EGD313", "shared")]


def test_309_after_a_listener_without_a_policy() -> None:
    mixed = ctp({**DIRECT, **XFF1}, section="https")
    found = seen(setup(mixed), "EGD309")
    assert [g for _, _, g, _, _, _ in found] == [GatewayRef("gateway", "shared", "https")]


def test_108_not_without_an_envoy_service() -> None:
    merged = [gateway_class(), envoy_proxy(True), gateway(), route(), ctp(DIRECT)]
    d = diagnose_in(merged, ns=None)
    assert [f.code for f in d.findings if f.code in ("EGD108", "EGD004")] == []


# -- corners of the status and of the Envoy Service ----------------------------------------------------------


def test_303_after_an_entry_left_to_302_and_for_an_entry_without_a_name() -> None:
    missing = {
        "ancestorRef": {"name": "gone"},
        "controllerName": EG,
        "conditions": [condition("Accepted", "False", "TargetNotFound", "gone")],
    }
    nameless = {
        "ancestorRef": {},
        "controllerName": EG,
        "conditions": [condition("Accepted", "False", "Odd", "x")],
    }
    found = seen(setup(ctp(DIRECT, status={"ancestors": [missing, nameless]})), "EGD303")
    assert [(g, m) for _, _, g, m, _, _ in found] == [
        (
            GatewayRef("gateway", ""),
            "ClientTrafficPolicy gateway/client-ip on Gateway gateway/: Accepted=False (Odd): x",
        )
    ]


def test_302_skips_selectors_of_other_kinds_even_with_labels() -> None:
    policy = ctp(DIRECT, status={})
    policy["spec"] = {"targetRefs": [], "targetSelectors": [{"kind": "HTTPRoute", "matchLabels": {"a": "b"}}]}
    assert seen(setup(policy), "EGD302") == []


def test_314_names_every_address() -> None:
    gw = gateway()
    gw["status"]["addresses"].append({"type": "IPAddress", "value": "203.0.113.21"})
    found = seen([gw, route(), envoy_service({PP: "v1"}), ctp(DIRECT)], "EGD314")
    assert [m for _, _, _, m, _, _ in found] == [
        f"the fix for EGD310 changes the annotations of {SVC}, which recreates the Octavia load balancer "
        "with a "
        "new public IP (today 203.0.113.20, 203.0.113.21)"
    ]


def test_301_fix_for_a_policy_that_is_not_applied() -> None:
    failed = ctp(DIRECT, status=ancestors(condition("Accepted", "False", "Invalid", "bad timeout")))
    found = seen(setup(failed, svc=envoy_service()), "EGD301")
    assert [h for _, _, _, _, h, _ in found] == [
        "fix what ClientTrafficPolicy gateway/client-ip reports in its status (see EGD303)"
    ]


def test_312_for_every_gateway_after_one_without_a_service() -> None:
    node_port = envoy_service({PP: "v2"}, svc_type="NodePort")
    found = seen([*_first(), gateway(), route(), node_port, ctp(DIRECT)], "EGD312")
    assert sorted(
        (g.name if g else "", m.split(" is ")[0].split(" was ")[0]) for _, _, g, m, _, _ in found
    ) == [
        ("a-first", "the Envoy Service of Gateway gateway/a-first"),
        ("shared", f"the Envoy Service of {GW} ({SVC})"),
    ]


# -- the bodies' remaining branches: covered selectors, Gateways deployed as configured, the EnvoyProxy fix --


def _cluster_targets(objs: list[Any], namespaces: frozenset[str]) -> list[tuple[str, str]]:
    """EGD302 of a cluster read scoped to `namespaces` (every kind read)."""
    raw: dict[str, list[Mapping[str, Any]]] = {name: [] for name in KINDS}
    for obj in objs:
        spec = spec_for_object(str(obj["apiVersion"]), str(obj["kind"]))
        assert spec is not None, obj["kind"]
        raw[spec.name].append(obj)
    snapshot = assemble(raw, namespaces, Source("cluster"))
    ctx = CheckContext(snapshot, build_topology(snapshot), Options())
    return [(str(f.subject), f.message) for f in ctp_targets(ctx)]


def test_302_selectors_in_a_read_namespace_of_a_cluster_read() -> None:
    """A cluster read judges the selectors of the namespaces it read and leaves the others alone."""
    labels = {"kind": "Gateway", "matchLabels": {"tier": "edge"}}
    objs = [gateway(), _selecting(labels)]
    assert _cluster_targets(objs, frozenset({"team-a"})) == [_none_in_team_a(0, "{'tier': 'edge'}")]
    assert _cluster_targets(objs, frozenset({"team-b"})) == []


def test_108_for_the_next_gateway_after_one_deployed_as_configured() -> None:
    plain_class = gateway_class(None)
    plain_class["metadata"]["name"] = "eg-plain"
    first = gateway([("http", 80, "HTTP", None)], name="a-first")
    first["spec"]["gatewayClassName"] = "eg-plain"
    its_service = envoy_service({PP: "v2"}, name="envoy-a-first", gw=("gateway", "a-first"))
    objs = [gateway_class(), plain_class, envoy_proxy(True), first, its_service, gateway(), route()]
    objs += [envoy_service({PP: "v2"}), ctp(DIRECT)]
    assert seen(objs, "EGD108") == [MERGED_BUT_ALONE]


def test_108_not_for_a_gateway_with_a_service_deployed_as_configured() -> None:
    """An Envoy Service that matches the EnvoyProxy (or no mergeGateways at all) is no finding."""
    assert seen(setup(ctp(DIRECT)), "EGD108") == []
    alone = [gateway_class(), envoy_proxy(False), *setup(ctp(DIRECT))]
    assert seen(alone, "EGD108") == []
    merged = [gateway_class(), envoy_proxy(True), gateway(), route(), class_service(), ctp(DIRECT)]
    assert seen(merged, "EGD108") == []


def test_313_fix_names_the_envoy_proxy_of_the_gateway_class() -> None:
    objs = [gateway_class(), envoy_proxy(None), gateway(), route(), envoy_service(), ctp(XFF1)]
    patch = (
        '{"spec":{"provider":{"type":"Kubernetes","kubernetes":{"envoyService":'
        '{"loadBalancerSourceRanges":["<CDN/WAF egress CIDR>"]}}}}}'
    )
    assert seen(objs, "EGD313") == [
        (
            "ERROR",
            f"Service {SVC}",
            GatewayRef("gateway", "shared"),
            _open("X-Forwarded-For (numTrustedHops 1)", "no loadBalancerSourceRanges"),
            "limit the load balancer to your CDN/WAF egress ranges in EnvoyProxy "
            "envoy-gateway-system/merged-proxy (spec.provider.kubernetes.envoyService."
            "loadBalancerSourceRanges): `kubectl patch envoyproxy -n envoy-gateway-system merged-proxy "
            f"--type merge -p '{patch}'`",
            {
                "clientIP": "CTP numTrustedHops 1, LB sends no PROXY header",
                "loadBalancerSourceRanges": [],
                "listeners": ["http", "https"],
            },
        )
    ]
