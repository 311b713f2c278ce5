"""The derived picture checks and renderers share: Gateways, their listeners, the routes attached to
each, the Envoy Service behind each Gateway, and the client-IP mode of every listener.

Pure functions of the snapshot; nothing here fetches or renders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from egdoctor.model import hostnames
from egdoctor.model.ctp_claims import claim_listeners
from egdoctor.model.grants import reference_granted
from egdoctor.model.parameters import class_envoyproxy
from egdoctor.model.selectors import selector_is_empty, selector_matches
from egdoctor.snapshot.kinds import (
    EG,
    ENVOY_GATEWAY_SYSTEM,
    GW,
    OWNING_GATEWAY_NAME,
    OWNING_GATEWAY_NAMESPACE,
    OWNING_GATEWAYCLASS,
    ROUTE_KINDS,
)
from egdoctor.snapshot.model import Snapshot
from egdoctor.snapshot.objects import Obj, as_list, as_map
from egdoctor.snapshot.objects import conditions as conditions_by_type

EG_CONTROLLER = "gateway.envoyproxy.io/gatewayclass-controller"
PROXY_PROTOCOL_ANNOTATION = "loadbalancer.openstack.org/proxy-protocol"

GatewayKey = tuple[str, str]

_PROTOCOL_KINDS: dict[str, tuple[str, ...]] = {
    "HTTP": ("HTTPRoute", "GRPCRoute"),
    "HTTPS": ("HTTPRoute", "GRPCRoute"),
    "TCP": ("TCPRoute",),
    "TLS": ("TLSRoute", "TCPRoute"),
    "UDP": ("UDPRoute",),
}


@dataclass(frozen=True)
class ParentAttachment:
    """One parentRef of one route, resolved against the snapshot."""

    route: Obj
    index: int
    ref: Mapping[str, Any]
    gateway_key: GatewayKey | None  # None when the parentRef is not a Gateway
    section: str | None
    port: int | None
    status: Mapping[str, Any] | None  # the route's status.parents entry for this ref, if any

    @cached_property
    def conditions(self) -> dict[str, Mapping[str, Any]]:
        """The status entry's conditions by type (several checks read them)."""
        return conditions_by_type(self.status) if self.status is not None else {}

    @property
    def route_hostnames(self) -> tuple[str, ...]:
        return tuple(h for h in as_list(self.route.spec.get("hostnames")) if isinstance(h, str))


@dataclass(frozen=True)
class ClientIP:
    """How one listener learns the client IP: from the effective CTP and the load balancer."""

    ctp: Obj | None
    proxy_protocol: str  # "strict" | "optional" | "off"
    deprecated_enable: bool  # proxy protocol came from enableProxyProtocol
    xff_hops: int | None
    trusted_cidrs: tuple[str, ...]
    custom_header: str | None
    lb_proxy: str  # "v2" | "v1" | "none" | "unknown" (Envoy Service unreadable or missing)
    lb_raw: str | None  # the annotation value as written
    # False when ClientTrafficPolicies could not be read: then no mode can be stated, only "unknown"
    ctp_known: bool = True
    # How much of the CTP takes effect on this listener (ctp_claims.py): "all", "client-ip-detection-only"
    # (its translation failed: no PROXY protocol, routes answer 500) or "nothing" (port overlap)
    applied: str = "all"
    ctp_error: str | None = None
    # The listener on the same port whose CTP put the PROXY filter on the port, when it is another one
    # (Envoy Gateway builds one Envoy listener, so one listener-filter chain, per port)
    proxy_from: str | None = None
    # The Gateway of that listener when it is another one: with mergeGateways one Envoy serves every
    # Gateway of the class, so listeners of different Gateways share a port's Envoy listener
    proxy_from_gateway: GatewayKey | None = None
    # numTrustedHops as written (0 behaves like 1: both mean "the last address")
    xff_hops_written: int | None = None

    @property
    def xff(self) -> bool:
        return self.xff_hops is not None or bool(self.trusted_cidrs)

    @property
    def lb_sends_proxy(self) -> bool | None:
        return None if self.lb_proxy == "unknown" else self.lb_proxy in ("v1", "v2")

    @property
    def mode(self) -> str:
        if not self.ctp_known:
            return "unknown"
        pp = self.proxy_protocol != "off"
        lb = self.lb_sends_proxy
        if pp and (self.xff or self.custom_header):
            return "mixed"
        if pp:
            return "direct" if lb in (True, None) else "mixed"
        if self.xff or self.custom_header:
            return "xff" if lb in (False, None) else "mixed"
        return "none" if lb in (False, None) else "mixed"

    @property
    def client_ip_visible(self) -> bool:
        """Does Envoy see real client addresses (a consistent direct or XFF setup)?"""
        return self.mode in ("direct", "xff")

    def describe(self) -> str:
        if not self.ctp_known:
            return "ClientTrafficPolicies not readable: client-IP mode unknown"
        parts = []
        if self.proxy_protocol != "off":
            parts.append(f"CTP proxyProtocol {self.proxy_protocol}")
        if self.xff_hops is not None:
            parts.append(f"CTP numTrustedHops {self.xff_hops}")
        if self.trusted_cidrs:
            parts.append("CTP trustedCIDRs")
        if self.custom_header:
            parts.append(f"CTP customHeader {self.custom_header}")
        if not parts:
            parts.append("no CTP client-IP setting")
        lb = {"v2": "LB sends PROXY v2", "v1": "LB sends PROXY v1", "none": "LB sends no PROXY header"}
        parts.append(lb.get(self.lb_proxy, "LB PROXY setting unknown"))
        return ", ".join(parts)


@dataclass(frozen=True)
class ListenerView:
    gateway_key: GatewayKey
    name: str
    port: int | None
    protocol: str
    hostname: str | None
    spec: Mapping[str, Any]
    status: Mapping[str, Any]  # status.listeners entry, empty when the controller wrote none
    client_ip: ClientIP
    attachments: tuple[ParentAttachment, ...] = ()


DEFAULT_MODE = "default"  # one Envoy per Gateway, in the controller's namespace
MERGED_MODE = "mergeGateways"  # one Envoy per GatewayClass, in the controller's namespace
GATEWAY_NAMESPACE_MODE = "gatewayNamespace"  # one Envoy per Gateway, in the Gateway's namespace


@dataclass(frozen=True)
class Deployment:
    """Where Envoy Gateway runs this Gateway's Envoy, and how egdoctor knows.

    ``merge`` is the GatewayClass's EnvoyProxy ``mergeGateways`` when that EnvoyProxy was read and sets it
    (it wins over EG's own default, internal/gatewayapi/helpers.go IsMergeGatewaysEnabled); otherwise the
    Service's labels decide: EG labels a merged Envoy by GatewayClass and every other one by Gateway
    (internal/gatewayapi/translator.go buildIR)."""

    mode: str  # DEFAULT_MODE | MERGED_MODE | GATEWAY_NAMESPACE_MODE | "unknown" (no Service to tell by)
    merge: bool | None = None
    envoyproxy: str | None = None  # "namespace/name" of the EnvoyProxy that set merge

    @property
    def merged(self) -> bool:
        return self.mode == MERGED_MODE

    @property
    def as_configured(self) -> bool:
        """False when the EnvoyProxy's mergeGateways and the Services found disagree."""
        return self.merge is None or self.mode == "unknown" or self.merged == self.merge


@dataclass(frozen=True)
class GatewayView:
    obj: Obj
    listeners: tuple[ListenerView, ...]
    envoy_service: Obj | None
    envoy_services: tuple[Obj, ...]
    deployment: Deployment = Deployment("unknown")

    @property
    def key(self) -> GatewayKey:
        return (self.obj.namespace or "", self.obj.name)

    @property
    def addresses(self) -> tuple[str, ...]:
        out = [
            str(a.get("value")) for a in as_list(self.obj.status.get("addresses")) if isinstance(a, Mapping)
        ]
        return tuple(a for a in out if a and a != "None")

    @property
    def mode(self) -> str:
        modes = {lv.client_ip.mode for lv in self.listeners}
        return modes.pop() if len(modes) == 1 else ("mixed" if modes else "none")

    def listener(self, name: str) -> ListenerView | None:
        return next((lv for lv in self.listeners if lv.name == name), None)


@dataclass(frozen=True)
class Topology:
    gateways: Mapping[GatewayKey, GatewayView]
    attachments: tuple[ParentAttachment, ...]
    routes: tuple[Obj, ...]
    ctp_targets: Mapping[tuple[str | None, str], tuple[tuple[GatewayKey, str | None], ...]] = field(
        default_factory=dict
    )

    @cached_property
    def _attachments_by_route(self) -> Mapping[int, tuple[ParentAttachment, ...]]:
        # indexed once: checks ask per route, and scanning every attachment per route is quadratic
        index: dict[int, list[ParentAttachment]] = {}
        for att in self.attachments:
            index.setdefault(id(att.route), []).append(att)
        return {key: tuple(atts) for key, atts in index.items()}

    def attachments_of(self, route: Obj) -> tuple[ParentAttachment, ...]:
        """The parent attachments of this very route object, in topology order."""
        return self._attachments_by_route.get(id(route), ())

    def listeners_for(self, att: ParentAttachment) -> tuple[ListenerView, ...]:
        """The listeners a parentRef can bind to: by sectionName/port, else every listener whose hostname
        intersects the route's hostnames."""
        gw = self.gateways.get(att.gateway_key) if att.gateway_key else None
        if gw is None:
            return ()
        out = []
        for lv in gw.listeners:
            if att.section and lv.name != att.section:
                continue
            if att.port is not None and lv.port != att.port:
                continue
            out.append(lv)
        if att.section or att.port is not None:
            return tuple(out)
        # Without sectionName/port a route binds only to listeners whose protocol serves its kind
        # (gateway-api apis/v1/gateway_types.go, ProtocolType) and whose hostname meets its own.
        kinds = _PROTOCOL_KINDS
        return tuple(
            lv
            for lv in out
            if att.route.kind in kinds.get(lv.protocol, (att.route.kind,))
            and hostnames.any_intersect(lv.hostname, att.route_hostnames)
        )


def route_parent_key(route: Obj, ref: Mapping[str, Any]) -> GatewayKey | None:
    if ref.get("group", GW) not in (GW, "") or ref.get("kind", "Gateway") != "Gateway":
        return None
    return (str(ref.get("namespace") or route.namespace or ""), str(ref.get("name", "")))


def _same_parent(status_ref: Mapping[str, Any], route: Obj, ref: Mapping[str, Any]) -> bool:
    if route_parent_key(route, status_ref) != route_parent_key(route, ref):
        return False
    return status_ref.get("sectionName") == ref.get("sectionName") and status_ref.get("port") == ref.get(
        "port"
    )


def _parent_status(route: Obj, ref: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for entry in as_list(route.status.get("parents")):
        if not isinstance(entry, Mapping):
            continue
        if entry.get("controllerName") != EG_CONTROLLER:
            continue
        if _same_parent(as_map(entry.get("parentRef")), route, ref):
            return entry
    return None


def _ctp_settings(
    ctp: Obj | None, applied: str = "all"
) -> tuple[str, bool, int | None, tuple[str, ...], str | None]:
    if ctp is None or applied == "nothing":
        return "off", False, None, (), None
    spec = ctp.spec
    pp_field = spec.get("proxyProtocol")
    # Envoy Gateway: when both are set, proxyProtocol wins (internal/gatewayapi/clienttrafficpolicy.go).
    if isinstance(pp_field, Mapping):
        proxy = "optional" if pp_field.get("optional") is True else "strict"
        deprecated = False
    elif spec.get("enableProxyProtocol") is True:
        proxy, deprecated = "strict", True
    else:
        proxy, deprecated = "off", False
    if applied == "client-ip-detection-only":
        proxy, deprecated = "off", False
    xff = as_map(as_map(spec.get("clientIPDetection")).get("xForwardedFor"))
    hops = xff.get("numTrustedHops")
    hops = hops if isinstance(hops, int) and not isinstance(hops, bool) else None
    cidrs = tuple(str(c) for c in as_list(xff.get("trustedCIDRs")))
    header = as_map(as_map(spec.get("clientIPDetection")).get("customHeader")).get("name")
    return proxy, deprecated, hops, cidrs, header if isinstance(header, str) else None


def policy_targets(policy: Obj) -> list[Mapping[str, Any]]:
    """The policy's targetRefs; with the deprecated targetRef set, that one alone, as Envoy Gateway reads it
    (api/v1alpha1/policy_helpers.go GetTargetRefs; from v1.8 the CRD refuses both at once)."""
    single = policy.spec.get("targetRef")
    if isinstance(single, Mapping):
        return [single]
    return [r for r in as_list(policy.spec.get("targetRefs")) if isinstance(r, Mapping)]


def ctp_gateway_targets(
    ctp: Obj,
    gateways: Mapping[GatewayKey, Obj],
    namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    grants: Iterable[Mapping[str, Any]] = (),
) -> list[tuple[GatewayKey, str | None]]:
    """(gateway, sectionName) pairs a CTP targets. Target refs are local: the Gateway's namespace is the
    policy's own (api/v1alpha1/policy_helpers.go)."""
    out: list[tuple[GatewayKey, str | None]] = []
    for ref in policy_targets(ctp):
        if ref.get("kind", "Gateway") == "Gateway" and ref.get("group", GW) == GW:
            out.append(((ctp.namespace or "", str(ref.get("name", ""))), ref.get("sectionName")))
    for sel in as_list(ctp.spec.get("targetSelectors")):
        if not isinstance(sel, Mapping) or sel.get("kind", "Gateway") != "Gateway":
            continue
        grants = list(grants)
        for key, gw in gateways.items():
            if not selector_namespace_ok(sel, ctp, key, namespace_labels, grants):
                continue
            # An empty selector selects every Gateway of the namespace: EG builds an empty LabelSelector
            # from it (internal/gatewayapi/helpers.go getPolicyTargetRefs).
            if selector_is_empty(sel) or selector_matches(sel, gw.labels):
                out.append((key, None))
    return out


def selector_namespace_ok(
    sel: Mapping[str, Any],
    ctp: Obj,
    key: GatewayKey,
    namespace_labels: Mapping[str, Mapping[str, str]] | None,
    grants: Iterable[Mapping[str, Any]],
) -> bool:
    """targetSelectors[].namespaces (Envoy Gateway v1.8+; internal/gatewayapi/helpers.go
    targetSelectorNamespacesMatch): Same (the default), All, or Selector over namespace labels; a Gateway in
    another namespace counts only with a ReferenceGrant there from ClientTrafficPolicies of the policy's
    namespace."""
    spaces = sel.get("namespaces")
    policy_ns = ctp.namespace or ""
    if not isinstance(spaces, Mapping):
        return key[0] == policy_ns
    origin = spaces.get("from") or "Same"
    if origin == "Same":
        return key[0] == policy_ns
    if origin == "All":
        allowed = True
    elif origin == "Selector":
        labels = (namespace_labels or {}).get(key[0])
        allowed = labels is not None and selector_matches(as_map(spaces.get("selector")), labels)
    else:
        return False
    if allowed and key[0] != policy_ns:
        allowed = reference_granted(
            grants, (EG, "ClientTrafficPolicy", policy_ns), (GW, "Gateway", key[0], key[1])
        )
    return allowed


def effective_ctp(
    ctps: list[tuple[Obj, GatewayKey, str | None]],
    key: GatewayKey,
    listener: str,
    listeners: Sequence[tuple[str, bool]] | None = None,
) -> Obj | None:
    """The CTP that claims a listener (ctp_claims.py), or None. ``listeners`` are the Gateway's
    (name, terminates TLS) pairs; without them only ``listener`` is considered."""
    claim = claim_listeners(ctps, key, listeners or [(listener, False)]).get(listener)
    return claim.ctp if claim is not None else None


def lb_proxy_mode(service: Obj | None) -> tuple[str, str | None]:
    """cloud-provider-openstack: "v2" -> PROXYV2, "true"/"v1" -> PROXY (v1), anything else -> no PROXY
    (pkg/openstack/loadbalancer.go, getProxyProtocolFromServiceAnnotation)."""
    if service is None:
        return "unknown", None
    raw = service.annotations.get(PROXY_PROTOCOL_ANNOTATION)
    if raw is None:
        return "none", None
    # CPO compares the raw string: "V2" or " v2" is not recognised and gives a plain TCP pool.
    value = str(raw)
    if value == "v2":
        return "v2", str(raw)
    if value in ("true", "v1"):
        return "v1", str(raw)
    return "none", str(raw)


def merge_setting(snapshot: Snapshot, gw: Obj) -> tuple[bool | None, str | None]:
    """mergeGateways of the Gateway's GatewayClass's EnvoyProxy, when it was read and sets it."""
    cls = snapshot.get("GatewayClass", None, str(gw.spec.get("gatewayClassName") or ""))
    ref = class_envoyproxy(cls.raw) if cls is not None else None
    proxy = snapshot.get("EnvoyProxy", ref[0], ref[1]) if ref is not None else None
    merge = proxy.spec.get("mergeGateways") if proxy is not None else None
    if not isinstance(merge, bool) or ref is None:
        return None, None
    return merge, f"{ref[0]}/{ref[1]}"


def _where_eg_puts(services: Iterable[Obj], gw: Obj) -> tuple[Obj, ...]:
    """Envoy Gateway puts an Envoy Service in its own namespace, or in the Gateway's in GatewayNamespace
    mode (internal/infrastructure/kubernetes/proxy_infra.go GetResourceNamespace), and looks for it only
    there (internal/gatewayapi/globalresources.go processServiceClusterForGateway): a labelled Service
    elsewhere is nobody's Envoy and counts only when none is found in those places."""
    services = tuple(services)
    home = tuple(s for s in services if s.namespace in (ENVOY_GATEWAY_SYSTEM, gw.namespace))
    return home or services


def envoy_services_for(snapshot: Snapshot, gw: Obj) -> tuple[tuple[Obj, ...], Deployment]:
    """The Envoy Services of a Gateway in the layout Envoy Gateway uses for it, and that layout."""
    merge, proxy = merge_setting(snapshot, gw)
    own = _where_eg_puts(
        (
            s
            for s in snapshot.of("EnvoyService")
            if s.labels.get(OWNING_GATEWAY_NAME) == gw.name
            and s.labels.get(OWNING_GATEWAY_NAMESPACE) == gw.namespace
        ),
        gw,
    )
    # merged Gateways share the class's Envoy, always in the controller's namespace: EG refuses
    # mergeGateways in GatewayNamespace mode (internal/provider/kubernetes/controller.go)
    cls = str(gw.spec.get("gatewayClassName") or "")
    shared = tuple(
        s
        for s in snapshot.of("EnvoyService")
        if s.labels.get(OWNING_GATEWAYCLASS) == cls and s.namespace == ENVOY_GATEWAY_SYSTEM
    )
    # the EnvoyProxy's setting picks the layout; without it the labels do. A Service only in the other
    # layout is still the one traffic reaches (EG has not moved Envoy yet): EGD108 says so.
    if shared and (merge is True or not own):
        return shared, Deployment(MERGED_MODE, merge, proxy)
    if not own:
        return (), Deployment(MERGED_MODE if merge else "unknown", merge, proxy)
    in_gateway_ns = own[0].namespace == gw.namespace and gw.namespace != ENVOY_GATEWAY_SYSTEM
    return own, Deployment(GATEWAY_NAMESPACE_MODE if in_gateway_ns else DEFAULT_MODE, merge, proxy)


def _terminates_tls(spec: Mapping[str, Any]) -> bool:
    return str(spec.get("protocol", "")).upper() in ("HTTPS", "TLS") and (
        as_map(spec.get("tls")).get("mode", "Terminate") == "Terminate"
    )


def _proxy_per_port(listeners: Sequence[ListenerView]) -> list[ListenerView]:
    """Envoy Gateway builds one Envoy listener per port (internal/xds/translator/translator.go
    processHTTPListenerXdsTranslation). Plain-HTTP Gateway listeners on a port share its one HTTP connection
    manager, which the first of them (spec order) creates with its own PROXY and client-IP settings; the
    others only add routes. Listeners that terminate TLS each get a filter chain of their own, and the first
    of them that enables PROXY protocol puts the filter on the whole port
    (internal/xds/translator/proxy_protocol.go patchProxyProtocolFilter).

    With mergeGateways the listeners of every Gateway of the class are in one Envoy, Gateways in EG's order
    (internal/gatewayapi/resource/resource.go Sort), so a port is shared across Gateways the same way."""

    def key(lv: ListenerView) -> tuple[GatewayKey, str]:
        return (lv.gateway_key, lv.name)

    def source(lv: ListenerView, src: ListenerView) -> dict[str, Any]:
        other = src.gateway_key if src.gateway_key != lv.gateway_key else None
        return {"proxy_from": src.name, "proxy_from_gateway": other}

    by_port: dict[int | None, list[ListenerView]] = {}
    for lv in listeners:
        by_port.setdefault(lv.port, []).append(lv)
    shaped: dict[tuple[GatewayKey, str], ListenerView] = {}
    for group in by_port.values():
        plain = [lv for lv in group if not _terminates_tls(lv.spec)]
        if plain:
            first = plain[0]
            for lv in plain[1:]:
                src = first.client_ip
                cip = replace(
                    lv.client_ip,
                    proxy_protocol=src.proxy_protocol,
                    xff_hops=src.xff_hops,
                    trusted_cidrs=src.trusted_cidrs,
                    custom_header=src.custom_header,
                    **source(lv, first),
                )
                shaped[key(lv)] = replace(lv, client_ip=cip)
        proxied = next((lv for lv in group if lv.client_ip.proxy_protocol != "off"), None)
        if proxied is None or (plain and proxied in plain[1:]):
            continue
        for lv in group:
            current = shaped.get(key(lv), lv)
            if key(lv) != key(proxied) and current.client_ip.proxy_protocol == "off":
                cip = replace(
                    current.client_ip, proxy_protocol=proxied.client_ip.proxy_protocol, **source(lv, proxied)
                )
                shaped[key(lv)] = replace(current, client_ip=cip)
    return [shaped.get(key(lv), lv) for lv in listeners]


def _envoy_order(gw: Obj) -> tuple[str, str, str]:
    """EG's order of Gateways: creation time, then namespace/name (resource.go Sort)."""
    created = gw.raw.get("metadata", {}).get("creationTimestamp") if isinstance(gw.raw, Mapping) else None
    return (str(created or ""), gw.namespace or "", gw.name)


def _share_ports(draft: Mapping[GatewayKey, GatewayView]) -> dict[GatewayKey, GatewayView]:
    """Apply the per-port sharing within each Envoy: one Gateway's, or a merged GatewayClass's."""
    envoys: dict[tuple[str, str], list[GatewayView]] = {}
    for key, view in draft.items():
        cls = str(view.obj.spec.get("gatewayClassName") or "")
        envoy = ("class", cls) if view.deployment.merged else ("gateway", f"{key[0]}/{key[1]}")
        envoys.setdefault(envoy, []).append(view)
    out: dict[GatewayKey, GatewayView] = {}
    for views in envoys.values():
        views.sort(key=lambda v: _envoy_order(v.obj))
        shaped = _proxy_per_port([lv for v in views for lv in v.listeners])
        for view in views:
            mine = tuple(lv for lv in shaped if lv.gateway_key == view.key)
            out[view.key] = replace(view, listeners=mine)
    return {key: out[key] for key in draft}


def build_topology(snapshot: Snapshot) -> Topology:
    gateway_objs = {(g.namespace or "", g.name): g for g in snapshot.of("Gateway")}
    ctp_targets: list[tuple[Obj, GatewayKey, str | None]] = []
    namespace_labels = {ns.name: dict(ns.labels) for ns in snapshot.of("Namespace")}
    grants = [g.raw for g in snapshot.of("ReferenceGrant")]
    for ctp in snapshot.of("ClientTrafficPolicy"):
        for key, section in ctp_gateway_targets(ctp, gateway_objs, namespace_labels, grants):
            ctp_targets.append((ctp, key, section))
    ctp_readable = "ClientTrafficPolicy" in snapshot.fetched and not any(
        p.reason in ("forbidden", "error", "absent") for p in snapshot.problems_for("ClientTrafficPolicy")
    )
    envoy_readable = "EnvoyService" in snapshot.fetched and not any(
        p.reason in ("forbidden", "error") for p in snapshot.problems_for("EnvoyService")
    )

    routes = tuple(r for kind in ROUTE_KINDS for r in snapshot.of(kind))
    attachments: list[ParentAttachment] = []
    for route in routes:
        for i, ref in enumerate(as_list(route.spec.get("parentRefs"))):
            if not isinstance(ref, Mapping):
                continue
            port = ref.get("port")
            attachments.append(
                ParentAttachment(
                    route=route,
                    index=i,
                    ref=ref,
                    gateway_key=route_parent_key(route, ref),
                    section=ref.get("sectionName") if isinstance(ref.get("sectionName"), str) else None,
                    port=port if isinstance(port, int) else None,
                    status=_parent_status(route, ref),
                )
            )

    draft: dict[GatewayKey, GatewayView] = {}
    for key, gw in gateway_objs.items():
        services, deployment = envoy_services_for(snapshot, gw)
        service = next(
            (s for s in services if s.spec.get("type") == "LoadBalancer"), services[0] if services else None
        )
        lb_mode, lb_raw = (
            lb_proxy_mode(service) if (service is not None or envoy_readable) else ("unknown", None)
        )
        listener_status = {
            str(ls.get("name")): ls for ls in as_list(gw.status.get("listeners")) if isinstance(ls, Mapping)
        }
        specs = [s for s in as_list(gw.spec.get("listeners")) if isinstance(s, Mapping)]
        claims = claim_listeners(
            ctp_targets, key, [(str(s.get("name", "")), _terminates_tls(s)) for s in specs]
        )
        listeners = []
        for spec in specs:
            name = str(spec.get("name", ""))
            claim = claims.get(name)
            effective = claim.ctp if claim is not None else None
            applied = claim.applied if claim is not None else "all"
            proxy, deprecated, hops, cidrs, header = _ctp_settings(effective, applied)
            client_ip = ClientIP(
                effective,
                proxy,
                deprecated,
                # numTrustedHops 0 and 1 both become xff_num_trusted_hops 0 in Envoy
                # (internal/xds/translator/listener.go xffNumTrustedHops)
                1 if hops == 0 else hops,
                cidrs,
                header,
                lb_mode,
                lb_raw,
                ctp_known=ctp_readable,
                applied=applied,
                ctp_error=claim.error if claim is not None else None,
                xff_hops_written=hops,
            )
            port = spec.get("port")
            listeners.append(
                ListenerView(
                    gateway_key=key,
                    name=name,
                    port=port if isinstance(port, int) else None,
                    protocol=str(spec.get("protocol", "")),
                    hostname=spec.get("hostname") if isinstance(spec.get("hostname"), str) else None,
                    spec=spec,
                    status=listener_status.get(name, {}),
                    client_ip=client_ip,
                )
            )
        draft[key] = GatewayView(gw, tuple(listeners), service, services, deployment)

    draft = _share_ports(draft)
    topo = Topology(draft, tuple(attachments), routes)
    # attach routes to listeners now that listener lookup works
    final: dict[GatewayKey, GatewayView] = {}
    for key, view in draft.items():
        per_listener: dict[str, list[ParentAttachment]] = {lv.name: [] for lv in view.listeners}
        for att in attachments:
            if att.gateway_key == key:
                for lv in topo.listeners_for(att):
                    per_listener[lv.name].append(att)
        attached = tuple(
            ListenerView(**{**lv.__dict__, "attachments": tuple(per_listener[lv.name])})
            for lv in view.listeners
        )
        final[key] = replace(view, listeners=attached)
    targets: dict[tuple[str | None, str], list[tuple[GatewayKey, str | None]]] = {}
    for ctp, key, section in ctp_targets:
        targets.setdefault(ctp.key, []).append((key, section))
    return Topology(final, tuple(attachments), routes, {k: tuple(v) for k, v in targets.items()})
