"""Envoy Gateway's own verdicts, carried to the object they concern.

One generic rule (EGD709): every condition with a negative meaning EG writes on an object egdoctor reads
(egdoctor.model.verdicts) becomes a finding with EG's type, reason and message, unless a more specific
finding on the same object explains it (the engine drops the generic one then). Specific codes say more
where egdoctor can: a route with rules dropped (EGD208), listeners sharing TLS hostnames or certificates
(EGD109), a ListenerSet whose listeners or routes are not accepted (EGD110), an invalid EnvoyProxy
(EGD111), a failing EnvoyExtensionPolicy (EGD706), an EnvoyPatchPolicy not applied (EGD707).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from egdoctor.checks.registry import CheckContext, check
from egdoctor.findings.codes import make_finding
from egdoctor.findings.model import Finding, GatewayRef, Severity
from egdoctor.model.topology import policy_targets
from egdoctor.model.verdicts import Verdict, verdicts
from egdoctor.snapshot.kinds import KINDS, ROUTE_KINDS
from egdoctor.snapshot.objects import Obj, as_list, as_map

GENERIC = "EGD709"
POLICY_KINDS = (
    "ClientTrafficPolicy",
    "BackendTrafficPolicy",
    "SecurityPolicy",
    "BackendTLSPolicy",
    "EnvoyExtensionPolicy",
    "EnvoyPatchPolicy",
)
ALL_ROUTE_KINDS = (*ROUTE_KINDS, "UDPRoute")
LISTENERSET_KINDS = ("ListenerSet", "XListenerSet")
VERDICT_KINDS = ("Gateway", *ALL_ROUTE_KINDS, *LISTENERSET_KINDS, *POLICY_KINDS, "Backend", "HTTPRouteFilter")


def _describe(obj: Obj) -> str:
    plural = KINDS[obj.kind].plural if obj.kind in KINDS else obj.kind.lower()
    where = f" -n {obj.namespace}" if obj.namespace else ""
    return f"`kubectl describe {plural}{where} {obj.name}`"


def _ours(ctx: CheckContext, obj: Obj) -> bool:
    """A Gateway of another class is another controller's business."""
    return obj.kind != "Gateway" or obj.spec.get("gatewayClassName") == ctx.options.gateway_class


def _gateway_of(obj: Obj, verdict: Verdict) -> GatewayRef | None:
    """The Gateway a finding is grouped under and scoped by. A policy on a route or a Service, a
    ListenerSet, a Backend: none, so that it is shown to its own namespace only."""
    if obj.kind == "Gateway":
        return GatewayRef(obj.namespace or "", obj.name, verdict.listener)
    ref = verdict.ref
    if ref is None or (ref.get("kind") or "Gateway") != "Gateway":
        return None
    if obj.kind in POLICY_KINDS and not any(r.get("kind") == "Gateway" for r in policy_targets(obj)):
        return None
    section = ref.get("sectionName")
    return GatewayRef(
        str(ref.get("namespace") or obj.namespace or ""),
        str(ref.get("name") or ""),
        str(section) if isinstance(section, str) and obj.kind in POLICY_KINDS else None,
    )


def _where(obj: Obj, verdict: Verdict) -> str:
    if verdict.listener is not None:
        return f"listener {verdict.listener}"
    if verdict.ref is not None:
        return ("on " if obj.kind in POLICY_KINDS else "parent ") + verdict.ref_text(obj.namespace)
    return "status"


def _severity(verdict: Verdict) -> Severity | None:
    # an overridden policy still applies where nothing more specific replaces it
    return Severity.WARNING if verdict.type == "Overridden" else None


def _generic(ctx: CheckContext, kind: str) -> Iterator[Finding]:
    for obj in ctx.snapshot.of(kind):
        if not _ours(ctx, obj):
            continue
        for verdict in verdicts(obj):
            yield make_finding(
                GENERIC,
                subject=obj.ref,
                gateway=_gateway_of(obj, verdict),
                severity=_severity(verdict),
                where=_where(obj, verdict),
                condition=f"{verdict.type}={verdict.status}",
                reason=verdict.reason or "no reason",
                message=verdict.message or "no message",
                fix=f"fix what Envoy Gateway's message names ({_describe(obj)})",
                evidence={"condition": dict(verdict.condition)},
            )


def _register_generic(kind: str) -> None:
    def run(ctx: CheckContext) -> Iterator[Finding]:
        return _generic(ctx, kind)

    run.__doc__ = f"Envoy Gateway reports no problem on {kind}s (status conditions)."
    check(f"verdicts-{kind.lower()}", inputs=[kind], codes=[GENERIC])(run)


for _kind in VERDICT_KINDS:
    _register_generic(_kind)


# -- EGD208 -------------------------------------------------------------------------------------------------


@check("route-partially-invalid", inputs=list(ALL_ROUTE_KINDS), codes=["EGD208"])
def route_partially_invalid(ctx: CheckContext) -> Iterator[Finding]:
    """No route has rules Envoy Gateway dropped (PartiallyInvalid)."""
    for kind in ALL_ROUTE_KINDS:
        for route in ctx.snapshot.of(kind):
            for verdict in verdicts(route):
                if verdict.type != "PartiallyInvalid":
                    continue
                yield make_finding(
                    "EGD208",
                    subject=route.ref,
                    gateway=_gateway_of(route, verdict),
                    route=f"{kind} {route.namespace}/{route.name}",
                    parent=verdict.ref_text(route.namespace),
                    reason=verdict.reason or "no reason",
                    message=verdict.message or "no message",
                    evidence={"condition": dict(verdict.condition)},
                )


# -- EGD109 -------------------------------------------------------------------------------------------------


# internal/xds/translator/listener.go (envoyproxy/gateway v1.9.1): a listener whose certificate SANs
# overlap another's on the port (or cannot be inspected, SDS) gets ALPN http/1.1 unless a
# ClientTrafficPolicy sets ALPN: HTTP/2 is switched off there to prevent connection coalescing.
_HTTP1_ONLY_REASONS = {"OverlappingCertificates", "SDSCertificateOpaque"}


def _grpc_routes_on(ctx: CheckContext, gw: Obj, listener: str | None) -> list[str]:
    view = ctx.topology.gateways.get((gw.namespace or "", gw.name))
    if view is None:
        return []
    return sorted(
        {
            f"{a.route.namespace}/{a.route.name}"
            for lv in view.listeners
            if lv.name == listener
            for a in lv.attachments
            if a.route.kind == "GRPCRoute"
        }
    )


@check("listener-tls-overlap", inputs=["Gateway", "GRPCRoute"], codes=["EGD109"])
def listener_tls_overlap(ctx: CheckContext) -> Iterator[Finding]:
    """No HTTPS listeners share hostnames or certificates (HTTP/2 connection coalescing)."""
    for gw in ctx.snapshot.of("Gateway"):
        if not _ours(ctx, gw):
            continue
        for verdict in verdicts(gw):
            if verdict.type != "OverlappingTLSConfig":
                continue
            grpc: list[str] = []
            if verdict.reason in _HTTP1_ONLY_REASONS:
                grpc = _grpc_routes_on(ctx, gw, verdict.listener)
                effect = (
                    "Envoy Gateway serves this listener with HTTP/1.1 only (ALPN http/1.1) so that HTTP/2 "
                    "clients do not reuse one connection across listeners, unless a ClientTrafficPolicy "
                    "sets ALPN (which brings the misrouting back)"
                )
                if grpc:
                    effect += f"; gRPC needs HTTP/2, so GRPCRoute {', '.join(grpc)} fails on it"
            else:
                effect = (
                    "an HTTP/2 client that reuses a connection made for one listener's hostname for "
                    "another's reaches the wrong listener, which answers 404 or 421"
                )
            yield make_finding(
                "EGD109",
                subject=gw.ref,
                gateway=GatewayRef(gw.namespace or "", gw.name, verdict.listener),
                severity=Severity.ERROR if grpc else None,
                listener=verdict.listener,
                problem=f"({verdict.reason}): {verdict.message}; {effect}",
                evidence={"condition": dict(verdict.condition), "grpcRoutes": grpc},
            )


# -- EGD110 -------------------------------------------------------------------------------------------------


def _listenerset_fix(verdict: Verdict) -> str:
    if verdict.reason == "NotAllowed":
        return (
            "the Gateway does not admit ListenerSets from this namespace: ask its owner to allow it in "
            "spec.allowedListeners, or create the ListenerSet where it is allowed"
        )
    if verdict.type == "Conflicted" or "Conflict" in verdict.reason:
        return (
            "another listener (on the Gateway or another ListenerSet) already uses this port, protocol and "
            "hostname: change this listener's hostname or port"
        )
    return "fix the listener the message names (`kubectl describe listenerset -n NS NAME`)"


def _causes(found: list[Verdict]) -> list[Verdict]:
    """Programmed=False follows from any other failing condition: said alone only when nothing else is."""
    causes = [v for v in found if v.type != "Programmed"]
    return causes or found


@check("listenerset-accepted", inputs=[*LISTENERSET_KINDS], codes=["EGD110"])
def listenerset_accepted(ctx: CheckContext) -> Iterator[Finding]:
    """Every ListenerSet and each of its listeners is accepted by Envoy Gateway."""
    for kind in LISTENERSET_KINDS:
        for lset in ctx.snapshot.of(kind):
            for verdict in _causes(list(verdicts(lset))):
                where = f"listener {verdict.listener}" if verdict.listener is not None else "status"
                yield make_finding(
                    "EGD110",
                    subject=lset.ref,
                    listenerset=f"{kind} {lset.namespace}/{lset.name}",
                    problem=f"{where}: {verdict.type}={verdict.status} ({verdict.reason}): {verdict.message}",
                    fix=_listenerset_fix(verdict),
                    evidence={"condition": dict(verdict.condition)},
                )


@check("listenerset-routes", inputs=list(ALL_ROUTE_KINDS), codes=["EGD110"])
def listenerset_routes(ctx: CheckContext) -> Iterator[Finding]:
    """Routes attached to a ListenerSet are accepted there."""
    for kind in ALL_ROUTE_KINDS:
        for route in ctx.snapshot.of(kind):
            for verdict in verdicts(route):
                if verdict.ref is None or verdict.ref.get("kind") not in LISTENERSET_KINDS:
                    continue
                yield make_finding(
                    "EGD110",
                    subject=route.ref,
                    listenerset=verdict.ref_text(route.namespace),
                    problem=f"does not take {kind} {route.namespace}/{route.name}: {verdict.type}="
                    f"{verdict.status} ({verdict.reason}): {verdict.message}",
                    fix="attach the route to a listener of the ListenerSet that serves its protocol and "
                    "hostnames (parentRefs sectionName), or fix the ListenerSet's listeners first",
                    evidence={"condition": dict(verdict.condition)},
                )


# -- EGD111 -------------------------------------------------------------------------------------------------


def _parameters_ref(obj: Obj) -> Mapping[str, Any]:
    if obj.kind == "GatewayClass":
        return as_map(obj.spec.get("parametersRef"))
    return as_map(as_map(obj.spec.get("infrastructure")).get("parametersRef"))


@check("envoyproxy-parameters", inputs=["GatewayClass", "Gateway"], codes=["EGD111"])
def envoyproxy_parameters(ctx: CheckContext) -> Iterator[Finding]:
    """The EnvoyProxy a GatewayClass or Gateway names is valid."""
    gateways = [g for g in ctx.snapshot.of("Gateway") if _ours(ctx, g)]
    for cls in ctx.snapshot.of("GatewayClass"):
        if cls.name != ctx.options.gateway_class:
            continue
        for verdict in verdicts(cls):
            if verdict.reason == "InvalidParameters":
                # said once per Gateway of the class, so that each Gateway's report carries it
                wheres: list[GatewayRef | None] = [GatewayRef(g.namespace or "", g.name) for g in gateways]
                for where in wheres or [None]:
                    yield _invalid_parameters(cls, verdict, where, "any Gateway of this class")
    for gw in gateways:
        for verdict in verdicts(gw):
            if verdict.reason == "InvalidParameters" and verdict.listener is None:
                where = GatewayRef(gw.namespace or "", gw.name)
                yield _invalid_parameters(gw, verdict, where, "this Gateway")


def _ancestor_text(ref: Mapping[str, Any] | None, namespace: str | None) -> str:
    if not ref:
        return "its GatewayClass or Gateway"
    kind = str(ref.get("kind") or "Gateway")
    if kind == "GatewayClass":
        return f"GatewayClass {ref.get('name')}"
    return f"{kind} {ref.get('namespace') or namespace}/{ref.get('name')}"


@check("envoyproxy-status", inputs=["EnvoyProxy", "GatewayClass", "Gateway"], codes=["EGD111"])
def envoyproxy_status(ctx: CheckContext) -> Iterator[Finding]:
    """An EnvoyProxy Envoy Gateway refused (from v1.9 it writes status on the EnvoyProxy itself), where no
    GatewayClass or Gateway that names it already says so."""
    said = {
        (ref.get("namespace") or (obj.namespace if obj.kind == "Gateway" else None), ref.get("name"))
        for obj in (*ctx.snapshot.of("GatewayClass"), *ctx.snapshot.of("Gateway"))
        if any(v.reason == "InvalidParameters" and v.listener is None for v in verdicts(obj))
        for ref in (_parameters_ref(obj),)
    }
    for proxy in ctx.snapshot.of("EnvoyProxy"):
        if (proxy.namespace, proxy.name) in said:
            continue
        for verdict in verdicts(proxy):
            if verdict.reason != "InvalidParameters":
                continue
            users = _ancestor_text(verdict.ref, proxy.namespace)
            yield _refused(
                proxy, verdict, None, users, proxy.namespace, proxy.name, users, f" for {users}", {}
            )


def _invalid_parameters(obj: Obj, verdict: Verdict, gateway: GatewayRef | None, scope: str) -> Finding:
    ref = _parameters_ref(obj)
    field = "spec.parametersRef" if obj.kind == "GatewayClass" else "spec.infrastructure.parametersRef"
    ns = ref.get("namespace") or (obj.namespace if obj.kind == "Gateway" else None)
    name = str(ref.get("name") or "?")
    reference = f"{field} ({ref.get('kind') or 'EnvoyProxy'} {ns + '/' if ns else ''}{name})"
    return _refused(obj, verdict, gateway, reference, ns, name, scope, "", {"parametersRef": dict(ref)})


def _refused(
    subject: Obj,
    verdict: Verdict,
    gateway: GatewayRef | None,
    reference: str,
    namespace: str | None,
    name: str,
    scope: str,
    for_whom: str,
    evidence: Mapping[str, Any],
) -> Finding:
    """EGD111: `scope` is what Envoy Gateway leaves unprogrammed while the EnvoyProxy `namespace/name`,
    named by `reference`, stays invalid."""
    return make_finding(
        "EGD111",
        subject=subject.ref,
        gateway=gateway,
        problem=f"{verdict.type}={verdict.status} (InvalidParameters){for_whom}: {verdict.message}",
        reference=reference,
        where=f"-n {namespace} {name}" if namespace else name,
        effect=f"does not program {scope}: changes to its listeners and routes do not reach Envoy",
        evidence={"condition": dict(verdict.condition), **evidence},
    )


# -- EGD706 / EGD707 ----------------------------------------------------------------------------------------


_ALWAYS_CLOSED = ("lua", "dynamicModules")


def _fails_closed(policy: Obj, message: str) -> bool:
    """Envoy Gateway answers HTTP 500 on the policy's routes when a failed extension is Lua or a dynamic
    module (no failOpen), or a Wasm/ExtProc without failOpen: true (internal/gatewayapi/
    envoyextensionpolicy.go, failRoute). EG's message names the failed extension type."""
    named = {t for t in ("Lua", "DynamicModule", "Wasm", "ExtProc") if re.search(rf"\b{t}\b", message)}
    if not named:
        named = {"Lua", "DynamicModule", "Wasm", "ExtProc"}
    if named & {"Lua", "DynamicModule"} and any(policy.spec.get(k) for k in _ALWAYS_CLOSED):
        return True
    for failed, field in (("Wasm", "wasm"), ("ExtProc", "extProc")):
        entries = as_list(policy.spec.get(field))
        if failed in named and any(as_map(e).get("failOpen") is not True for e in entries):
            return True
    return False


def _policy_verdicts(ctx: CheckContext, kind: str) -> Iterator[tuple[Obj, Verdict]]:
    for policy in ctx.snapshot.of(kind):
        for verdict in verdicts(policy):
            yield policy, verdict


@check("extension-policy-status", inputs=["EnvoyExtensionPolicy"], codes=["EGD706"])
def extension_policy_status(ctx: CheckContext) -> Iterator[Finding]:
    """EnvoyExtensionPolicies (Wasm, Lua, ext_proc) are in effect; a failing one says closed or open."""
    for policy, verdict in _policy_verdicts(ctx, "EnvoyExtensionPolicy"):
        severity = _severity(verdict)
        if verdict.type == "Overridden":
            effect = "a more specific EnvoyExtensionPolicy replaces it there"
            fix = "move the extensions that should apply into the more specific policy"
        elif verdict.reason == "Invalid" and _fails_closed(policy, verdict.message):
            effect = "it fails closed: Envoy Gateway answers HTTP 500 on every route it targets"
            fix = (
                f"fix the extension the message names ({_describe(policy)}); failOpen: true on a Wasm or "
                "ext_proc extension serves the routes without it instead"
            )
        elif verdict.reason == "Invalid":
            effect = "it fails open: the routes it targets are served without the failed extension"
            fix = f"fix the extension the message names ({_describe(policy)})"
        else:
            effect = "the extensions it configures do not run"
            fix = (
                f"correct what the message names ({_describe(policy)}): targetRefs must name objects in the "
            )
            "policy's namespace, one policy per target"
        yield make_finding(
            "EGD706",
            subject=policy.ref,
            gateway=_gateway_of(policy, verdict),
            severity=severity,
            policy=f"EnvoyExtensionPolicy {policy.namespace}/{policy.name}",
            where=verdict.ref_text(policy.namespace) or "its targets",
            condition=f"{verdict.type}={verdict.status}",
            reason=verdict.reason or "no reason",
            message=verdict.message or "no message",
            effect=effect,
            fix=fix,
            evidence={"condition": dict(verdict.condition)},
        )


@check("patch-policy-status", inputs=["EnvoyPatchPolicy"], codes=["EGD707"])
def patch_policy_status(ctx: CheckContext) -> Iterator[Finding]:
    """EnvoyPatchPolicies are applied to Envoy's configuration."""
    for policy, verdict in _policy_verdicts(ctx, "EnvoyPatchPolicy"):
        if verdict.reason == "Disabled":
            fix = (
                "Envoy Gateway runs with EnvoyPatchPolicy disabled (extensionApis.enableEnvoyPatchPolicy in "
                "its configuration): ask the platform team, or do without the patch"
            )
        else:
            fix = f"fix the patch or its targetRef as the message says ({_describe(policy)})"
        yield make_finding(
            "EGD707",
            subject=policy.ref,
            gateway=_gateway_of(policy, verdict),
            policy=f"EnvoyPatchPolicy {policy.namespace}/{policy.name}",
            where=verdict.ref_text(policy.namespace) or "its target",
            condition=f"{verdict.type}={verdict.status}",
            reason=verdict.reason or "no reason",
            message=verdict.message or "no message",
            fix=fix,
            evidence={"condition": dict(verdict.condition)},
        )
