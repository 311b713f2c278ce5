"""ACME solvers: which one cert-manager uses for a domain, and whether an HTTP-01 solver route reaches a
port-80 listener that admits it (EGD405)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from egdoctor.model import hostnames
from egdoctor.model.selectors import selector_matches
from egdoctor.model.topology import ListenerView, Topology
from egdoctor.snapshot.objects import Obj, as_list, as_map


def pick_solver(issuer: Obj, domain: str, labels: Mapping[str, str]) -> Mapping[str, Any] | None:
    """The solver cert-manager uses for `domain` (pkg/util/solverpicker/solverpicker.go): selectors with
    matching dnsNames beat longer matching dnsZones, which beat more matching labels; a solver without
    selector is the fallback. Wildcard names can only be solved by DNS-01."""
    wildcard = domain.startswith("*.")
    bare = domain[2:] if wildcard else domain
    chosen: Mapping[str, Any] | None = None
    best: tuple[int, int, int] = (0, 0, 0)
    for solver in as_list(as_map(issuer.spec.get("acme")).get("solvers")):
        if not isinstance(solver, Mapping):
            continue
        if solver.get("http01") is not None and wildcard:
            continue
        if solver.get("http01") is None and solver.get("dns01") is None:
            continue
        selector = solver.get("selector")
        if not isinstance(selector, Mapping):
            if chosen is None:
                chosen, best = solver, (0, 0, 0)
            continue
        names = [str(n) for n in as_list(selector.get("dnsNames"))]
        if names and domain not in names:
            continue
        zone_labels = 0
        zones = [str(z).strip(".").lower() for z in as_list(selector.get("dnsZones"))]
        if zones:
            matching = [z for z in zones if bare.lower() == z or bare.lower().endswith("." + z)]
            if not matching:
                continue
            zone_labels = max(len(z.split(".")) for z in matching)
        wanted = as_map(selector.get("matchLabels"))
        if any(labels.get(k) != v for k, v in wanted.items()):
            continue
        score = (1 if names else 0, zone_labels, len(wanted))
        if chosen is None or score > best:
            chosen, best = solver, score
    return chosen


def _listener_admits(
    lv: ListenerView, namespace: str, namespaces: Mapping[str, Mapping[str, str]]
) -> bool | None:
    allowed = as_map(as_map(lv.spec.get("allowedRoutes")).get("namespaces"))
    source = allowed.get("from", "Same")
    if source == "All":
        return True
    if source == "Same":
        return namespace == lv.gateway_key[0]
    if source == "Selector":
        if namespace not in namespaces:
            return None  # the namespace's labels are unknown: do not guess
        return selector_matches(as_map(allowed.get("selector")), namespaces[namespace])
    return None


def http01_route_problem(
    topology: Topology,
    parent_refs: tuple[Any, ...],
    route_namespace: str,
    host: str,
    namespaces: Mapping[str, Mapping[str, str]],
) -> str | None:
    """Why the solver HTTPRoute (namespace `route_namespace`, hostname `host`) attaches to no port-80 HTTP
    listener through `parent_refs`, or None when one of them works."""
    if not parent_refs:
        return "its gatewayHTTPRoute solver has no parentRefs, so the solver route attaches to nothing"
    reasons = []
    for ref in parent_refs:
        if not isinstance(ref, Mapping):
            continue
        key = (str(ref.get("namespace") or route_namespace), str(ref.get("name", "")))
        gv = topology.gateways.get(key)
        label = f"Gateway {key[0]}/{key[1]}"
        if gv is None:
            reasons.append(
                f"its parentRef names {label}, which does not exist"
                + ("" if ref.get("namespace") else f" (no namespace given, so {route_namespace} is assumed)")
            )
            continue
        section, port = ref.get("sectionName"), ref.get("port")
        candidates = [
            lv
            for lv in gv.listeners
            if (not section or lv.name == section) and (port is None or lv.port == port)
        ]
        if section and not candidates:
            reasons.append(f"its parentRef names listener {section} of {label}, which does not exist")
            continue
        http80 = [lv for lv in candidates if lv.protocol == "HTTP" and lv.port == 80]
        if not http80:
            what = f"listener {section}" if section else label
            reasons.append(
                f"{what} has no port-80 HTTP listener (the ACME server only fetches HTTP-01 on port 80)"
            )
            continue
        hosted = [lv for lv in http80 if hostnames.intersect(lv.hostname, host)]
        if not hosted:
            reasons.append(
                f"the port-80 HTTP listener of {label} has hostname {http80[0].hostname}, "
                f"which does not match {host}"
            )
            continue
        admits = [_listener_admits(lv, route_namespace, namespaces) for lv in hosted]
        if any(a is not False for a in admits):
            return None
        lv = hosted[0]
        allowed = as_map(as_map(lv.spec.get("allowedRoutes")).get("namespaces"))
        source = allowed.get("from", "Same")
        if source == "Selector":
            matches = as_map(as_map(allowed.get("selector")).get("matchLabels"))
            sel = ", ".join(f"{k}={v}" for k, v in matches.items()) or "matchExpressions"
            why = f"selects namespaces by {sel} and namespace {route_namespace} does not match"
        else:
            why = f"admits routes only from its own namespace {lv.gateway_key[0]} (from: {source})"
        reasons.append(
            f"listener {lv.name} of {label} {why}, so it rejects the solver HTTPRoute cert-manager "
            f"creates in {route_namespace}"
        )
    return "; ".join(reasons) if reasons else "its gatewayHTTPRoute parentRefs are not usable"
