"""Route and backend checks (EGD2xx), alike for HTTPRoute, GRPCRoute, TCPRoute and TLSRoute.

One fact, one finding. The controller's word comes first: EGD202 carries every `Accepted=False` that
Envoy Gateway wrote for a parent, EGD204 every `ResolvedRefs=False`, EGD205 every
`BackendsAvailable=False`. A check that derives the same fact from the objects stays silent for a
parent (or route) on which the controller already stated it, and speaks only where the controller is
silent or has not looked yet:

* EGD201 stays silent on a parent whose status says NoMatchingParent (EGD202 carries it);
* EGD207 stays silent on a parent whose status says NoMatchingListenerHostname, or Accepted=True;
* the object-based half of EGD204 runs only for routes without any ResolvedRefs condition from the
  controller, and EGD205 reports one finding per backend whichever source saw it.

EGD203 is not a restatement: the controller's NotAllowedByListeners never says which namespace lacks
which label, so EGD203 accompanies that EGD202 and names the label to add. It reads Namespace, which
customers are often forbidden to list, so it lives in a check of its own and EGD202 stands alone when
it cannot run.

Status shapes: Gateway API `apis/v1/httproute_types.go` and `apis/v1/shared_types.go` (route parent
conditions and reasons), Envoy Gateway `internal/gatewayapi/route.go`
(processAllowedListenersForParentRefs, hostname intersection, backend resolution) and
`internal/gatewayapi/status/error.go` (the EG-specific reasons, comma-joined when several apply).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from egdoctor.checks.registry import CheckContext, check
from egdoctor.findings.codes import make_finding
from egdoctor.findings.model import Finding, GatewayRef
from egdoctor.model import hostnames
from egdoctor.model.selectors import selector_matches
from egdoctor.model.topology import EG_CONTROLLER, GatewayView, ListenerView, ParentAttachment
from egdoctor.snapshot.kinds import GW, ROUTE_KINDS
from egdoctor.snapshot.model import Snapshot
from egdoctor.snapshot.objects import Obj, as_list, as_map, conditions, thaw

_ROUTES = list(ROUTE_KINDS)
SERVICE_NAME_LABEL = "kubernetes.io/service-name"

# The route kinds a listener serves when its status does not list supportedKinds
# (envoyproxy/gateway internal/gatewayapi/listener.go, allowedRouteKindsForProtocol).
_KINDS_BY_PROTOCOL = {
    "HTTP": ("HTTPRoute", "GRPCRoute"),
    "HTTPS": ("HTTPRoute", "GRPCRoute"),
    "TLS": ("TCPRoute", "TLSRoute"),
    "TCP": ("TCPRoute",),
    "UDP": ("UDPRoute",),
}


# -- shared helpers -------------------------------------------------------------------------------------


def _one_line(text: Any) -> str:
    return " ".join(str(text or "").split())


def _reasons(cond: Mapping[str, Any]) -> list[str]:
    # Envoy Gateway joins the reasons of several errors of one condition type with commas.
    return [r for r in str(cond.get("reason", "")).split(",") if r]


def _false(att: ParentAttachment, ctype: str) -> Mapping[str, Any] | None:
    cond = att.conditions.get(ctype)
    return cond if cond is not None and cond.get("status") == "False" else None


def _gateway_ref(att: ParentAttachment) -> GatewayRef | None:
    if att.gateway_key is None:
        return None
    return GatewayRef(att.gateway_key[0], att.gateway_key[1], att.section)


def _parent(att: ParentAttachment) -> str:
    ref = _gateway_ref(att)
    text = str(ref) if ref is not None else str(att.ref.get("name", "?"))
    return f"{text} port {att.port}" if att.port is not None else text


def _listed(snapshot: Snapshot, kind: str, namespace: str, per_namespace: bool = True) -> bool:
    """Would an object of `kind` in `namespace` be in the snapshot if it existed? A missing object is
    only evidence when the list was read: not forbidden, not failed, and, offline, when the files
    hold that kind at all (a dump of some kinds says nothing about the others)."""
    if kind not in snapshot.fetched:
        return False
    if any(p.namespace in (None, namespace) for p in snapshot.problems_for(kind)):
        return False
    if snapshot.source.mode == "files":
        objs = snapshot.of(kind)
        return any(o.namespace == namespace for o in objs) if per_namespace else bool(objs)
    return True


def _selected(gw: GatewayView, att: ParentAttachment) -> list[ListenerView]:
    """The listeners a parentRef names: by sectionName and port, or every listener when it names none
    (envoyproxy/gateway internal/gatewayapi/helpers.go, GetReferencedListeners)."""
    return [
        lv
        for lv in gw.listeners
        if (att.section is None or lv.name == att.section) and (att.port is None or lv.port == att.port)
    ]


def _serves_kind(lv: ListenerView, kind: str) -> bool:
    supported = [k.get("kind") for k in as_list(lv.status.get("supportedKinds")) if isinstance(k, Mapping)]
    if supported:
        return kind in supported
    declared = [
        k.get("kind")
        for k in as_list(as_map(lv.spec.get("allowedRoutes")).get("kinds"))
        if isinstance(k, Mapping)
    ]
    if declared:
        return kind in declared
    protocol = lv.protocol.upper()
    if protocol == "TLS" and as_map(lv.spec.get("tls")).get("mode") == "Passthrough":
        return kind == "TLSRoute"
    return kind in _KINDS_BY_PROTOCOL.get(protocol, ROUTE_KINDS)


def _eg_class(ctx: CheckContext, gw: GatewayView) -> bool:
    return gw.obj.spec.get("gatewayClassName") == ctx.options.gateway_class


def _accepted_gateway(gw: GatewayView) -> bool:
    """Envoy Gateway processes routes only for the Gateways it accepted (internal/gatewayapi/translator.go
    passes only acceptedGateways to the route processors); a fresh Gateway carries the API server's
    default Accepted=Unknown/Pending until the controller looks at it."""
    accepted = conditions(gw.obj.status).get("Accepted")
    return accepted is not None and accepted.get("status") == "True"


def _gateway_attachments(ctx: CheckContext) -> Iterator[tuple[ParentAttachment, GatewayView | None]]:
    for att in ctx.topology.attachments:
        if att.gateway_key is not None:
            yield att, ctx.topology.gateways.get(att.gateway_key)


def _names(items: list[str]) -> str:
    return ", ".join(items) if items else "none"


# -- EGD201 ---------------------------------------------------------------------------------------------


@check("route-parent-refs", inputs=[*_ROUTES, "Gateway"], codes=["EGD201"])
def parent_refs(ctx: CheckContext) -> Iterator[Finding]:
    """Every parentRef names a Gateway, and a listener (sectionName/port), that exists."""
    gateways = ctx.topology.gateways
    for att, gw in _gateway_attachments(ctx):
        assert att.gateway_key is not None
        ns, name = att.gateway_key
        accepted = _false(att, "Accepted")
        if accepted is not None and "NoMatchingParent" in _reasons(accepted):
            continue  # EGD202 carries the controller's own NoMatchingParent
        route, i = att.route, att.index
        subject, where = route.ref, _gateway_ref(att)
        evidence = {"parentRef": thaw(att.ref)}
        if gw is None:
            if not _listed(ctx.snapshot, "Gateway", ns, per_namespace=False):
                continue  # not found is only evidence when the Gateways there could be read
            same_name = sorted(f"{k[0]}/{k[1]}" for k in gateways if k[1] == name and k[0] != ns)
            if not att.ref.get("namespace"):
                problem = (
                    f"names Gateway {name} without a namespace, so it means {ns}/{name} (the route's own "
                    "namespace), which does not exist"
                )
                if same_name:
                    problem += f"; Gateway {same_name[0]} exists"
                    fix = (
                        f"add `namespace: {same_name[0].split('/')[0]}` to parentRefs[{i}]: a Gateway in "
                        "another namespace must be named with its namespace"
                    )
                else:
                    fix = (
                        f"add the Gateway's namespace to parentRefs[{i}] (the shared Gateway usually "
                        "lives in its own namespace, e.g. `namespace: gateway`); `kubectl get gateways -A` "
                        "lists them"
                    )
            else:
                problem = f"names Gateway {ns}/{name}, which does not exist"
                if same_name:
                    problem += (
                        f" (a Gateway {name} exists in {', '.join(s.split('/')[0] for s in same_name)})"
                    )
                candidates = sorted(f"{k[0]}/{k[1]}" for k, g in gateways.items() if _eg_class(ctx, g))
                fix = f"fix parentRefs[{i}].name/namespace" + (
                    f": Gateways of class {ctx.options.gateway_class}: {', '.join(candidates)}"
                    if candidates
                    else "; `kubectl get gateways -A` lists the Gateways"
                )
            yield make_finding(
                "EGD201", subject=subject, gateway=where, index=i, problem=problem, fix=fix, evidence=evidence
            )
            continue
        if att.section is None and att.port is None:
            continue
        if _selected(gw, att):
            continue
        wanted = " and ".join(
            p
            for p in (
                f"listener {att.section}" if att.section else "",
                f"port {att.port}" if att.port is not None else "",
            )
            if p
        )
        listeners = [f"{lv.name} (port {lv.port})" for lv in gw.listeners]
        yield make_finding(
            "EGD201",
            subject=subject,
            gateway=where,
            index=i,
            problem=f"names {wanted} of Gateway {ns}/{name}, which has no such listener (it has: "
            f"{_names(listeners)})",
            fix=f"set parentRefs[{i}].sectionName to one of the listener names above"
            + (" and drop or fix port" if att.port is not None else "")
            + ", or leave sectionName and port out to attach to every listener whose hostname matches",
            evidence={**evidence, "listeners": listeners},
        )


# -- EGD202 ---------------------------------------------------------------------------------------------


def _accept_cause(reason: str, att: ParentAttachment, ctx: CheckContext) -> tuple[str, str]:
    route = att.route
    rns = route.namespace or ""
    gns, gname = att.gateway_key or ("?", "?")
    key, value = ctx.options.namespace_label
    show = f"`kubectl get gateway -n {gns} {gname} -o yaml`"
    if reason == "NotAllowedByListeners":
        return (
            f"likely cause: the listeners' allowedRoutes do not admit {route.kind}s from namespace {rns} "
            "(a missing opt-in label, from: Same, or allowedRoutes.kinds)",
            f"label the namespace if the listener selects by label (`kubectl label namespace {rns} "
            f"{key}={value}`); otherwise compare the listener's allowedRoutes (namespaces, kinds) in {show}",
        )
    if reason == "NoMatchingListenerHostname":
        names = ", ".join(att.route_hostnames) or "none"
        return (
            f"likely cause: the route's hostnames ({names}) are outside the hostnames of the listeners",
            f"use hostnames the listener serves (see spec.listeners[].hostname in {show}), or attach with "
            "sectionName to a listener that serves these hostnames",
        )
    if reason == "NoMatchingParent":
        named = (
            " and ".join(
                p
                for p in (
                    f"sectionName {att.section}" if att.section else "",
                    f"port {att.port}" if att.port is not None else "",
                )
                if p
            )
            or "the parentRef"
        )
        return (
            f"likely cause: {named} in parentRefs[{att.index}] names no listener of the Gateway",
            f"set parentRefs[{att.index}].sectionName/port to an existing listener (`kubectl get gateway -n "
            f"{gns} {gname} -o jsonpath='{{.spec.listeners[*].name}}'`), or leave them out",
        )
    if reason == "UnsupportedValue":
        return (
            "likely cause: the route uses a value Envoy Gateway does not support (the message names it)",
            "change the field the message names; `kubectl describe "
            f"{route.kind.lower()} -n {rns} {route.name}` shows the full condition",
        )
    if reason == "IncompatibleFilters":
        return (
            "likely cause: the route combines filters that cannot be used together",
            "remove one of the conflicting filters the message names",
        )
    if reason == "Pending":
        return (
            "the controller has not finished processing the route yet",
            "wait a moment and run again; if it stays Pending, check the Envoy Gateway controller logs",
        )
    return (
        "the controller rejected the route for this parent",
        f"fix what the message says; `kubectl describe {route.kind.lower()} -n {rns} {route.name}`",
    )


@check("route-accepted", inputs=_ROUTES, codes=["EGD202"])
def route_accepted(ctx: CheckContext) -> Iterator[Finding]:
    """Envoy Gateway accepted every route for every parent it reports on."""
    for att, _gw in _gateway_attachments(ctx):
        accepted = _false(att, "Accepted")
        if accepted is None:
            continue
        reasons = _reasons(accepted) or ["(no reason)"]
        cause, fix = _accept_cause(reasons[0], att, ctx)
        yield make_finding(
            "EGD202",
            subject=att.route.ref,
            gateway=_gateway_ref(att),
            parent=_parent(att),
            reason=",".join(reasons),
            message=_one_line(accepted.get("message")).rstrip("."),
            cause=cause,
            fix=fix,
            evidence={"parentRef": thaw(att.ref), "condition": thaw(accepted)},
        )


# -- EGD203 ---------------------------------------------------------------------------------------------


def _missing_labels(selector: Mapping[str, Any], labels: Mapping[str, str]) -> list[tuple[str, str]]:
    return [(str(k), str(v)) for k, v in as_map(selector.get("matchLabels")).items() if labels.get(k) != v]


@check("route-namespace-label", inputs=[*_ROUTES, "Gateway", "Namespace"], codes=["EGD203"])
def namespace_label(ctx: CheckContext) -> Iterator[Finding]:
    """The route's namespace carries the labels the listener's allowedRoutes selector requires."""
    namespaces = {n.name: n.labels for n in ctx.snapshot.of("Namespace")}
    opt_in = ctx.options.namespace_label
    for att, gw in _gateway_attachments(ctx):
        route = att.route
        labels = namespaces.get(route.namespace or "")
        if gw is None or labels is None:
            continue
        refusing: list[str] = []
        missing: dict[str, str] = {}
        for lv in _selected(gw, att):
            allowed = as_map(as_map(lv.spec.get("allowedRoutes")).get("namespaces"))
            selector = as_map(allowed.get("selector"))
            if allowed.get("from") != "Selector" or not selector or not _serves_kind(lv, route.kind):
                continue
            if selector_matches(selector, labels):
                continue
            lacking = _missing_labels(selector, labels)
            if not lacking:
                continue  # refused by matchExpressions only: EGD202 carries the controller's verdict
            refusing.append(lv.name)
            missing.update(lacking)
        if not refusing:
            continue
        rns = route.namespace or ""
        overwrite = any(k in labels for k in missing)
        label = ", ".join(f"{k}={v}" for k, v in missing.items())
        if opt_in[0] in missing:
            label += " (the opt-in label of the shared Gateway)"
        label_arg = " ".join(f"{k}={v}" for k, v in missing.items()) + (" --overwrite" if overwrite else "")
        alternative = ""
        if labels.get(opt_in[0]) == opt_in[1] and opt_in[0] not in missing:
            # The namespace has opted in the documented way: the selector, not the namespace, is off.
            alternative = (
                f"; more likely, fix the allowedRoutes selector of Gateway {gw.key[0]}/{gw.key[1]}: the "
                f"namespace already carries the opt-in label {opt_in[0]}={opt_in[1]}"
            )
        yield make_finding(
            "EGD203",
            subject=route.ref,
            gateway=GatewayRef(*gw.key, refusing[0] if len(refusing) == 1 else att.section),
            route_namespace=rns,
            label=label,
            label_arg=label_arg,
            alternative=alternative,
            listeners=", ".join(refusing),
            parent=f"{att.gateway_key[0]}/{att.gateway_key[1]}" if att.gateway_key else "?",
            evidence={"namespaceLabels": dict(labels), "missing": dict(missing), "listeners": refusing},
        )


# -- EGD204 ---------------------------------------------------------------------------------------------

_REF_FIXES = {
    "BackendNotFound": "create the backend Service or fix backendRefs[].name/namespace "
    "(`kubectl get svc -n {ns}`)",
    "RefNotPermitted": "add a ReferenceGrant in the backend's namespace allowing {kind} from namespace {ns} "
    "to reference Services (spec.from: group gateway.networking.k8s.io, kind {kind}, namespace {ns}; "
    'spec.to: group "", kind Service), or move the backend into {ns}',
    "PortNotFound": "set backendRefs[].port to a port the Service exposes (spec.ports[].port, not the "
    "targetPort)",
    "PortNotSpecified": "set backendRefs[].port: a Service backend needs its port",
    "InvalidKind": 'backendRefs[].kind must be Service (group "") or Envoy Gateway\'s Backend '
    "(group gateway.envoyproxy.io)",
    "UnsupportedProtocol": "the Service port's appProtocol is not supported for this route kind: fix "
    "spec.ports[].appProtocol on the Service",
}


def _ref_fix(reasons: list[str], route: Obj) -> str:
    fixes = [_REF_FIXES[r].format(ns=route.namespace, kind=route.kind) for r in reasons if r in _REF_FIXES]
    if not fixes:
        fixes = [
            f"fix the backendRefs the message names; `kubectl describe {route.kind.lower()} -n "
            f"{route.namespace} {route.name}` shows the full condition"
        ]
    return "; ".join(dict.fromkeys(fixes))


@check("route-resolved-refs", inputs=_ROUTES, codes=["EGD204"])
def resolved_refs(ctx: CheckContext) -> Iterator[Finding]:
    """Envoy Gateway resolved every backend reference of every route."""
    for route in ctx.topology.routes:
        # Backends belong to the route, not to a parent: one finding per distinct verdict, naming its parents.
        verdicts: dict[tuple[str, str], list[ParentAttachment]] = {}
        conds: dict[tuple[str, str], Mapping[str, Any]] = {}
        for att in ctx.topology.attachments_of(route):
            cond = _false(att, "ResolvedRefs")
            if cond is not None:
                key = (str(cond.get("reason", "")), _one_line(cond.get("message")))
                verdicts.setdefault(key, []).append(att)
                conds[key] = cond
        for (reason, message), atts in verdicts.items():
            parents = ", ".join(_parent(a) for a in atts)
            yield make_finding(
                "EGD204",
                subject=route.ref,
                gateway=_gateway_ref(atts[0]),
                problem=f"ResolvedRefs is False on {parents} ({reason}): {message}",
                fix=_ref_fix(_reasons(conds[(reason, message)]), route),
                evidence={"condition": thaw(conds[(reason, message)]), "parents": parents},
            )


def _backend_refs(route: Obj) -> Iterator[tuple[int, int, Mapping[str, Any]]]:
    for r, rule in enumerate(as_list(route.spec.get("rules"))):
        for b, ref in enumerate(as_list(as_map(rule).get("backendRefs"))):
            if isinstance(ref, Mapping):
                yield r, b, ref


def _is_service(ref: Mapping[str, Any]) -> bool:
    return ref.get("group", "") in ("", "core") and ref.get("kind", "Service") == "Service"


def _granted(grants: tuple[Obj, ...], route: Obj, backend_ns: str, name: str) -> bool:
    """A ReferenceGrant in the backend's namespace lets this route's kind and namespace use the Service
    (gateway-api apis/v1beta1/referencegrant_types.go)."""
    for grant in grants:
        if grant.namespace != backend_ns:
            continue
        froms = [f for f in as_list(grant.spec.get("from")) if isinstance(f, Mapping)]
        tos = [t for t in as_list(grant.spec.get("to")) if isinstance(t, Mapping)]
        if not any(
            f.get("group") == GW and f.get("kind") == route.kind and f.get("namespace") == route.namespace
            for f in froms
        ):
            continue
        if any(
            t.get("group", "") in ("", "core")
            and t.get("kind") == "Service"
            and t.get("name") in (None, "", name)
            for t in tos
        ):
            return True
    return False


def _service_port(svc: Obj, port: Any) -> bool:
    return any(isinstance(p, Mapping) and p.get("port") == port for p in as_list(svc.spec.get("ports")))


def _controller_resolved(ctx: CheckContext, route: Obj) -> bool:
    return any(
        att.status is not None and "ResolvedRefs" in conditions(att.status)
        for att in ctx.topology.attachments_of(route)
    )


def _route_gateway(ctx: CheckContext, route: Obj) -> GatewayRef | None:
    for att in ctx.topology.attachments_of(route):
        if att.gateway_key is not None:
            return _gateway_ref(att)
    return None


@check("route-backends", inputs=[*_ROUTES, "Service", "ReferenceGrant"], codes=["EGD204"])
def backends(ctx: CheckContext) -> Iterator[Finding]:
    """Backend Services exist, expose the referenced port and may be referenced across namespaces, where
    the controller has not (yet) said so itself."""
    snap = ctx.snapshot
    grants = snap.of("ReferenceGrant")
    for route in ctx.topology.routes:
        if _controller_resolved(ctx, route):
            continue  # the controller has resolved this route's references: route-resolved-refs reports them
        rns = route.namespace or ""
        where = _route_gateway(ctx, route)
        for r, b, ref in _backend_refs(route):
            if not _is_service(ref):
                continue
            name = str(ref.get("name", ""))
            bns = str(ref.get("namespace") or rns)
            at = f"rules[{r}].backendRefs[{b}] (Service {bns}/{name})"
            note = "; the controller has written no ResolvedRefs status for this route"
            problems: list[tuple[str, str, str]] = []
            if bns != rns and _listed(snap, "ReferenceGrant", bns) and not _granted(grants, route, bns, name):
                problems.append(
                    (
                        "RefNotPermitted",
                        f"{at} is in another namespace and no ReferenceGrant in "
                        f"{bns} allows {route.kind}s from {rns} to use it",
                        "RefNotPermitted",
                    )
                )
            svc = snap.get("Service", bns, name)
            if svc is None and _listed(snap, "Service", bns):
                problems.append(("BackendNotFound", f"{at} does not exist", "BackendNotFound"))
            elif svc is not None and ref.get("port") is None:
                problems.append(("PortNotSpecified", f"{at} has no port", "PortNotSpecified"))
            elif svc is not None and not _service_port(svc, ref.get("port")):
                ports = [str(p.get("port")) for p in as_list(svc.spec.get("ports")) if isinstance(p, Mapping)]
                problems.append(
                    (
                        "PortNotFound",
                        f"{at} has no port {ref.get('port')} (it has: {_names(ports)})",
                        "PortNotFound",
                    )
                )
            for reason, text, fix_key in problems:
                yield make_finding(
                    "EGD204",
                    subject=route.ref,
                    gateway=where,
                    problem=f"{text} ({reason}){note}",
                    fix=_ref_fix([fix_key], route),
                    evidence={"backendRef": thaw(ref), "rule": r, "index": b, "reason": reason},
                )


# -- EGD205 ---------------------------------------------------------------------------------------------


def _usable(endpoint: Mapping[str, Any]) -> bool:
    """Envoy Gateway drains an endpoint that is terminating or not serving, or, when those are unknown,
    not ready (internal/gatewayapi/route.go, getIREndpointsFromEndpointSlice)."""
    if not as_list(endpoint.get("addresses")):
        return False
    conds = as_map(endpoint.get("conditions"))
    if conds.get("serving") is not None and conds.get("terminating") is not None:
        return conds.get("serving") is True and conds.get("terminating") is not True
    return conds.get("ready") is not False


# Names are DNS labels/subdomains; the message ends with a period that is not part of the name.
_NO_ENDPOINTS = re.compile(r"no ready endpoints for the related Service ([\w.-]*\w)/([\w.-]*\w)")


@check("backend-endpoints", inputs=[*_ROUTES, "Service", "EndpointSlice"], codes=["EGD205"])
def backend_endpoints(ctx: CheckContext) -> Iterator[Finding]:
    """Every backend Service of a route has at least one ready endpoint."""
    snap = ctx.snapshot
    slices: dict[tuple[str | None, str], list[Obj]] = {}
    for es in snap.of("EndpointSlice"):
        slices.setdefault((es.namespace, es.labels.get(SERVICE_NAME_LABEL, "")), []).append(es)
    for route in ctx.topology.routes:
        rns = route.namespace or ""
        where = _route_gateway(ctx, route)
        seen: set[tuple[str, str]] = set()
        for _r, _b, ref in _backend_refs(route):
            if not _is_service(ref) or ref.get("weight") == 0:
                continue  # weight 0 takes no traffic, so its endpoints do not matter
            bns, name = str(ref.get("namespace") or rns), str(ref.get("name", ""))
            svc = snap.get("Service", bns, name)
            if (bns, name) in seen or svc is None or svc.spec.get("type") == "ExternalName":
                continue
            if not _listed(snap, "EndpointSlice", bns):
                continue
            seen.add((bns, name))
            mine = slices.get((bns, name), [])
            endpoints = [e for es in mine for e in as_list(es.raw.get("endpoints")) if isinstance(e, Mapping)]
            if any(_usable(e) for e in endpoints):
                continue
            detail = (
                f": {len(endpoints)} endpoint(s), none ready"
                if endpoints
                else ": no endpoints at all (no pod matches the Service's selector, or none is running)"
            )
            yield _endpoints_finding(
                route,
                where,
                bns,
                name,
                svc,
                detail,
                {"endpointSlices": [es.name for es in mine], "endpoints": len(endpoints)},
            )
        for att in ctx.topology.attachments_of(route):
            cond = _false(att, "BackendsAvailable")
            if cond is None:
                continue
            for bns, name in _NO_ENDPOINTS.findall(str(cond.get("message", ""))):
                if (bns, name) in seen:
                    continue
                seen.add((bns, name))
                yield _endpoints_finding(
                    route,
                    where,
                    bns,
                    name,
                    snap.get("Service", bns, name),
                    f" (Envoy Gateway: {_one_line(cond.get('message'))})",
                    {"condition": thaw(cond)},
                )


def _endpoints_finding(
    route: Obj,
    where: GatewayRef | None,
    bns: str,
    name: str,
    svc: Obj | None,
    detail: str,
    evidence: Mapping[str, Any],
) -> Finding:
    selector = ",".join(f"{k}={v}" for k, v in as_map(svc.spec.get("selector") if svc else None).items())
    pods = (
        f"`kubectl get pods -n {bns} -l {selector}`"
        if selector
        else f"`kubectl get endpointslices -n {bns} -l {SERVICE_NAME_LABEL}={name}`"
    )
    return make_finding(
        "EGD205",
        subject=route.ref,
        gateway=where,
        backend=f"{bns}/{name}",
        backend_namespace=bns,
        backend_name=name,
        detail=detail,
        pods=pods,
        evidence={"service": f"{bns}/{name}", **evidence},
    )


# -- EGD206 ---------------------------------------------------------------------------------------------


@check("route-reconciled", inputs=[*_ROUTES, "Gateway"], codes=["EGD206"])
def route_reconciled(ctx: CheckContext) -> Iterator[Finding]:
    """Envoy Gateway wrote status for every parentRef that names one of its Gateways."""
    for att, gw in _gateway_attachments(ctx):
        if gw is None or att.status is not None or not _eg_class(ctx, gw):
            continue  # a missing Gateway is EGD201; a foreign class is EGD101
        if not _accepted_gateway(gw):
            continue  # routes of a Gateway that is not Accepted get no status: EGD101/EGD102/EGD103 say why
        entries = [e for e in as_list(att.route.status.get("parents")) if isinstance(e, Mapping)]
        ours = [as_map(e.get("parentRef")) for e in entries if e.get("controllerName") == EG_CONTROLLER]
        others = sorted(
            {str(e.get("controllerName")) for e in entries if e.get("controllerName") != EG_CONTROLLER}
        )
        same_gateway = [
            p
            for p in ours
            if p.get("name") == gw.key[1] and str(p.get("namespace") or att.route.namespace) == gw.key[0]
        ]
        if same_gateway:
            old = same_gateway[0]
            named = [f"{k} {old[k]}" for k in ("sectionName", "port") if old.get(k) is not None]
            detail = (
                f"its status is for an earlier parentRef ({', '.join(named) or 'the whole Gateway'}): the "
                "controller has not processed the current spec"
            )
        elif others:
            detail = f"only {', '.join(others)} wrote status: the route was never reconciled by Envoy Gateway"
        else:
            detail = "the route was never reconciled"
        yield make_finding(
            "EGD206",
            subject=att.route.ref,
            gateway=_gateway_ref(att),
            controller=EG_CONTROLLER,
            parent=_parent(att),
            detail=detail,
            evidence={
                "parentRef": thaw(att.ref),
                "statusParents": [thaw(as_map(e.get("parentRef"))) for e in entries],
            },
        )


# -- EGD207 ---------------------------------------------------------------------------------------------


@check("route-hostnames", inputs=[*_ROUTES, "Gateway"], codes=["EGD207"])
def route_hostnames(ctx: CheckContext) -> Iterator[Finding]:
    """The route's hostnames intersect the hostnames of the listeners it attaches to."""
    for att, gw in _gateway_attachments(ctx):
        names = att.route_hostnames
        if gw is None or not names:
            continue
        accepted = conditions(att.status).get("Accepted") if att.status is not None else None
        if accepted is not None and (
            accepted.get("status") == "True" or "NoMatchingListenerHostname" in _reasons(accepted)
        ):
            continue  # the controller found an intersection, or EGD202 already carries its absence
        listeners = [lv for lv in _selected(gw, att) if _serves_kind(lv, att.route.kind)]
        if not listeners or any(hostnames.any_intersect(lv.hostname, names) for lv in listeners):
            continue
        yield make_finding(
            "EGD207",
            subject=att.route.ref,
            gateway=_gateway_ref(att),
            parent=f"{att.gateway_key[0]}/{att.gateway_key[1]}" if att.gateway_key else "?",
            route_hostnames=", ".join(names),
            listener=", ".join(lv.name for lv in listeners),
            listener_hostname=", ".join(lv.hostname or "*" for lv in listeners),
            evidence={"routeHostnames": list(names), "listeners": {lv.name: lv.hostname for lv in listeners}},
        )
