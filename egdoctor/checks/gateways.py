"""GatewayClass and Gateway checks (EGD1xx)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from egdoctor.checks.registry import CheckContext, check
from egdoctor.findings.codes import make_finding
from egdoctor.findings.model import Finding, GatewayRef, ObjectRef, Severity
from egdoctor.model.addresses import unconfirmed_addresses
from egdoctor.model.selectors import selector_matches
from egdoctor.model.topology import EG_CONTROLLER, ListenerView, ParentAttachment
from egdoctor.snapshot.kinds import ROUTE_KINDS
from egdoctor.snapshot.objects import as_map, conditions, thaw

# Listener condition reasons -> what to do about them (gateway-api apis/v1/gateway_types.go,
# envoyproxy/gateway internal/gatewayapi/listener.go).
_LISTENER_FIXES = {
    "InvalidCertificateRef": "check the listener's certificateRefs: the Secret must exist in the Gateway's "
    "namespace, be of type kubernetes.io/tls and hold tls.crt and tls.key (see EGD401)",
    "RefNotPermitted": "the certificateRef points to another namespace: add a ReferenceGrant there that "
    "allows Gateways from the Gateway's namespace to use the Secret",
    "HostnameConflict": "two listeners share port, protocol and hostname: give each a unique hostname",
    "ProtocolConflict": "two listeners use the same port with different protocols: use separate ports",
    "PortUnavailable": "the port cannot be used: pick another port",
    "UnsupportedProtocol": "Envoy Gateway does not support this protocol on a listener",
    "InvalidRouteKinds": "allowedRoutes.kinds names a route kind this listener cannot serve",
}


# Accepted=False for an invalid EnvoyProxy parametersRef: EGD111 (checks/verdicts.py) explains it.
INVALID_PARAMETERS = "InvalidParameters"


@check("gatewayclass", inputs=["Gateway", "GatewayClass"], codes=["EGD101"])
def gatewayclass(ctx: CheckContext) -> Iterator[Finding]:
    """Every Gateway names a GatewayClass that exists, is Envoy Gateway's and is Accepted."""
    classes = {c.name: c for c in ctx.snapshot.of("GatewayClass")}
    for gv in ctx.topology.gateways.values():
        name = str(gv.obj.spec.get("gatewayClassName", ""))
        ref = ObjectRef("GatewayClass", None, name)
        where = GatewayRef(*gv.key)
        cls = classes.get(name)
        problem = None
        if cls is None:
            problem = "does not exist"
            if name != ctx.options.gateway_class:
                problem += f" (the Envoy Gateway class here is {ctx.options.gateway_class!r})"
        elif cls.spec.get("controllerName") != EG_CONTROLLER:
            problem = f"is served by {cls.spec.get('controllerName')!r}, not Envoy Gateway ({EG_CONTROLLER})"
        else:
            accepted = conditions(cls.status).get("Accepted")
            if accepted is None:
                problem = "has no Accepted condition: the Envoy Gateway controller has not reconciled it"
            elif accepted.get("status") != "True" and accepted.get("reason") != INVALID_PARAMETERS:
                problem = f"is not Accepted ({accepted.get('reason')}: {accepted.get('message', '')})"
        if problem:
            yield make_finding(
                "EGD101",
                subject=ref,
                gateway=where,
                gatewayclass=name,
                problem=problem,
                expected=ctx.options.gateway_class,
                evidence={"gateway": f"{gv.key[0]}/{gv.key[1]}"},
            )


@check("gateway-accepted", inputs=["Gateway"], codes=["EGD102", "EGD103"])
def gateway_status(ctx: CheckContext) -> Iterator[Finding]:
    """Gateways are Accepted and Programmed and have an address."""
    for gv in ctx.topology.gateways.values():
        ref, where = gv.obj.ref, GatewayRef(*gv.key)
        conds = conditions(gv.obj.status)
        accepted = conds.get("Accepted")
        # The API server defaults a new Gateway's conditions to Unknown/Pending ("Waiting for controller"):
        # that is no controller's verdict, so it is reported once, as not reconciled, not as a rejection.
        if accepted is not None and (
            accepted.get("status") == "Unknown" or accepted.get("reason") == "Pending"
        ):
            yield make_finding(
                "EGD103",
                subject=ref,
                gateway=where,
                problem=f"has not been reconciled by any controller (Accepted: {accepted.get('reason')}: "
                f"{accepted.get('message', '')}), so it has no address: check that spec.gatewayClassName "
                "names a class Envoy Gateway serves (see EGD101)",
                evidence={"condition": dict(accepted)},
            )
            continue
        # an invalid EnvoyProxy behind spec.infrastructure.parametersRef: EGD111 names it
        if (
            accepted is not None
            and accepted.get("status") != "True"
            and accepted.get("reason") != INVALID_PARAMETERS
        ):
            yield make_finding(
                "EGD102",
                subject=ref,
                gateway=where,
                reason=accepted.get("reason"),
                message=accepted.get("message", ""),
                evidence={"condition": dict(accepted)},
            )
        programmed = conds.get("Programmed")
        if not conds:
            yield make_finding(
                "EGD103",
                subject=ref,
                gateway=where,
                problem="has no status conditions: no controller has reconciled it",
            )
            continue
        if programmed is not None and programmed.get("status") != "True":
            yield make_finding(
                "EGD103",
                subject=ref,
                gateway=where,
                problem=f"is not Programmed ({programmed.get('reason')}: {programmed.get('message', '')})",
                evidence={"condition": dict(programmed)},
            )
        elif not gv.addresses:
            yield make_finding(
                "EGD103",
                subject=ref,
                gateway=where,
                problem="has no address in status.addresses: the load balancer has no IP yet",
            )


@check("gateway-address-owner", inputs=["Gateway", "EnvoyService"], codes=["EGD107"])
def gateway_address_owner(ctx: CheckContext) -> Iterator[Finding]:
    """Every status address of a Gateway is one its load balancer reports."""
    for gv in ctx.topology.gateways.values():
        compared = unconfirmed_addresses(gv)
        if compared is None or not compared[0]:
            continue
        stray, ingress = compared
        svc = gv.envoy_service
        assert svc is not None
        yield make_finding(
            "EGD107",
            subject=gv.obj.ref,
            gateway=GatewayRef(*gv.key),
            addresses=", ".join(stray),
            service=f"{svc.namespace}/{svc.name}",
            ingress=", ".join(ingress),
            namespace=gv.key[0],
            name=gv.key[1],
            evidence={"statusAddresses": list(gv.addresses), "loadBalancerIngress": list(ingress)},
        )


@check("listener-conditions", inputs=["Gateway"], codes=["EGD104"])
def listener_conditions(ctx: CheckContext) -> Iterator[Finding]:
    """Every listener is Accepted, Programmed, ResolvedRefs and not Conflicted."""
    for gv in ctx.topology.gateways.values():
        for lv in gv.listeners:
            conds = conditions(lv.status)
            failing = []
            for ctype in ("Accepted", "ResolvedRefs", "Programmed"):
                c = conds.get(ctype)
                if c is not None and c.get("status") == "False":
                    failing.append(c)
            conflicted = conds.get("Conflicted")
            if conflicted is not None and conflicted.get("status") == "True":
                failing.insert(0, conflicted)
            # one finding per listener: the first failing condition carries the cause, the rest follow it
            if failing:
                first = failing[0]
                reason = str(first.get("reason", ""))
                yield make_finding(
                    "EGD104",
                    subject=gv.obj.ref,
                    gateway=GatewayRef(*gv.key, lv.name),
                    listener=lv.name,
                    condition=first.get("type"),
                    status=first.get("status"),
                    reason=reason,
                    message=first.get("message", ""),
                    fix=_LISTENER_FIXES.get(
                        reason,
                        f"`kubectl describe gateway -n {gv.key[0]} {gv.key[1]}` "
                        "and fix what the listener condition says",
                    ),
                    evidence={"conditions": [dict(c) for c in failing]},
                )


@check("one-shared-gateway", inputs=["Gateway"], codes=["EGD105"])
def gateway_count(ctx: CheckContext) -> Iterator[Finding]:
    """The class has one shared Gateway, not one per namespace."""
    of_class = [
        gv
        for gv in ctx.topology.gateways.values()
        if gv.obj.spec.get("gatewayClassName") == ctx.options.gateway_class
    ]
    # mergeGateways is set per GatewayClass: then every Gateway of the class shares one Envoy and one load
    # balancer, which is the point of the warning
    if any(gv.deployment.merged or gv.deployment.merge for gv in of_class):
        return
    if len(of_class) > 1:
        names = ", ".join(f"{k[0]}/{k[1]}" for k in sorted(gv.key for gv in of_class))
        for gv in of_class:
            yield make_finding(
                "EGD105",
                subject=gv.obj.ref,
                gateway=GatewayRef(*gv.key),
                count=len(of_class),
                gatewayclass=ctx.options.gateway_class,
                gateways=names,
            )


def _allowed_from(lv: ListenerView) -> tuple[str, Mapping[str, object]]:
    allowed = as_map(as_map(lv.spec.get("allowedRoutes")).get("namespaces"))
    return str(allowed.get("from", "Same")), as_map(allowed.get("selector"))


# Two checks, because the Namespace list is often forbidden to customers and from: Same needs only routes.
@check("allowed-routes-same", inputs=["Gateway", *ROUTE_KINDS], codes=["EGD106"])
def allowed_routes_same(ctx: CheckContext) -> Iterator[Finding]:
    """A listener that admits only its own namespace (from: Same) is not targeted from other namespaces."""
    for gv in ctx.topology.gateways.values():
        for lv in gv.listeners:
            foreign = sorted(
                {a.route.namespace or "" for a in lv.attachments if a.route.namespace != gv.key[0]}
            )
            if _allowed_from(lv)[0] == "Same" and foreign:
                # Envoy Gateway accepts such a listener; when it also tells the routes' owners (their
                # status says not Accepted, EGD202), the listener's side is a warning. When a route's
                # status hides it (accepted through another listener), it stays an error.
                told = all(_refused(a) for a in lv.attachments if a.route.namespace != gv.key[0])
                yield make_finding(
                    "EGD106",
                    subject=gv.obj.ref,
                    gateway=GatewayRef(*gv.key, lv.name),
                    severity=Severity.WARNING if told else None,
                    listener=lv.name,
                    problem=f"allows routes only from its own namespace (from: Same, the default when "
                    f"allowedRoutes is not set) but routes in {', '.join(foreign)} target it"
                    + (
                        "; Envoy Gateway accepts the listener and reports those routes not Accepted"
                        if told
                        else ""
                    ),
                    fix="set allowedRoutes.namespaces to from: Selector with matchLabels "
                    f'{ctx.options.namespace_label[0]}: "{ctx.options.namespace_label[1]}"',
                )


def _refused(att: ParentAttachment) -> bool:
    accepted = conditions(att.status).get("Accepted") if att.status is not None else None
    return accepted is not None and accepted.get("status") == "False"


@check("allowed-routes", inputs=["Gateway", "Namespace"], codes=["EGD106"])
def allowed_routes(ctx: CheckContext) -> Iterator[Finding]:
    """A listener's allowedRoutes selector matches at least one namespace."""
    namespaces = {n.name: n.labels for n in ctx.snapshot.of("Namespace")}
    for gv in ctx.topology.gateways.values():
        for lv in gv.listeners:
            source, selector = _allowed_from(lv)
            if source != "Selector" or not selector or not namespaces:
                continue
            if any(selector_matches(selector, labels) for labels in namespaces.values()):
                continue
            wanted = ", ".join(f"{k}={v}" for k, v in as_map(selector.get("matchLabels")).items())
            yield make_finding(
                "EGD106",
                subject=gv.obj.ref,
                gateway=GatewayRef(*gv.key, lv.name),
                listener=lv.name,
                problem=f"selects namespaces by {wanted or 'matchExpressions'} but no namespace matches, so "
                "it admits no route at all",
                fix="label the application namespaces (kubectl label namespace NAME "
                f"{ctx.options.namespace_label[0]}={ctx.options.namespace_label[1]}) or fix the selector",
                evidence={"selector": thaw(selector)},
            )
