"""The exact words of the client-IP findings whose message and fix depend on the layout: EGD303 (why a
ClientTrafficPolicy is not in effect), EGD304/EGD305 (policy and load balancer disagree about PROXY
protocol), EGD309 (settings outside the two modes) and EGD315 (not the expected mode).

The scenario tier holds the same wording end to end; these run in process, so every branch of the
builders in egdoctor/checks/clientip.py is pinned by a fast test. Every diagnosis here covers all
namespaces: a namespace scope would hide the findings of listeners that carry no route of it.
"""

from __future__ import annotations

from typing import Any

from egdoctor.checks.engine import Diagnosis
from egdoctor.findings.model import Severity
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
from tests.checks.test_clientip_eg_rules import _https_gateway
from tests.checks.test_deploy_modes import class_service, envoy_proxy, gateway_class

SVC = "envoy-gateway-system/envoy-gateway-shared-b2034d54"
CLASS_SVC = "envoy-gateway-system/envoy-eg-9a8b7c6d"
GW = "Gateway gateway/shared"
RANGES = ["198.51.100.0/24"]
OVERLAP = (
    "ClientTrafficPolicy is being applied to multiple http (non https) listeners (gateway/shared/http-b) "
    "on the same port, which is not allowed."
)
DESCRIBE = "`kubectl describe clienttrafficpolicy -n gateway client-ip`"

# One finding as (listener or None for the whole Gateway, severity, subject, message, hint).
Seen = tuple[str | None, Severity, str, str, str]


def diagnose(objs: list[Any], **options: Any) -> Diagnosis:
    return diagnose_in(objs, ns=None, **options)


def seen(d: Diagnosis, code: str) -> list[Seen]:
    return [
        (f.gateway.listener if f.gateway else None, f.severity, str(f.subject), f.message, f.hint)
        for f in d.findings
        if f.code == code
    ]


def egd305_message(state: str, target: str = GW, service: str = SVC, value: str = "v2") -> str:
    return (
        f'the load balancer Service {service} sends PROXY protocol {value} ({PP}="{value}") but {state} on '
        f"{target}: Envoy reads the PROXY header as the start of a request and answers HTTP 400 (HTTPS "
        "listeners fail the TLS handshake)"
    )


def egd304_message(pp: str, state: str, effect: str, target: str = GW, service: str = SVC) -> str:
    return (
        f"ClientTrafficPolicy gateway/client-ip enables PROXY protocol ({pp}) on {target} but the load "
        f"balancer Service {service} does not ask Octavia for it ({state}): {effect}"
    )


STRICT_EFFECT = (
    "Envoy drops every connection that arrives through the load balancer without a PROXY header (clients "
    "see resets or TLS errors), and a client that sends its own PROXY header chooses its IP"
)
OPTIONAL_EFFECT = (
    "Envoy accepts the plain connections but sees the load balancer's address as the client, and a client "
    "that sends its own PROXY header chooses its IP"
)


def set_v2_fix(service: str = SVC) -> str:
    return (
        f'set {PP}: "v2" on the Envoy Service {service} (EnvoyProxy spec.provider.kubernetes.envoyService.'
        "annotations or Gateway spec.infrastructure.annotations; on Elastx ask support if they manage it, "
        "see EGD314); if you run XFF mode behind a CDN/WAF instead, remove proxyProtocol from "
        "ClientTrafficPolicy gateway/client-ip"
    )


CTP = "ClientTrafficPolicy gateway/client-ip"
E, W = Severity.ERROR, Severity.WARNING


# -- EGD304 --------------------------------------------------------------------------------------------------


def test_304_strict_policy_without_the_annotation() -> None:
    d = diagnose(setup(ctp(DIRECT), svc=envoy_service()))
    state = f"no {PP} annotation"
    assert seen(d, "EGD304") == [(None, E, CTP, egd304_message("strict", state, STRICT_EFFECT), set_v2_fix())]
    finding = d.findings[[f.code for f in d.findings].index("EGD304")]
    assert finding.evidence == {
        "clientIP": "CTP proxyProtocol strict, LB sends no PROXY header",
        "annotation": None,
        "listeners": ["http", "https"],
    }
    assert "EGD314" in [f.code for f in d.findings]


def test_304_optional_policy_with_the_annotation_false_or_empty() -> None:
    optional = ctp({"proxyProtocol": {"optional": True}})
    for value in ("false", ""):
        d = diagnose(setup(optional, svc=envoy_service({PP: value})))
        state = f'{PP}="{value}"'
        expected = egd304_message("optional", state, OPTIONAL_EFFECT)
        assert seen(d, "EGD304") == [(None, E, CTP, expected, set_v2_fix())]


def test_304_names_an_unrecognised_annotation_value() -> None:
    d = diagnose(setup(ctp(DIRECT), svc=envoy_service({PP: "V2"})))
    state = (
        f'{PP}="V2", a value cloud-provider-openstack does not recognise (only "v2", "v1" and "true" turn '
        "PROXY on)"
    )
    assert seen(d, "EGD304") == [(None, E, CTP, egd304_message("strict", state, STRICT_EFFECT), set_v2_fix())]


def test_304_fix_when_xff_is_expected_stays_in_the_policy() -> None:
    d = diagnose(setup(ctp(DIRECT), svc=envoy_service()), expect_mode="xff")
    fix = (
        "XFF mode is expected: remove proxyProtocol (and enableProxyProtocol) from ClientTrafficPolicy "
        "gateway/client-ip and set clientIPDetection.xForwardedFor.numTrustedHops"
    )
    message = egd304_message("strict", f"no {PP} annotation", STRICT_EFFECT)
    assert seen(d, "EGD304") == [(None, E, CTP, message, fix)]
    assert "EGD314" not in [f.code for f in d.findings]


def test_304_names_the_policy_that_put_proxy_on_a_shared_port() -> None:
    """https-b has no policy of its own: https-a's turns PROXY on for port 443."""
    d = diagnose(_https_gateway(ctp(DIRECT, section="https-a"), svc=envoy_service()))
    state = f"no {PP} annotation"
    assert seen(d, "EGD304") == [
        (
            name,
            E,
            CTP,
            egd304_message("strict", state, STRICT_EFFECT, f"listener {name} of {GW}"),
            set_v2_fix(),
        )
        for name in ("https-a", "https-b")
    ]


def _merged(*extra: Any, svc: Any) -> list[Any]:
    first = gateway([("http", 80, "HTTP", None)])
    second = gateway([("http-internal", 80, "HTTP", "internal.example.com")], name="internal")
    second["metadata"]["creationTimestamp"] = "2026-01-12T09:01:00Z"
    tools = route(name="tools", ns="team-b", hostnames=["internal.example.com"], gw=("gateway", "internal"))
    return [gateway_class(), envoy_proxy(True), first, second, svc, tools, *extra]


def test_304_with_merged_gateways_names_the_policy_of_the_other_gateway() -> None:
    d = diagnose(_merged(ctp(DIRECT), svc=class_service({})))
    state = f"no {PP} annotation"
    assert sorted(seen(d, "EGD304")) == [
        (
            None,
            E,
            CTP,
            egd304_message("strict", state, STRICT_EFFECT, target, CLASS_SVC),
            set_v2_fix(CLASS_SVC),
        )
        for target in ("Gateway gateway/internal", GW)
    ]


def test_304_one_finding_per_proxy_setting() -> None:
    listeners = (("http", 80, "HTTP", None), ("web", 8080, "HTTP", None))
    optional = ctp({"proxyProtocol": {"optional": True}}, name="web", section="web")
    d = diagnose(setup(ctp(DIRECT), optional, svc=envoy_service(), listeners=listeners))
    state = f"no {PP} annotation"
    web = egd304_message("optional", state, OPTIONAL_EFFECT, f"listener web of {GW}")
    assert seen(d, "EGD304") == [
        (
            "http",
            E,
            CTP,
            egd304_message("strict", state, STRICT_EFFECT, f"listener http of {GW}"),
            set_v2_fix(),
        ),
        (
            "web",
            E,
            "ClientTrafficPolicy gateway/web",
            web.replace(CTP, "ClientTrafficPolicy gateway/web"),
            set_v2_fix().replace(CTP, "ClientTrafficPolicy gateway/web"),
        ),
    ]


# -- EGD305 --------------------------------------------------------------------------------------------------

REMOVE = f"; or, if you meant XFF mode, remove {PP} from the Envoy Service (see EGD314)"


def test_305_without_a_policy() -> None:
    d = diagnose(setup())
    fix = (
        "add `proxyProtocol: {optional: false}` to a ClientTrafficPolicy in namespace gateway targeting "
        f"Gateway shared{REMOVE}"
    )
    assert seen(d, "EGD305") == [(None, E, GW, egd305_message("no ClientTrafficPolicy enables it"), fix)]
    finding = d.findings[[f.code for f in d.findings].index("EGD305")]
    assert finding.evidence == {
        "clientIP": "no CTP client-IP setting, LB sends PROXY v2",
        "annotation": "v2",
        "listeners": ["http", "https"],
    }
    assert "EGD314" in [f.code for f in d.findings]


def test_305_with_a_policy_that_does_not_enable_proxy() -> None:
    d = diagnose(setup(ctp(XFF1)))
    state = f"{CTP} does not enable it"
    fix = f"add `proxyProtocol: {{optional: false}}` to {CTP}{REMOVE}"
    assert seen(d, "EGD305") == [(None, E, CTP, egd305_message(state), fix)]


def test_305_fix_follows_the_expected_mode() -> None:
    state = f"{CTP} does not enable it"
    direct = diagnose(setup(ctp(XFF1)), expect_mode="direct")
    assert seen(direct, "EGD305") == [
        (None, E, CTP, egd305_message(state), f"add `proxyProtocol: {{optional: false}}` to {CTP}")
    ]
    assert "EGD314" not in [f.code for f in direct.findings]
    xff = diagnose(setup(ctp(XFF1)), expect_mode="xff")
    fix = (
        f"XFF mode is expected: remove {PP} from the Envoy Service {SVC} so the load balancer passes plain "
        "TCP (see EGD314)"
    )
    assert seen(xff, "EGD305") == [(None, E, CTP, egd305_message(state), fix)]
    assert "EGD314" in [f.code for f in xff.findings]


def test_305_per_listener_keeps_the_annotation_other_listeners_need() -> None:
    listeners = (("http", 80, "HTTP", None), ("web", 8080, "HTTP", None))
    d = diagnose(setup(ctp(DIRECT), ctp({"timeout": {}}, name="w", section="web"), listeners=listeners))
    policy = "ClientTrafficPolicy gateway/w"
    assert seen(d, "EGD305") == [
        (
            "web",
            E,
            policy,
            egd305_message(f"{policy} does not enable it", f"listener web of {GW}"),
            f"add `proxyProtocol: {{optional: false}}` to {policy}",
        )
    ]
    assert "EGD314" not in [f.code for f in d.findings]


def test_305_v1_annotation_value() -> None:
    d = diagnose(setup(svc=envoy_service({PP: "true"})), expect_mode="direct")
    message = (
        f'the load balancer Service {SVC} sends PROXY protocol v1 ({PP}="true") but no ClientTrafficPolicy '
        f"enables it on {GW}: Envoy reads the PROXY header as the start of a request and answers HTTP 400 "
        "(HTTPS listeners fail the TLS handshake)"
    )
    fix = (
        "add `proxyProtocol: {optional: false}` to a ClientTrafficPolicy in namespace gateway targeting "
        "Gateway shared"
    )
    assert seen(d, "EGD305") == [(None, E, GW, message, fix)]


def _rejected(message: str, **kwargs: Any) -> dict[str, Any]:
    return ctp(DIRECT, status=ancestors(condition("Accepted", "False", "Invalid", message)), **kwargs)


BROKEN_FIX = (
    f"fix what ClientTrafficPolicy gateway/client-ip reports in its status (EGD303, {DESCRIBE}): the load "
    "balancer is right, the policy is not applied"
)


def test_305_a_failing_policy_is_the_cause_not_the_load_balancer() -> None:
    d = diagnose(setup(_rejected("bad timeout\nsecond line")), expect_mode="xff")
    state = (
        f"{CTP} failed on this listener (bad timeout): Envoy Gateway applies its clientIPDetection but not "
        "its proxyProtocol here, and answers every route of the listener with HTTP 500"
    )
    assert seen(d, "EGD305") == [(None, E, CTP, egd305_message(state), BROKEN_FIX)]
    assert "EGD314" not in [f.code for f in d.findings]


def test_305_a_failing_policy_without_a_message() -> None:
    d = diagnose(setup(_rejected("")))
    state = (
        f"{CTP} failed on this listener (): Envoy Gateway applies its clientIPDetection but not its "
        "proxyProtocol here, and answers every route of the listener with HTTP 500"
    )
    assert seen(d, "EGD305") == [(None, E, CTP, egd305_message(state), BROKEN_FIX)]


def test_a_blank_controller_message_is_not_quoted() -> None:
    """The policy's status message can be blank; the checks that quote its first line still run."""
    for message in ("   ", "\n"):
        d = diagnose(setup(_rejected(message)))
        state = (
            f"{CTP} failed on this listener (): Envoy Gateway applies its clientIPDetection but not its "
            "proxyProtocol here, and answers every route of the listener with HTTP 500"
        )
        assert seen(d, "EGD305") == [(None, E, CTP, egd305_message(state), BROKEN_FIX)]
        assert [f.code for f in d.findings if f.code == "EGD004"] == []
        d = diagnose(setup(_rejected(message), svc=envoy_service()))
        detail = (
            f" ({CTP} failed on this listener (): Envoy Gateway applies its clientIPDetection but not its "
            "proxyProtocol here, and answers every route of the listener with HTTP 500; see EGD303)"
        )
        assert [f.message for f in d.findings if f.code == "EGD301"] == [
            f"no ClientTrafficPolicy configures client-IP handling for {GW}{detail}: backends, logs and rate "
            "limits see the load balancer's internal address"
        ]
        assert [f.code for f in d.findings if f.code == "EGD004"] == []


def test_305_a_policy_refused_for_a_port_overlap_and_the_listener_sharing_its_settings() -> None:
    listeners = [("http", 80, "HTTP", "a.example.com"), ("http-b", 80, "HTTP", "b.example.com")]
    section = ctp(
        DIRECT,
        name="client-ip-http",
        section="http",
        created="2026-01-12T08:00:00Z",
        status=ancestors(condition("Accepted", "False", "Invalid", OVERLAP), section="http"),
    )
    d = diagnose(setup(ctp(DIRECT), section, listeners=listeners))
    policy = "ClientTrafficPolicy gateway/client-ip-http"
    nothing = (
        f"{policy} claims this listener but Envoy Gateway applies none of it here ({OVERLAP}), and a "
        "Gateway-wide policy does not fill in for it"
    )
    fix = (
        f"fix what {policy} reports in its status (EGD303, `kubectl describe clienttrafficpolicy -n gateway "
        "client-ip-http`): the load balancer is right, the policy is not applied"
    )
    shared = (
        f"plain-HTTP listeners on port 80 share the settings of listener http, the first of them: {nothing}"
    )
    assert sorted(seen(d, "EGD305")) == [
        ("http", E, policy, egd305_message(nothing, f"listener http of {GW}"), fix),
        ("http-b", E, CTP, egd305_message(shared, f"listener http-b of {GW}"), fix),
    ]
    assert "EGD314" not in [f.code for f in d.findings]


def test_305_with_merged_gateways_names_the_first_listener_of_the_other_gateway() -> None:
    d = diagnose(_merged(_rejected("bad timeout"), svc=class_service()))
    failed = (
        f"{CTP} failed on this listener (bad timeout): Envoy Gateway applies its clientIPDetection but not "
        "its proxyProtocol here, and answers every route of the listener with HTTP 500"
    )
    shared = (
        f"plain-HTTP listeners on port 80 share the settings of listener http of {GW}, the first of them: "
        f"{failed}"
    )
    internal = "Gateway gateway/internal"
    assert sorted(seen(d, "EGD305")) == [
        (None, E, CTP, egd305_message(failed, GW, CLASS_SVC), BROKEN_FIX),
        (None, E, internal, egd305_message(shared, internal, CLASS_SVC), BROKEN_FIX),
    ]


# -- EGD303 --------------------------------------------------------------------------------------------------

CONFLICT = "Unable to target Gateway shared, another ClientTrafficPolicy has already attached to it"


def _message(ancestor: str, reason: str, message: str, effect: str, policy: str = "gateway/client-ip") -> str:
    return f"ClientTrafficPolicy {policy} on {ancestor}: Accepted=False ({reason}): {message}{effect}"


def test_303_conflicted_names_the_policies_in_force_but_not_itself() -> None:
    """b-newer lost the Gateway to a-older but still configures http through its own section entry."""
    older = ctp(XFF1, name="a-older", created="2026-01-10T09:00:00Z")
    newer = ctp(DIRECT, name="b-newer", created="2026-01-12T08:00:00Z")
    newer["spec"]["targetRefs"].append(
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "shared", "sectionName": "http"}
    )
    newer["status"] = {
        "ancestors": [
            *ancestors(condition("Accepted", "False", "Conflicted", CONFLICT))["ancestors"],
            *ancestors(condition("Accepted", "True", "Accepted"), section="http")["ancestors"],
        ]
    }
    d = diagnose(setup(older, newer))
    effect = "; it does nothing while the older ClientTrafficPolicy (gateway/a-older) configures this target"
    fix = (
        "keep one ClientTrafficPolicy per Gateway or listener: move the settings of gateway/b-newer into the "
        "attached one (gateway/a-older) and delete gateway/b-newer"
    )
    message = _message(GW, "Conflicted", CONFLICT, effect, "gateway/b-newer")
    assert seen(d, "EGD303") == [(None, E, "ClientTrafficPolicy gateway/b-newer", message, fix)]


def test_303_conflicted_names_every_policy_in_force() -> None:
    in_force = [
        ctp(DIRECT, name="a-http", section="http"),
        ctp(DIRECT, name="b-wide", created="2026-01-10T09:00:00Z"),
    ]
    loser = ctp(XFF1, name="c-wide", status=ancestors(condition("Accepted", "False", "Conflicted", CONFLICT)))
    d = diagnose(setup(*in_force, loser))
    effect = (
        "; it does nothing while the older ClientTrafficPolicy (gateway/a-http, gateway/b-wide) configures "
        "this target"
    )
    fix = (
        "keep one ClientTrafficPolicy per Gateway or listener: move the settings of gateway/c-wide into the "
        "attached one (gateway/a-http, gateway/b-wide) and delete gateway/c-wide"
    )
    message = _message(GW, "Conflicted", CONFLICT, effect, "gateway/c-wide")
    assert seen(d, "EGD303") == [(None, E, "ClientTrafficPolicy gateway/c-wide", message, fix)]


def test_303_conflicted_next_to_a_listener_without_a_policy() -> None:
    winner = ctp(DIRECT, name="a-http", section="http", created="2026-01-10T09:00:00Z")
    loser = ctp(
        XFF1,
        name="b-http",
        section="http",
        status=ancestors(condition("Accepted", "False", "Conflicted", "taken"), section="http"),
    )
    d = diagnose(setup(winner, loser))
    effect = "; it does nothing while the older ClientTrafficPolicy (gateway/a-http) configures this target"
    fix = (
        "keep one ClientTrafficPolicy per Gateway or listener: move the settings of gateway/b-http into the "
        "attached one (gateway/a-http) and delete gateway/b-http"
    )
    message = _message(f"{GW} listener http", "Conflicted", "taken", effect, "gateway/b-http")
    assert seen(d, "EGD303") == [("http", E, "ClientTrafficPolicy gateway/b-http", message, fix)]


def test_303_conflicted_without_a_policy_in_force() -> None:
    conflicted = ctp(XFF1, status=ancestors(condition("Accepted", "False", "Conflicted", CONFLICT)))
    effect = "; it does nothing while the older ClientTrafficPolicy configures this target"
    fix = (
        "keep one ClientTrafficPolicy per Gateway or listener: move the settings of gateway/client-ip into "
        "the attached one and delete gateway/client-ip"
    )
    d = diagnose(setup(conflicted))
    assert seen(d, "EGD303") == [(None, E, CTP, _message(GW, "Conflicted", CONFLICT, effect), fix)]
    # the same for an ancestor Gateway that is not (or no longer) there
    gone = ctp(XFF1, status=ancestors(condition("Accepted", "False", "Conflicted", CONFLICT), gw="gone"))
    d = diagnose(setup(gone))
    assert seen(d, "EGD303") == [
        (None, E, CTP, _message("Gateway gateway/gone", "Conflicted", CONFLICT, effect), fix)
    ]


def test_303_port_overlap() -> None:
    listeners = [("http", 80, "HTTP", "a.example.com"), ("http-b", 80, "HTTP", "b.example.com")]
    section = ctp(
        DIRECT,
        section="http",
        status=ancestors(condition("Accepted", "False", "Invalid", OVERLAP), section="http"),
    )
    d = diagnose(setup(section, listeners=listeners))
    effect = (
        "; Envoy Gateway applies none of it to that listener, and a Gateway-wide ClientTrafficPolicy does "
        "not apply there either: the listener (and every plain-HTTP listener on its port) runs without "
        "PROXY protocol or client-IP detection"
    )
    fix = (
        "target the whole Gateway instead of one of several plain-HTTP listeners that share a port, or give "
        f"the listeners their own ports ({DESCRIBE})"
    )
    assert seen(d, "EGD303") == [
        ("http", E, CTP, _message(f"{GW} listener http", "Invalid", OVERLAP, effect), fix)
    ]


def _invalid_effect(where: str) -> str:
    return (
        f"; Envoy Gateway answers every route on {where} with HTTP 500 and applies its clientIPDetection "
        "there but not its proxyProtocol"
    )


INVALID_FIX = f"fix the field the message names ({DESCRIBE})"


def test_303_invalid_says_which_listeners_answer_500() -> None:
    tls = "TLS: failed to get certificate\n\nTLS: no key"
    for message, where in [
        (tls, "the listeners that terminate TLS"),
        ("TLS: failed to get certificate\nbad timeout", "the affected listeners"),
        ("bad timeout", "the affected listeners"),
        ("", "the affected listeners"),
        ("   ", "the affected listeners"),
    ]:
        d = diagnose(_https_gateway(_rejected(message)))
        expected = _message(GW, "Invalid", message, _invalid_effect(where))
        assert seen(d, "EGD303") == [(None, E, CTP, expected, INVALID_FIX)], message


def test_303_target_not_found_and_other_reasons() -> None:
    status = ancestors(condition("Accepted", "False", "TargetNotFound", "gone"), section="http")
    d = diagnose(setup(ctp(DIRECT, section="http", status=status)))
    fix = "correct targetRefs / sectionName so they name an existing Gateway listener"
    assert seen(d, "EGD303") == [
        ("http", E, CTP, _message(f"{GW} listener http", "TargetNotFound", "gone", ""), fix)
    ]
    d = diagnose(setup(ctp(DIRECT, status=ancestors(condition("Accepted", "False", "Odd", "why")))))
    fix = f"fix what the controller reports ({DESCRIBE})"
    assert seen(d, "EGD303") == [(None, E, CTP, _message(GW, "Odd", "why", ""), fix)]
    overlap_elsewhere = ancestors(condition("Accepted", "False", "Odd", OVERLAP))
    d = diagnose(setup(ctp(DIRECT, status=overlap_elsewhere)))
    assert seen(d, "EGD303") == [(None, E, CTP, _message(GW, "Odd", OVERLAP, ""), fix)]


def test_303_target_not_found_is_left_to_302_when_the_spec_names_a_missing_target() -> None:
    missing_gateway = ancestors(condition("Accepted", "False", "TargetNotFound", "gone"), gw="gone")
    missing_listener = ancestors(condition("Accepted", "False", "TargetNotFound", "gone"), section="nope")
    for status in (missing_gateway, missing_listener):
        d = diagnose(setup(ctp(DIRECT, status=status)))
        assert seen(d, "EGD303") == []


# -- EGD309 --------------------------------------------------------------------------------------------------

PROXY_AND_HEADER_FIX = (
    "direct mode: remove clientIPDetection; XFF mode behind a CDN/WAF: remove proxyProtocol and the load "
    "balancer's proxy-protocol annotation. Keep both only if an HTTP proxy that overwrites {header} sits in "
    "front of a PROXY-protocol load balancer"
)


def _proxy_and(header: str) -> str:
    return (
        f"enables PROXY protocol and also trusts {header}: Envoy takes the client IP from {header}, which a "
        "client connecting through the TCP load balancer writes itself (the PROXY address counts only when "
        "the header is missing), so any client can forge its IP"
    )


CIDRS_FIX = (
    "use xForwardedFor.numTrustedHops: N (N = the proxies in front of the load balancer), the documented "
    "XFF mode"
)
HEADER_FIX = "use xForwardedFor.numTrustedHops: N behind a CDN/WAF, or proxyProtocol for direct clients"


def _cidrs(ranges: str) -> str:
    return (
        f"uses xForwardedFor.trustedCIDRs {ranges}: Envoy trusts X-Forwarded-For only when the TCP peer is "
        "inside those ranges, and behind the Octavia load balancer the TCP peer is the load balancer, not "
        "your CDN: CDN ranges make Envoy ignore the header, the load balancer's network makes it trust "
        "every client"
    )


def _header(name: str) -> str:
    return (
        f"takes the client IP from header {name} (clientIPDetection.customHeader): safe only if every "
        "request passes a proxy that overwrites that header and the load balancer admits only that proxy"
    )


def test_309_proxy_protocol_with_trusted_cidrs() -> None:
    cidrs = {"clientIPDetection": {"xForwardedFor": {"trustedCIDRs": ["10.0.0.0/8", "192.168.0.0/16"]}}}
    d = diagnose(setup(ctp({**DIRECT, **cidrs}), svc=envoy_service({PP: "v2"}, ranges=RANGES)))
    assert seen(d, "EGD309") == [
        (
            None,
            E,
            CTP,
            f"{CTP} on {GW}: {_proxy_and('X-Forwarded-For')}",
            PROXY_AND_HEADER_FIX.format(header="X-Forwarded-For"),
        ),
        (None, W, CTP, f"{CTP} on {GW}: {_cidrs('10.0.0.0/8, 192.168.0.0/16')}", CIDRS_FIX),
    ]
    finding = next(f for f in d.findings if f.code == "EGD309")
    assert finding.evidence == {
        "clientIP": "CTP proxyProtocol strict, CTP trustedCIDRs, LB sends PROXY v2",
        "listeners": ["http", "https"],
    }


def test_309_proxy_protocol_with_a_custom_header() -> None:
    header = {"clientIPDetection": {"customHeader": {"name": "X-Real-IP"}}}
    d = diagnose(setup(ctp({**DIRECT, **header}), svc=envoy_service({PP: "v2"}, ranges=RANGES)))
    assert seen(d, "EGD309") == [
        (
            None,
            E,
            CTP,
            f"{CTP} on {GW}: {_proxy_and('header X-Real-IP')}",
            PROXY_AND_HEADER_FIX.format(header="header X-Real-IP"),
        ),
        (None, W, CTP, f"{CTP} on {GW}: {_header('X-Real-IP')}", HEADER_FIX),
    ]


def test_309_settings_without_proxy_protocol() -> None:
    header = {"clientIPDetection": {"customHeader": {"name": "X-Real-IP"}}}
    d = diagnose(setup(ctp(header), svc=envoy_service(ranges=RANGES)))
    assert seen(d, "EGD309") == [(None, W, CTP, f"{CTP} on {GW}: {_header('X-Real-IP')}", HEADER_FIX)]
    cidrs = {"clientIPDetection": {"xForwardedFor": {"trustedCIDRs": ["10.0.0.0/8"]}}}
    d = diagnose(setup(ctp(cidrs), svc=envoy_service(ranges=RANGES)))
    assert seen(d, "EGD309") == [(None, W, CTP, f"{CTP} on {GW}: {_cidrs('10.0.0.0/8')}", CIDRS_FIX)]
    hops = ctp(XFF1)
    assert seen(diagnose(setup(hops, svc=envoy_service(ranges=RANGES))), "EGD309") == []


MIXED = "ClientTrafficPolicy gateway/http-mixed"


def test_309_on_one_listener_keeps_its_severity() -> None:
    mixed = ctp({**DIRECT, **XFF1}, name="http-mixed", section="http")
    d = diagnose(setup(ctp(DIRECT), mixed))
    assert seen(d, "EGD309") == [
        (
            "http",
            E,
            MIXED,
            f"{MIXED} on listener http of {GW}: {_proxy_and('X-Forwarded-For')}",
            PROXY_AND_HEADER_FIX.format(header="X-Forwarded-For"),
        ),
    ]
    finding = next(f for f in d.findings if f.code == "EGD309")
    assert finding.evidence == {
        "clientIP": "CTP proxyProtocol strict, CTP numTrustedHops 1, LB sends PROXY v2",
        "listeners": ["http"],
    }


# -- EGD315 --------------------------------------------------------------------------------------------------

TO_XFF = (
    "XFF mode: replace proxyProtocol with clientIPDetection.xForwardedFor.numTrustedHops: N in "
    f"ClientTrafficPolicy {{ctp}}, remove {PP} from the Envoy Service (see EGD314) and restrict its "
    "loadBalancerSourceRanges to the CDN/WAF; if clients connect directly, run with --expect-mode direct"
)
TO_DIRECT = (
    "direct mode: replace clientIPDetection with `proxyProtocol: {{optional: false}}` in ClientTrafficPolicy "
    f'{{ctp}} and set {PP}: "v2" on the Envoy Service (see EGD314); if a CDN/WAF really sits in front, run '
    "with --expect-mode xff"
)


def test_315_direct_mode_when_xff_is_expected() -> None:
    d = diagnose(setup(ctp(DIRECT), svc=envoy_service({PP: "v2"}, ranges=RANGES)), expect_mode="xff")
    message = (
        f"{GW} is set up for direct mode (CTP proxyProtocol strict, LB sends PROXY v2) but XFF mode is "
        "expected (--expect-mode)"
    )
    assert seen(d, "EGD315") == [(None, E, CTP, message, TO_XFF.format(ctp="gateway/client-ip"))]
    finding = next(f for f in d.findings if f.code == "EGD315")
    assert finding.evidence == {
        "clientIP": "CTP proxyProtocol strict, LB sends PROXY v2",
        "listeners": ["http", "https"],
    }


def test_315_xff_mode_when_direct_is_expected() -> None:
    d = diagnose(setup(ctp(XFF1), svc=envoy_service(ranges=RANGES)), expect_mode="direct")
    message = (
        f"{GW} is set up for XFF mode (CTP numTrustedHops 1, LB sends no PROXY header) but direct mode is "
        "expected (--expect-mode)"
    )
    assert seen(d, "EGD315") == [(None, E, CTP, message, TO_DIRECT.format(ctp="gateway/client-ip"))]


def test_315_only_on_the_listeners_in_the_other_mode() -> None:
    """http has no client-IP setting (EGD301's business), https runs XFF mode."""
    quiet = ctp({"timeout": {}}, name="timeouts", section="http")
    d = diagnose(setup(quiet, ctp(XFF1), svc=envoy_service(ranges=RANGES)), expect_mode="direct")
    message = (
        f"listener https of {GW} is set up for XFF mode (CTP numTrustedHops 1, LB sends no PROXY header) "
        "but direct mode is expected (--expect-mode)"
    )
    assert seen(d, "EGD315") == [("https", E, CTP, message, TO_DIRECT.format(ctp="gateway/client-ip"))]


def test_315_on_a_listener_that_takes_proxy_from_its_port() -> None:
    """https-b has no policy: the Gateway is the subject, and the fix names the policy that puts the PROXY
    filter on the port they share (EG configures PROXY per port: model/topology.py _proxy_per_port)."""
    d = diagnose(_https_gateway(ctp(DIRECT, section="https-a")), expect_mode="xff")
    found = seen(d, "EGD315")
    assert [(listener, subject) for listener, _, subject, _, _ in found] == [
        ("https-a", CTP),
        ("https-b", GW),
    ]
    assert found[1][3] == (
        f"listener https-b of {GW} is set up for direct mode (CTP proxyProtocol strict, LB sends PROXY v2) "
        "but XFF mode is expected (--expect-mode)"
    )
    assert found[1][4] == TO_XFF.format(ctp="gateway/client-ip")


def test_315_not_without_an_expected_mode_or_in_a_mixed_mode() -> None:
    assert seen(diagnose(setup(ctp(DIRECT))), "EGD315") == []
    assert seen(diagnose(setup(ctp(DIRECT), svc=envoy_service()), expect_mode="xff"), "EGD315") == []
