"""Client-IP mode checks (EGD3xx): does Envoy learn the real client address, and can a client forge it?

Two documented modes exist behind the shared Gateway's Octavia load balancer (TCP in both):
direct (Octavia adds PROXY v2, the ClientTrafficPolicy sets `proxyProtocol`) and XFF (a CDN/WAF in front
writes X-Forwarded-For, the ClientTrafficPolicy sets `clientIPDetection.xForwardedFor.numTrustedHops`).
Which ClientTrafficPolicy configures each listener, and the mode that results, is worked out in
`egdoctor.model.topology.ClientIP` (precedence as in envoyproxy/gateway
internal/gatewayapi/clienttrafficpolicy.go). What Octavia does with the Service annotations follows
kubernetes/cloud-provider-openstack pkg/openstack/loadbalancer.go.

A cause shared by every listener of a Gateway is reported once on the Gateway; a cause that only some
listeners have is reported per listener, so `-n ns` shows it only to the routes it concerns.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from egdoctor.checks.fix_hints import source_ranges_fix
from egdoctor.checks.registry import CheckContext, check
from egdoctor.findings.codes import make_finding
from egdoctor.findings.model import Finding, GatewayRef, ObjectRef, Severity
from egdoctor.model.ctp_claims import PORT_OVERLAP
from egdoctor.model.eg_version import eg_version
from egdoctor.model.selectors import selector_is_empty, selector_matches
from egdoctor.model.topology import (
    EG_CONTROLLER,
    PROXY_PROTOCOL_ANNOTATION,
    ClientIP,
    GatewayKey,
    GatewayView,
    ListenerView,
    policy_targets,
    selector_namespace_ok,
)
from egdoctor.snapshot.kinds import (
    ENVOY_GATEWAY_SYSTEM,
    GW,
    OWNING_GATEWAY_NAME,
    OWNING_GATEWAY_NAMESPACE,
    OWNING_GATEWAYCLASS,
    ROUTE_KINDS,
)
from egdoctor.snapshot.objects import Obj, as_list, as_map, conditions, thaw

XFF_ANNOTATION = "loadbalancer.openstack.org/x-forwarded-for"
KEEP_FIP_ANNOTATION = "loadbalancer.openstack.org/keep-floatingip"
# Kubernetes' older spelling of spec.loadBalancerSourceRanges, still read by the cloud-provider helpers.
SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"
_OPEN_RANGES = {"0.0.0.0/0", "::/0"}

_ROUTES = tuple(ROUTE_KINDS)
MODE_NAMES = {"direct": "direct", "xff": "XFF", "none": "none", "mixed": "mixed"}


# -- shared helpers -------------------------------------------------------------------------------------


def eg_gateways(ctx: CheckContext) -> list[GatewayView]:
    """Gateways Envoy Gateway serves; a ClientTrafficPolicy means nothing to any other controller."""
    classes = {ctx.options.gateway_class} | {
        c.name for c in ctx.snapshot.of("GatewayClass") if c.spec.get("controllerName") == EG_CONTROLLER
    }
    return [gv for gv in ctx.topology.gateways.values() if gv.obj.spec.get("gatewayClassName") in classes]


def gateway_text(key: GatewayKey) -> str:
    return f"Gateway {key[0]}/{key[1]}"


def target_text(key: GatewayKey, listeners: list[str] | None) -> str:
    if not listeners:
        return gateway_text(key)
    noun = "listener" if len(listeners) == 1 else "listeners"
    return f"{noun} {', '.join(listeners)} of {gateway_text(key)}"


def obj_text(obj: Obj) -> str:
    return f"{obj.namespace}/{obj.name}" if obj.namespace else obj.name


def gateway_namespaces(ctx: CheckContext) -> set[str] | None:
    """Namespaces whose Gateways the snapshot holds completely (None: all of them).

    Mirrors the cluster reader's plan: the asked namespaces plus those route parentRefs point at. A
    missing Gateway elsewhere proves nothing, so callers only judge targets inside this set.
    """
    snap = ctx.snapshot
    if snap.namespaces is None or snap.source.mode == "files":
        return None
    out = set(snap.namespaces)
    out |= {att.gateway_key[0] for att in ctx.topology.attachments if att.gateway_key}
    return out


@dataclass(frozen=True)
class Issue:
    """One listener's problem before grouping: listeners whose issues share `group` become one finding."""

    code: str
    group: tuple[Any, ...]
    subject: ObjectRef
    params: Mapping[str, Any]
    evidence: Mapping[str, Any] = field(default_factory=dict)
    severity: Severity | None = None
    report: bool = True  # False: counts towards "the whole Gateway agrees" but is not shown on its own
    touches_lb: bool = False  # the fix changes the load balancer's annotations (EGD314)


def emit(gv: GatewayView, issues: Iterable[tuple[str, Issue]]) -> Iterator[Finding]:
    """One finding on the Gateway when every listener has the same issue, else one per listener."""
    groups: dict[tuple[Any, ...], list[tuple[str, Issue]]] = {}
    for listener, issue in issues:
        groups.setdefault((issue.code, *issue.group), []).append((listener, issue))
    names = {lv.name for lv in gv.listeners}
    for items in groups.values():
        shown = [(name, issue) for name, issue in items if issue.report]
        if not shown:
            continue
        if {name for name, _ in items} == names:
            issue = shown[0][1]
            yield make_finding(
                issue.code,
                subject=issue.subject,
                gateway=GatewayRef(*gv.key),
                severity=issue.severity,
                target=target_text(gv.key, None),
                evidence={**issue.evidence, "listeners": sorted(names)},
                **issue.params,
            )
            continue
        for name, issue in shown:
            yield make_finding(
                issue.code,
                subject=issue.subject,
                gateway=GatewayRef(*gv.key, name),
                severity=issue.severity,
                target=target_text(gv.key, [name]),
                evidence={**issue.evidence, "listeners": [name]},
                **issue.params,
            )


def _ctp_name(ci: ClientIP) -> str:
    return obj_text(ci.ctp) if ci.ctp is not None else "(none)"


def _ctp_key(ci: ClientIP) -> tuple[str | None, str] | None:
    return ci.ctp.key if ci.ctp is not None else None


def _annotation_state(ci: ClientIP) -> str:
    if ci.lb_raw is None:
        return f"no {PROXY_PROTOCOL_ANNOTATION} annotation"
    if ci.lb_raw in ("false", ""):
        return f'{PROXY_PROTOCOL_ANNOTATION}="{ci.lb_raw}"'
    return (
        f'{PROXY_PROTOCOL_ANNOTATION}="{ci.lb_raw}", a value cloud-provider-openstack does not recognise '
        '(only "v2", "v1" and "true" turn PROXY on)'
    )


def _source_listener(ctx: CheckContext, gv: GatewayView, ci: ClientIP) -> ListenerView | None:
    """The listener whose settings are in force on this one's shared port (model/topology.py
    _proxy_per_port): of the same Gateway, or, with mergeGateways, of another Gateway of the class."""
    if ci.proxy_from is None:
        return None
    owner = ctx.topology.gateways.get(ci.proxy_from_gateway) if ci.proxy_from_gateway else gv
    return owner.listener(ci.proxy_from) if owner is not None else None


def _listener_text(lv: ListenerView, gv: GatewayView) -> str:
    return lv.name if lv.gateway_key == gv.key else f"{lv.name} of {gateway_text(lv.gateway_key)}"


def _proxy_ctp(ctx: CheckContext, gv: GatewayView, ci: ClientIP) -> Obj | None:
    """The CTP whose proxyProtocol is in force on the listener's port: its own, or the one of the listener
    that put the PROXY filter on the shared port (model/topology.py _proxy_per_port)."""
    if ci.proxy_from is not None:
        source = _source_listener(ctx, gv, ci)
        return source.client_ip.ctp if source is not None else None
    return ci.ctp


def _not_applied(ci: ClientIP) -> str:
    """Why the listener's ClientTrafficPolicy is not (fully) in force, or ""."""
    if ci.ctp is None or ci.applied == "all":
        return ""
    lines = (ci.ctp_error or "").strip().splitlines()  # the controller's message may be blank
    first = lines[0] if lines else ""
    if ci.applied == "nothing":
        return (
            f"ClientTrafficPolicy {obj_text(ci.ctp)} claims this listener but Envoy Gateway applies none "
            f"of it here ({first}), and a Gateway-wide policy does not fill in for it"
        )
    return (
        f"ClientTrafficPolicy {obj_text(ci.ctp)} failed on this listener ({first}): Envoy Gateway "
        "applies its clientIPDetection but not its proxyProtocol here, and answers every route of the "
        "listener with HTTP 500"
    )


def _source_ranges(svc: Obj) -> tuple[str, ...]:
    ranges = [str(r) for r in as_list(svc.spec.get("loadBalancerSourceRanges"))]
    if not ranges:
        ranges = [
            r.strip() for r in str(svc.annotations.get(SOURCE_RANGES_ANNOTATION, "")).split(",") if r.strip()
        ]
    return tuple(ranges)


# -- predicates shared by a check and by EGD314 ------------------------------------------------------------


def proxy_mismatch_issues(ctx: CheckContext, gv: GatewayView) -> list[tuple[str, Issue]]:
    """EGD304/EGD305: the ClientTrafficPolicy and the load balancer disagree about PROXY protocol."""
    svc = gv.envoy_service
    if svc is None:
        return []
    expect = ctx.options.expect_mode
    out: list[tuple[str, Issue]] = []
    for lv in gv.listeners:
        ci = lv.client_ip
        source = _proxy_ctp(ctx, gv, ci)
        if ci.proxy_protocol != "off" and ci.lb_proxy == "none" and source is not None:
            ctp = obj_text(source)
            if ci.proxy_protocol == "strict":
                effect = (
                    "Envoy drops every connection that arrives through the load balancer without a PROXY "
                    "header (clients see resets or TLS errors), and a client that sends its own PROXY "
                    "header chooses its IP"
                )
            else:
                effect = (
                    "Envoy accepts the plain connections but sees the load balancer's address as the "
                    "client, and a client that sends its own PROXY header chooses its IP"
                )
            if expect == "xff":
                fix = (
                    f"XFF mode is expected: remove proxyProtocol (and enableProxyProtocol) from "
                    f"ClientTrafficPolicy {ctp} and set clientIPDetection.xForwardedFor.numTrustedHops"
                )
            else:
                fix = (
                    f'set {PROXY_PROTOCOL_ANNOTATION}: "v2" on the Envoy Service {obj_text(svc)} (EnvoyProxy '
                    "spec.provider.kubernetes.envoyService.annotations or Gateway spec.infrastructure."
                    "annotations; on Elastx ask support if they manage it, see EGD314); if you run XFF mode "
                    f"behind a CDN/WAF instead, remove proxyProtocol from ClientTrafficPolicy {ctp}"
                )
            out.append(
                (
                    lv.name,
                    Issue(
                        "EGD304",
                        (source.key, ci.proxy_protocol, ci.lb_raw),
                        source.ref,
                        {
                            "ctp": ctp,
                            "pp": ci.proxy_protocol,
                            "service": obj_text(svc),
                            "annotation_state": _annotation_state(ci),
                            "effect": effect,
                            "fix": fix,
                        },
                        evidence={"clientIP": ci.describe(), "annotation": ci.lb_raw},
                        touches_lb=expect != "xff",
                    ),
                )
            )
        elif ci.proxy_protocol == "off" and ci.lb_proxy in ("v1", "v2"):
            ns, name = gv.key
            broken = _not_applied(ci)
            first = _source_listener(ctx, gv, ci)
            if not broken and first is not None and _not_applied(first.client_ip):
                broken = (
                    f"plain-HTTP listeners on port {lv.port} share the settings of listener "
                    f"{_listener_text(first, gv)}, "
                    f"the first of them: {_not_applied(first.client_ip)}"
                )
            if broken:
                ctp_state = broken
            elif ci.ctp is not None:
                ctp_state = f"ClientTrafficPolicy {_ctp_name(ci)} does not enable it"
            else:
                ctp_state = "no ClientTrafficPolicy enables it"
            # Other listeners that parse PROXY need the annotation: then only this listener's policy is wrong.
            others_use_proxy = any(o.client_ip.proxy_protocol != "off" for o in gv.listeners)
            remove_annotation = not broken and (expect == "xff" or (expect is None and not others_use_proxy))
            if broken:
                failed = ci.ctp if not (first and _not_applied(first.client_ip)) else first.client_ip.ctp
                named = f"{obj_text(failed)} " if failed else ""
                describe = f"-n {failed.namespace} {failed.name}" if failed else f"-n {ns}"
                fix = (
                    f"fix what ClientTrafficPolicy {named}reports in its status (EGD303, `kubectl describe "
                    f"clienttrafficpolicy {describe}`): the load balancer is right, the policy is not applied"
                )
            elif expect == "xff":
                fix = (
                    f"XFF mode is expected: remove {PROXY_PROTOCOL_ANNOTATION} from the Envoy Service "
                    f"{obj_text(svc)} so the load balancer passes plain TCP (see EGD314)"
                )
            else:
                where = (
                    f"ClientTrafficPolicy {_ctp_name(ci)}"
                    if ci.ctp is not None
                    else f"a ClientTrafficPolicy in namespace {ns} targeting Gateway {name}"
                )
                fix = f"add `proxyProtocol: {{optional: false}}` to {where}"
                if remove_annotation:
                    fix += (
                        f"; or, if you meant XFF mode, remove {PROXY_PROTOCOL_ANNOTATION} from the Envoy "
                        "Service (see EGD314)"
                    )
            subject = ci.ctp.ref if ci.ctp is not None else gv.obj.ref
            out.append(
                (
                    lv.name,
                    Issue(
                        "EGD305",
                        (_ctp_key(ci), ci.lb_raw),
                        subject,
                        {
                            "service": obj_text(svc),
                            "version": ci.lb_proxy,
                            "annotation": PROXY_PROTOCOL_ANNOTATION,
                            "value": ci.lb_raw,
                            "ctp_state": ctp_state,
                            "fix": fix,
                        },
                        evidence={"clientIP": ci.describe(), "annotation": ci.lb_raw},
                        touches_lb=remove_annotation,
                    ),
                )
            )
    return out


def annotation_codes(gv: GatewayView) -> list[str]:
    """EGD310/EGD311 as they apply to the Gateway's Envoy Service."""
    svc = gv.envoy_service
    if svc is None:
        return []
    codes = []
    if gv.listeners and gv.listeners[0].client_ip.lb_proxy == "v1":
        codes.append("EGD310")
    # CPO reads the flag with getBoolFromServiceAnnotation: only the exact string "true" turns it on.
    if svc.annotations.get(XFF_ANNOTATION) == "true":
        codes.append("EGD311")
    return codes


def mode_mismatch_issues(ctx: CheckContext, gv: GatewayView) -> list[tuple[str, Issue]]:
    """EGD315: a consistent mode, but not the one the user said they run."""
    expected = ctx.options.expect_mode
    if expected not in ("direct", "xff"):
        return []
    out: list[tuple[str, Issue]] = []
    for lv in gv.listeners:
        ci = lv.client_ip
        if ci.mode not in ("direct", "xff") or ci.mode == expected:
            continue
        # a listener without a policy of its own takes PROXY from its port: the fix is in that policy
        in_force = ci.ctp if ci.ctp is not None else _proxy_ctp(ctx, gv, ci)
        ctp = obj_text(in_force) if in_force is not None else "(none)"
        if expected == "direct":
            fix = (
                f"direct mode: replace clientIPDetection with `proxyProtocol: {{optional: false}}` in "
                f'ClientTrafficPolicy {ctp} and set {PROXY_PROTOCOL_ANNOTATION}: "v2" on the Envoy '
                "Service (see EGD314); if a CDN/WAF really sits in front, run with --expect-mode xff"
            )
        else:
            fix = (
                f"XFF mode: replace proxyProtocol with clientIPDetection.xForwardedFor.numTrustedHops: N in "
                f"ClientTrafficPolicy {ctp}, remove {PROXY_PROTOCOL_ANNOTATION} from the Envoy Service (see "
                "EGD314) and restrict its loadBalancerSourceRanges to the CDN/WAF; if clients connect "
                "directly, run with --expect-mode direct"
            )
        subject = ci.ctp.ref if ci.ctp is not None else gv.obj.ref
        out.append(
            (
                lv.name,
                Issue(
                    "EGD315",
                    (ci.mode, _ctp_key(ci)),
                    subject,
                    {
                        "mode": MODE_NAMES[ci.mode],
                        "describe": ci.describe(),
                        "expected": MODE_NAMES[expected],
                        "fix": fix,
                    },
                    evidence={"clientIP": ci.describe()},
                ),
            )
        )
    return out


# -- checks -------------------------------------------------------------------------------------------------


def _rejected_ctps(ctx: CheckContext, key: GatewayKey) -> list[str]:
    out = []
    for (ns, name), targets in ctx.topology.ctp_targets.items():
        if not any(k == key for k, _ in targets):
            continue
        ctp = ctx.snapshot.get("ClientTrafficPolicy", ns, name)
        if ctp is None:
            continue
        for anc in as_list(ctp.status.get("ancestors")):
            accepted = conditions(anc).get("Accepted")
            if accepted is not None and accepted.get("status") == "False":
                out.append(obj_text(ctp))
                break
    return sorted(set(out))


def _misplaced_ctps(ctx: CheckContext, key: GatewayKey) -> list[str]:
    """CTPs that name this Gateway from another namespace (target refs are local, so they miss it)."""
    out = []
    for (ns, name), targets in ctx.topology.ctp_targets.items():
        for (tns, tname), _ in targets:
            if tname == key[1] and tns != key[0] and (tns, tname) not in ctx.topology.gateways:
                out.append(f"{ns}/{name}")
    return sorted(set(out))


@check("clientip-missing", inputs=["Gateway", "ClientTrafficPolicy", *_ROUTES], codes=["EGD301"])
def clientip_missing(ctx: CheckContext) -> Iterator[Finding]:
    """Listeners with routes have a ClientTrafficPolicy that configures client-IP handling.

    Reads the load balancer's PROXY setting when the Envoy Service was readable, only to leave a listener
    whose load balancer sends PROXY to EGD305.
    """
    expect = ctx.options.expect_mode
    for gv in eg_gateways(ctx):
        ns, name = gv.key
        rejected, misplaced = _rejected_ctps(ctx, gv.key), _misplaced_ctps(ctx, gv.key)
        if expect == "direct":
            settings = (
                f'`proxyProtocol: {{optional: false}}`, with {PROXY_PROTOCOL_ANNOTATION}: "v2" on the '
                "Envoy Service"
            )
        elif expect == "xff":
            settings = (
                "`clientIPDetection: {xForwardedFor: {numTrustedHops: N}}` (N = the proxies in front of "
                "the load balancer, usually 1), with the Envoy Service's loadBalancerSourceRanges "
                "restricted to your CDN/WAF"
            )
        else:
            settings = (
                f"direct mode `proxyProtocol: {{optional: false}}` with {PROXY_PROTOCOL_ANNOTATION}: "
                '"v2" on the Envoy Service, or, behind a CDN/WAF, XFF mode '
                "`clientIPDetection.xForwardedFor.numTrustedHops: N`"
            )
        issues = []
        for lv in gv.listeners:
            ci = lv.client_ip
            if not ci.ctp_known:
                continue  # a dump without ClientTrafficPolicies says nothing about whether one exists
            if ci.proxy_protocol != "off" or ci.xff or ci.custom_header or ci.lb_sends_proxy:
                continue
            broken = _not_applied(ci)
            detection = as_map(ci.ctp.spec.get("clientIPDetection")) if ci.ctp is not None else {}
            direct_source = "directSourceIP" in detection
            if broken:
                detail = f" ({broken}; see EGD303)"
                this_fix = f"fix what ClientTrafficPolicy {_ctp_name(ci)} reports in its status (see EGD303)"
            elif ci.ctp is not None and direct_source:
                detail = (
                    f" (ClientTrafficPolicy {obj_text(ci.ctp)} sets clientIPDetection.directSourceIP, which "
                    "takes the peer address: behind the load balancer that is the load balancer)"
                )
                this_fix = f"replace directSourceIP in ClientTrafficPolicy {obj_text(ci.ctp)} with {settings}"
            elif ci.ctp is not None:
                detail = (
                    f" (ClientTrafficPolicy {obj_text(ci.ctp)} applies but sets neither proxyProtocol nor "
                    "clientIPDetection)"
                )
                this_fix = f"add to ClientTrafficPolicy {obj_text(ci.ctp)}: {settings}"
            elif rejected:
                detail = (
                    f" (ClientTrafficPolicy {', '.join(rejected)} targets it but is not Accepted, see EGD303)"
                )
                this_fix = f"make ClientTrafficPolicy {', '.join(rejected)} Accepted (see EGD303)"
            elif misplaced:
                detail = (
                    f" (ClientTrafficPolicy {', '.join(misplaced)} names it from another namespace, "
                    "see EGD302)"
                )
                this_fix = f"move ClientTrafficPolicy {', '.join(misplaced)} to namespace {ns} (see EGD302)"
            else:
                detail = ""
                this_fix = (
                    f"create a ClientTrafficPolicy in namespace {ns} targeting Gateway {name}: {settings}"
                )
            issues.append(
                (
                    lv.name,
                    Issue(
                        "EGD301",
                        (detail,),
                        gv.obj.ref,
                        {"detail": detail, "fix": this_fix},
                        evidence={"clientIP": ci.describe()},
                        report=bool(lv.attachments),
                    ),
                )
            )
        yield from emit(gv, issues)


@check("ctp-targets", inputs=["Gateway", "ClientTrafficPolicy", *_ROUTES], codes=["EGD302"])
def ctp_targets(ctx: CheckContext) -> Iterator[Finding]:
    """ClientTrafficPolicies target a Gateway (and listener) that exists in their own namespace.

    Envoy Gateway writes no status at all for a policy whose target Gateway is missing
    (internal/gatewayapi/clienttrafficpolicy.go), so this is judged from the spec.
    """
    gateways = ctx.topology.gateways
    covered = gateway_namespaces(ctx)
    for ctp in ctx.snapshot.of("ClientTrafficPolicy"):
        ns = ctp.namespace or ""
        for i, ref in enumerate(policy_targets(ctp)):
            if ref.get("kind", "Gateway") != "Gateway" or ref.get("group", GW) != GW:
                continue
            name = str(ref.get("name", ""))
            section = ref.get("sectionName")
            gv = gateways.get((ns, name))
            field_name = "targetRef" if ref is ctp.spec.get("targetRef") else f"targetRefs[{i}]"
            if gv is None:
                if covered is not None and ns not in covered:
                    continue
                elsewhere = sorted(k for k in gateways if k[1] == name)
                local = sorted(k[1] for k in gateways if k[0] == ns)
                if elsewhere:
                    home = elsewhere[0][0] if len(elsewhere) == 1 else " or ".join(k[0] for k in elsewhere)
                    problem = (
                        f"{obj_text(ctp)} targets Gateway {name} in its own namespace {ns}, but Gateway "
                        f"{name} lives in namespace {home}"
                    )
                    fix = (
                        f"policy target references are local: create the ClientTrafficPolicy in namespace "
                        f"{home} next to the Gateway, then delete {obj_text(ctp)}"
                    )
                    where = GatewayRef(*elsewhere[0], section) if len(elsewhere) == 1 else None
                else:
                    problem = f"{obj_text(ctp)} {field_name} names Gateway {ns}/{name}, which does not exist"
                    fix = f"correct {field_name}.name" + (
                        f" (Gateways in {ns}: {', '.join(local)})"
                        if local
                        else f"; there is no Gateway in namespace {ns}"
                    )
                    where = GatewayRef(ns, local[0]) if len(local) == 1 else None
                yield make_finding(
                    "EGD302",
                    subject=ctp.ref,
                    gateway=where,
                    problem=problem,
                    fix=fix,
                    evidence={"targetRef": dict(ref)},
                )
            elif isinstance(section, str) and gv.listener(section) is None:
                names = [lv.name for lv in gv.listeners]
                yield make_finding(
                    "EGD302",
                    subject=ctp.ref,
                    gateway=GatewayRef(ns, name),
                    problem=f"{obj_text(ctp)} {field_name} names listener {section} of "
                    f"{gateway_text(gv.key)}, which has no listener of that name",
                    fix=f"set sectionName to one of {', '.join(names)}, or drop sectionName to target the "
                    "whole Gateway",
                    evidence={"targetRef": dict(ref), "listeners": names},
                )
        for j, sel in enumerate(as_list(ctp.spec.get("targetSelectors"))):
            if not isinstance(sel, Mapping) or sel.get("kind", "Gateway") != "Gateway":
                continue
            if covered is not None and ns not in covered:
                continue
            # An empty selector selects every Gateway of the namespace (internal/gatewayapi/helpers.go);
            # namespaces (v1.8+) may reach Gateways elsewhere, with a ReferenceGrant there.
            spaces = sel.get("namespaces")
            reaches_out = isinstance(spaces, Mapping) and (spaces.get("from") or "Same") != "Same"
            if reaches_out and not {"Namespace", "ReferenceGrant"} <= set(ctx.snapshot.fetched):
                continue  # cannot tell which Gateways of other namespaces it may select
            namespace_labels = {n.name: dict(n.labels) for n in ctx.snapshot.of("Namespace")}
            grants = [g.raw for g in ctx.snapshot.of("ReferenceGrant")]
            matched = [
                k
                for k, g in gateways.items()
                if selector_namespace_ok(sel, ctp, k, namespace_labels, grants)
                and (selector_is_empty(sel) or selector_matches(sel, g.obj.labels))
            ]
            if not matched:
                in_ns = sorted(k for k in gateways if k[0] == ns)
                yield make_finding(
                    "EGD302",
                    subject=ctp.ref,
                    gateway=GatewayRef(*in_ns[0]) if len(in_ns) == 1 else None,
                    problem=f"{obj_text(ctp)} targetSelectors[{j}] matches no Gateway in namespace {ns} "
                    f"(selector {thaw(sel.get('matchLabels') or sel.get('matchExpressions') or {})})",
                    fix="put those labels on the Gateway object itself, or use targetRefs with the "
                    "Gateway's name",
                    evidence={"targetSelector": thaw(sel)},
                )


def _spec_target_missing(ctx: CheckContext, key: GatewayKey, section: str | None) -> bool:
    gv = ctx.topology.gateways.get(key)
    return gv is None or (section is not None and gv.listener(section) is None)


@check("ctp-status", inputs=["Gateway", "ClientTrafficPolicy"], codes=["EGD303"])
def ctp_status(ctx: CheckContext) -> Iterator[Finding]:
    """ClientTrafficPolicies are Accepted and not overridden, as Envoy Gateway reports in status.ancestors."""
    for ctp in ctx.snapshot.of("ClientTrafficPolicy"):
        for anc in as_list(ctp.status.get("ancestors")):
            if not isinstance(anc, Mapping) or anc.get("controllerName") != EG_CONTROLLER:
                continue
            ref = as_map(anc.get("ancestorRef"))
            kind = str(ref.get("kind", "Gateway"))
            ns, name = str(ref.get("namespace") or ctp.namespace or ""), str(ref.get("name", ""))
            section = ref.get("sectionName") if isinstance(ref.get("sectionName"), str) else None
            where = GatewayRef(ns, name, section) if kind == "Gateway" else None
            ancestor = f"{kind} {ns}/{name}" + (f" listener {section}" if section else "")
            conds = conditions(anc)
            accepted, overridden = conds.get("Accepted"), conds.get("Overridden")
            if accepted is not None and accepted.get("status") == "False":
                reason = str(accepted.get("reason", ""))
                if (
                    reason == "TargetNotFound"
                    and kind == "Gateway"
                    and _spec_target_missing(ctx, (ns, name), section)
                ):
                    continue  # EGD302 names the missing listener from the spec
                message = str(accepted.get("message", ""))
                effect, fix = _rejection_advice(ctx, ctp, (ns, name), reason, message)
                yield make_finding(
                    "EGD303",
                    subject=ctp.ref,
                    gateway=where,
                    ctp=obj_text(ctp),
                    ancestor=ancestor,
                    condition="Accepted=False",
                    reason=reason,
                    message=accepted.get("message", ""),
                    effect=effect,
                    fix=fix,
                    evidence={"condition": dict(accepted)},
                )
            if overridden is not None and overridden.get("status") == "True":
                yield make_finding(
                    "EGD303",
                    subject=ctp.ref,
                    gateway=where,
                    severity=Severity.WARNING,
                    ctp=obj_text(ctp),
                    ancestor=ancestor,
                    condition="Overridden=True",
                    reason=overridden.get("reason", ""),
                    message=overridden.get("message", ""),
                    effect="; the overridden listeners take every setting from their section-level "
                    "ClientTrafficPolicy only, so client-IP handling must be configured there too",
                    fix="repeat proxyProtocol / clientIPDetection in each section-level "
                    "ClientTrafficPolicy, or merge those into this one",
                    evidence={"condition": dict(overridden)},
                )


def _rejection_advice(
    ctx: CheckContext, ctp: Obj, key: GatewayKey, reason: str, message: str
) -> tuple[str, str]:
    describe = f"`kubectl describe clienttrafficpolicy -n {ctp.namespace} {ctp.name}`"
    if reason == "Conflicted":
        gv = ctx.topology.gateways.get(key)
        winners = sorted(
            {
                obj_text(lv.client_ip.ctp)
                for lv in (gv.listeners if gv else ())
                if lv.client_ip.ctp is not None and lv.client_ip.ctp.key != ctp.key
            }
        )
        winner = f" ({', '.join(winners)})" if winners else ""
        return (
            f"; it does nothing while the older ClientTrafficPolicy{winner} configures this target",
            f"keep one ClientTrafficPolicy per Gateway or listener: move the settings of {obj_text(ctp)} "
            f"into the attached one{winner} and delete {obj_text(ctp)}",
        )
    if reason == "Invalid" and PORT_OVERLAP in message:
        return (
            "; Envoy Gateway applies none of it to that listener, and a Gateway-wide ClientTrafficPolicy "
            "does not apply there either: the listener (and every plain-HTTP listener on its port) runs "
            "without PROXY protocol or client-IP detection",
            "target the whole Gateway instead of one of several plain-HTTP listeners that share a port, or "
            f"give the listeners their own ports ({describe})",
        )
    if reason == "Invalid":
        tls_only = all(line.startswith("TLS:") for line in message.splitlines() if line.strip())
        where = "the affected listeners"
        if tls_only and message.strip():
            where = "the listeners that terminate TLS"
        return (
            f"; Envoy Gateway answers every route on {where} with HTTP 500 and applies its clientIPDetection "
            "there but not its proxyProtocol",
            f"fix the field the message names ({describe})",
        )
    if reason == "TargetNotFound":
        return "", "correct targetRefs / sectionName so they name an existing Gateway listener"
    return "", f"fix what the controller reports ({describe})"


@check(
    "lb-proxy-agreement",
    inputs=["Gateway", "ClientTrafficPolicy", "EnvoyService"],
    codes=["EGD304", "EGD305"],
)
def lb_proxy_agreement(ctx: CheckContext) -> Iterator[Finding]:
    """The ClientTrafficPolicy expects PROXY protocol exactly when the load balancer sends it."""
    for gv in eg_gateways(ctx):
        yield from emit(gv, proxy_mismatch_issues(ctx, gv))


@check(
    "ctp-proxy-settings",
    inputs=["Gateway", "ClientTrafficPolicy", "EnvoyGatewayDeployment"],
    codes=["EGD306", "EGD307"],
)
def ctp_proxy_settings(ctx: CheckContext) -> Iterator[Finding]:
    """PROXY protocol is strict, and set with proxyProtocol rather than the deprecated enableProxyProtocol.

    proxyProtocol arrived in Envoy Gateway v1.5.0, which deprecated enableProxyProtocol
    (api/v1alpha1/clienttrafficpolicy_types.go at v1.4.0 and v1.5.0): on an older release the bool is the
    only way, so nothing is reported; when the release is unknown the fix names the release it needs."""
    version = eg_version(ctx.snapshot)
    for gv in eg_gateways(ctx):
        issues = [
            (
                lv.name,
                Issue(
                    "EGD306",
                    (_ctp_key(lv.client_ip),),
                    lv.client_ip.ctp.ref,
                    {"ctp": _ctp_name(lv.client_ip)},
                    evidence={"clientIP": lv.client_ip.describe()},
                ),
            )
            for lv in gv.listeners
            if lv.client_ip.proxy_protocol == "optional" and lv.client_ip.ctp is not None
        ]
        yield from emit(gv, issues)
    for ctp in ctx.snapshot.of("ClientTrafficPolicy"):
        if "enableProxyProtocol" not in ctp.spec:
            continue
        legacy = ctp.spec.get("enableProxyProtocol")
        if version.before(1, 5) and not isinstance(ctp.spec.get("proxyProtocol"), Mapping):
            continue  # the field is not deprecated before v1.5, and its replacement does not exist there
        # internal/gatewayapi/clienttrafficpolicy.go: a proxyProtocol block wins over the legacy bool.
        if isinstance(ctp.spec.get("proxyProtocol"), Mapping):
            effect = "; spec.proxyProtocol is also set and wins, so enableProxyProtocol is ignored"
            fix = "delete enableProxyProtocol; proxyProtocol already says what Envoy does"
        elif legacy is True:
            effect = " (it turns on strict PROXY protocol, like proxyProtocol: {optional: false})"
            fix = "replace `enableProxyProtocol: true` with `proxyProtocol: {optional: false}`"
            if version.version is None:
                fix += " (proxyProtocol needs Envoy Gateway v1.5 or later; check the release you run)"
        else:
            effect = f" (set to {legacy!r}, it turns nothing on)"
            fix = "delete enableProxyProtocol"
        targets = ctx.topology.ctp_targets.get(ctp.key, ())
        known = [(k, s) for k, s in targets if k in ctx.topology.gateways]
        where = GatewayRef(*known[0][0], known[0][1]) if known else None
        yield make_finding(
            "EGD307",
            subject=ctp.ref,
            gateway=where,
            ctp=obj_text(ctp),
            effect=effect,
            fix=fix,
            evidence={"enableProxyProtocol": legacy},
        )


@check("xff-hops", inputs=["Gateway", "ClientTrafficPolicy"], codes=["EGD308"])
def xff_hops(ctx: CheckContext) -> Iterator[Finding]:
    """numTrustedHops equals the number of trusted proxies the user expects (--expect-hops)."""
    expected = ctx.options.expect_hops
    if expected is None:
        return
    for gv in eg_gateways(ctx):
        issues = []
        for lv in gv.listeners:
            ci = lv.client_ip
            if ci.xff_hops is None or ci.xff_hops == expected or ci.ctp is None:
                continue
            hops = ci.xff_hops
            # Envoy Gateway takes the Nth address from the right of X-Forwarded-For
            # (api/v1alpha1/clienttrafficpolicy_types.go, XForwardedForSettings).
            if hops > expected:
                effect = (
                    f"Envoy takes the address {hops} from the right of X-Forwarded-For, "
                    f"{hops - expected} beyond the entries your proxies append, which the client writes "
                    "itself: client IPs can be forged"
                )
            else:
                effect = (
                    f"Envoy takes the address {hops} from the right of X-Forwarded-For, one your own "
                    "proxies appended: logs, rate limits and IP rules see a proxy instead of the client"
                )
            issues.append(
                (
                    lv.name,
                    Issue(
                        "EGD308",
                        (_ctp_key(ci), hops),
                        ci.ctp.ref,
                        {
                            "hops": hops,
                            "expected": expected,
                            "source": " (--expect-hops)",
                            "effect": effect,
                            "ctp": _ctp_name(ci),
                        },
                        evidence={"clientIP": ci.describe()},
                    ),
                )
            )
        yield from emit(gv, issues)


def _mixed_problems(ci: ClientIP) -> list[tuple[str, str, str]]:
    """(group, problem, fix) for each way a listener's settings leave the two documented modes."""
    out = []
    header = "X-Forwarded-For" if ci.xff else f"header {ci.custom_header}"
    if ci.proxy_protocol != "off" and (ci.xff or ci.custom_header):
        # envoyproxy/gateway internal/xds/translator/listener.go: with clientIPDetection the HCM stops
        # using the connection (PROXY) address whenever the header is present.
        problem = (
            f"enables PROXY protocol and also trusts {header}: Envoy takes the client IP from {header}, "
            "which a client connecting through the TCP load balancer writes itself (the PROXY address counts "
            "only when the header is missing), so any client can forge its IP"
        )
        fix = (
            "direct mode: remove clientIPDetection; XFF mode behind a CDN/WAF: remove proxyProtocol and the "
            "load balancer's proxy-protocol annotation. Keep both only if an HTTP proxy that overwrites "
            f"{header} sits in front of a PROXY-protocol load balancer"
        )
        out.append(("proxy+xff", problem, fix))
    if ci.trusted_cidrs:
        problem = (
            f"uses xForwardedFor.trustedCIDRs {', '.join(ci.trusted_cidrs)}: Envoy trusts X-Forwarded-For "
            "only when the TCP peer is inside those ranges, and behind the Octavia load balancer the TCP "
            "peer is the load balancer, not your CDN: CDN ranges make Envoy ignore the header, the load "
            "balancer's network makes it trust every client"
        )
        fix = (
            "use xForwardedFor.numTrustedHops: N (N = the proxies in front of the load balancer), the "
            "documented XFF mode"
        )
        out.append(("cidrs", problem, fix))
    if ci.custom_header:
        problem = (
            f"takes the client IP from header {ci.custom_header} (clientIPDetection.customHeader): safe "
            "only if every request passes a proxy that overwrites that header and the load balancer admits "
            "only that proxy"
        )
        fix = "use xForwardedFor.numTrustedHops: N behind a CDN/WAF, or proxyProtocol for direct clients"
        out.append(("header", problem, fix))
    return out


@check("clientip-mixed", inputs=["Gateway", "ClientTrafficPolicy"], codes=["EGD309"])
def clientip_mixed(ctx: CheckContext) -> Iterator[Finding]:
    """Each listener uses one of the two documented modes, with numTrustedHops in XFF mode."""
    for gv in eg_gateways(ctx):
        issues = []
        for lv in gv.listeners:
            ci = lv.client_ip
            if ci.ctp is None:
                continue
            for group, problem, fix in _mixed_problems(ci):
                params = {"ctp": f"ClientTrafficPolicy {_ctp_name(ci)}", "problem": problem, "fix": fix}
                evidence = {"clientIP": ci.describe()}
                # PROXY protocol plus XFF trust lets any client pick its IP: an error by the catalogue's rule
                severity = Severity.ERROR if group == "proxy+xff" else Severity.WARNING
                issues.append(
                    (lv.name, Issue("EGD309", (ci.ctp.key, group), ci.ctp.ref, params, evidence, severity))
                )
        yield from emit(gv, issues)


@check("lb-annotations", inputs=["Gateway", "EnvoyService"], codes=["EGD310", "EGD311"])
def lb_annotations(ctx: CheckContext) -> Iterator[Finding]:
    """The Envoy Service asks Octavia for PROXY v2 (not v1) and for plain TCP (no HTTP termination)."""
    for gv in eg_gateways(ctx):
        svc = gv.envoy_service
        if svc is None:
            continue
        codes = annotation_codes(gv)
        for code, annotation in (("EGD310", PROXY_PROTOCOL_ANNOTATION), ("EGD311", XFF_ANNOTATION)):
            if code in codes:
                yield make_finding(
                    code,
                    subject=svc.ref,
                    gateway=GatewayRef(*gv.key),
                    service=obj_text(svc),
                    annotation=annotation,
                    value=svc.annotations.get(annotation),
                )


@check("envoy-service", inputs=["Gateway", "EnvoyService"], codes=["EGD312"])
def envoy_service(ctx: CheckContext) -> Iterator[Finding]:
    """Each Gateway has an Envoy Service of type LoadBalancer with an ingress address."""
    for gv in eg_gateways(ctx):
        ns, name = gv.key
        svc = gv.envoy_service
        where = GatewayRef(ns, name)
        if svc is None:
            cls = str(gv.obj.spec.get("gatewayClassName") or "")
            deployment = gv.deployment
            if deployment.merge:
                problem = (
                    f"was not found: EnvoyProxy {deployment.envoyproxy} sets mergeGateways, so one Envoy "
                    f"serves GatewayClass {cls}, but no Service in {ENVOY_GATEWAY_SYSTEM} carries the label "
                    f"{OWNING_GATEWAYCLASS}={cls}"
                )
            else:
                problem = (
                    f"was not found: no Service carries the labels {OWNING_GATEWAY_NAME}={name} and "
                    f"{OWNING_GATEWAY_NAMESPACE}={ns} (one Envoy per Gateway, in {ENVOY_GATEWAY_SYSTEM} "
                    f"or, in GatewayNamespace deploy mode, in {ns}), nor {OWNING_GATEWAYCLASS}={cls} "
                    "(mergeGateways)"
                )
            yield make_finding(
                "EGD312",
                subject=gv.obj.ref,
                gateway=where,
                gateway_name=gateway_text(gv.key),
                service="",
                problem=problem,
                fix="Envoy Gateway creates it for every Gateway it accepts: check that the Gateway is "
                "Accepted (EGD102), the GatewayClass too (EGD101), and the controller's logs",
                evidence={"deployMode": deployment.mode},
            )
            continue
        svc_type = str(svc.spec.get("type") or "ClusterIP")
        ingress = [
            i
            for i in as_list(as_map(svc.status.get("loadBalancer")).get("ingress"))
            if isinstance(i, Mapping) and (i.get("ip") or i.get("hostname"))
        ]
        if svc_type != "LoadBalancer":
            yield make_finding(
                "EGD312",
                subject=svc.ref,
                gateway=where,
                gateway_name=gateway_text(gv.key),
                service=f" ({obj_text(svc)})",
                problem=f"is of type {svc_type}, not LoadBalancer: Octavia creates no load "
                "balancer and the Gateway gets no public address",
                fix="remove the envoyService.type override from the EnvoyProxy (the default is LoadBalancer)",
                evidence={"type": svc_type},
            )
        elif not ingress:
            yield make_finding(
                "EGD312",
                subject=svc.ref,
                gateway=where,
                gateway_name=gateway_text(gv.key),
                service=f" ({obj_text(svc)})",
                problem="has no address in status.loadBalancer.ingress: Octavia has not "
                "finished, or failed, creating the load balancer",
                fix=f"`kubectl describe service -n {svc.namespace} {svc.name}` shows the cloud controller's "
                "events (quota, flavor, subnet or floating-IP errors)",
            )


@check(
    "envoy-deploy-mode", inputs=["GatewayClass", "Gateway", "EnvoyProxy", "EnvoyService"], codes=["EGD108"]
)
def envoy_deploy_mode(ctx: CheckContext) -> Iterator[Finding]:
    """The Envoy Service is labelled as the GatewayClass's EnvoyProxy (mergeGateways) says it should be."""
    for gv in eg_gateways(ctx):
        svc, deployment = gv.envoy_service, gv.deployment
        if svc is None or deployment.as_configured:
            continue
        cls = str(gv.obj.spec.get("gatewayClassName") or "")
        if deployment.merge:
            found = f"labelled for this Gateway alone ({OWNING_GATEWAY_NAME})"
            fix = (
                f"Envoy Gateway moves every Gateway of the class onto one Envoy Service labelled "
                f"{OWNING_GATEWAYCLASS}={cls}: check GatewayClass {cls} is Accepted (mergeGateways and the "
                "GatewayNamespace deploy mode exclude each other) and the controller's logs; the move gives "
                "the class a new load balancer and a new address (see EGD314)"
            )
        else:
            found = f"the GatewayClass's shared one ({OWNING_GATEWAYCLASS}={cls})"
            fix = (
                "Envoy Gateway gives each Gateway its own Envoy Service once mergeGateways is off: check the "
                "controller's logs; each Gateway gets a new load balancer and a new address"
            )
        yield make_finding(
            "EGD108",
            subject=svc.ref,
            gateway=GatewayRef(*gv.key),
            envoyproxy=deployment.envoyproxy,
            gateway_class=cls,
            merge=str(deployment.merge).lower(),
            gateway_name=gateway_text(gv.key),
            service=obj_text(svc),
            found=found,
            fix=fix,
            evidence={"deployMode": deployment.mode, "mergeGateways": deployment.merge},
        )


@check("xff-open-lb", inputs=["Gateway", "ClientTrafficPolicy", "EnvoyService"], codes=["EGD313"])
def xff_open_lb(ctx: CheckContext) -> Iterator[Finding]:
    """In XFF mode the load balancer admits only the edge proxy (loadBalancerSourceRanges)."""
    for gv in eg_gateways(ctx):
        svc = gv.envoy_service
        if svc is None:
            continue
        ranges = _source_ranges(svc)
        if ranges and not _OPEN_RANGES & set(ranges):
            continue
        why = (
            "no loadBalancerSourceRanges"
            if not ranges
            else f"loadBalancerSourceRanges include {', '.join(sorted(_OPEN_RANGES & set(ranges)))}"
        )
        issues = []
        for lv in gv.listeners:
            ci = lv.client_ip
            if ci.mode != "xff":
                continue
            if ci.xff_hops is not None:
                trusts = f"X-Forwarded-For (numTrustedHops {ci.xff_hops})"
            elif ci.trusted_cidrs:
                trusts = "X-Forwarded-For (trustedCIDRs)"
            else:
                trusts = f"header {ci.custom_header}"
            issues.append(
                (
                    lv.name,
                    Issue(
                        "EGD313",
                        (trusts,),
                        svc.ref,
                        {
                            "trusts": trusts,
                            "service": obj_text(svc),
                            "why": why,
                            "source_ranges_fix": source_ranges_fix(ctx.snapshot, gv.obj),
                        },
                        evidence={"clientIP": ci.describe(), "loadBalancerSourceRanges": ranges},
                    ),
                )
            )
        yield from emit(gv, issues)


@check("lb-recreation", inputs=["Gateway", "ClientTrafficPolicy", "EnvoyService"], codes=["EGD314"])
def lb_recreation(ctx: CheckContext) -> Iterator[Finding]:
    """Fixes that change load-balancer annotations come with a reminder that Octavia rebuilds the LB."""
    for gv in eg_gateways(ctx):
        svc = gv.envoy_service
        if svc is None:
            continue
        codes: set[str] = set(annotation_codes(gv))
        codes |= {issue.code for _, issue in proxy_mismatch_issues(ctx, gv) if issue.touches_lb}
        codes |= {issue.code for _, issue in mode_mismatch_issues(ctx, gv)}
        if not codes:
            continue
        address = ", ".join(gv.addresses) or "(none yet)"
        keep = svc.annotations.get(KEEP_FIP_ANNOTATION) == "true"
        pinned = str(svc.spec.get("loadBalancerIP") or "")
        if keep and pinned:
            ip_note = f"; keep-floatingip is set and spec.loadBalancerIP pins {pinned}, so the address stays"
            fix = "expect a short outage while Octavia rebuilds the load balancer; DNS can stay as it is"
        elif keep:
            ip_note = f"; keep-floatingip is set, so the floating IP {address} is kept but not reattached"
            fix = (
                f"before the change, pin the address with EnvoyProxy envoyService.loadBalancerIP: {address} "
                "so the new load balancer takes it over; otherwise update DNS for every hostname on the "
                "Gateway"
            )
        else:
            ip_note = f" with a new public IP (today {address})"
            fix = (
                f'before the change, set {KEEP_FIP_ANNOTATION}: "true" and pin the address with EnvoyProxy '
                f"envoyService.loadBalancerIP: {address}, or plan a DNS update for every hostname on the "
                "Gateway"
            )
        yield make_finding(
            "EGD314",
            subject=svc.ref,
            gateway=GatewayRef(*gv.key),
            service=obj_text(svc),
            codes=", ".join(sorted(codes)),
            ip_note=ip_note,
            fix=fix,
            evidence={"codes": sorted(codes), "addresses": list(gv.addresses)},
        )


@check("expect-mode", inputs=["Gateway", "ClientTrafficPolicy"], codes=["EGD315"])
def expect_mode(ctx: CheckContext) -> Iterator[Finding]:
    """The configured client-IP mode is the one the user expects (--expect-mode).

    Reads the load balancer's PROXY setting when the Envoy Service was readable; without it the mode
    comes from the ClientTrafficPolicy alone.
    """
    for gv in eg_gateways(ctx):
        yield from emit(gv, mode_mismatch_issues(ctx, gv))
