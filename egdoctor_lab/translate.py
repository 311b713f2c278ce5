"""Scenario objects -> a data-path plan, the way Envoy Gateway and cloud-provider-openstack build it.

A scenario describes a cluster as its objects claim it to be. This module reads those objects and
decides what the data path does, as the two controllers would:

Envoy Gateway (``internal/gatewayapi``, ``internal/xds/translator``)
    every Gateway whose GatewayClass names EG's controller gets an Envoy; each HTTP/HTTPS listener
    becomes an Envoy listener, an HTTPS one serving the certificate and key of its first
    ``certificateRefs`` Secret (a listener whose Secret is missing or holds no usable PEM is not
    programmed, as EG leaves it ``ResolvedRefs=False``). The effective ClientTrafficPolicy per
    listener follows EG's precedence (a section-targeted CTP beats a Gateway-wide one; among equals the
    oldest ``creationTimestamp``, then the name, wins; a CTP whose status rejects the target does not
    apply): ``proxyProtocol`` beats the deprecated ``enableProxyProtocol``, ``optional: true`` makes the
    PROXY filter optional, ``clientIPDetection.xForwardedFor.numTrustedHops`` sets XFF mode. The PROXY
    filter belongs to an Envoy listener (a port), so the lab takes the first listener, in spec order,
    that has one; likewise for the hops (the plan holds one setting per Gateway; a note says when
    listeners disagree).
cloud-provider-openstack (``pkg/openstack/loadbalancer.go``)
    the Envoy Service is found by EG's owning-gateway labels; ``loadbalancer.openstack.org/proxy-protocol``
    ``"v2"`` -> PROXY v2, ``"true"``/``"v1"`` -> PROXY v1, anything else -> plain TCP;
    ``spec.loadBalancerSourceRanges`` become the LB's allowed CIDRs. A Gateway without a LoadBalancer
    Service has no LB and gets no data path.

Then ``spec.datapath`` of the LabScenario document says what the data path REALLY does where it
differs from what the objects claim; that gap is what egdoctor's probes are meant to find::

    spec:
      datapath:                       # present (even {}) = the scenario gets a data path
        gateways:
          gateway/shared:             # <namespace>/<name> of a Gateway
            lbSends: none             # none | v1 | v2: what Octavia really sends (default: the annotation)
            edgeProxies: 1            # HTTP proxies (CDN/WAF) in front of the LB appending X-Forwarded-For
            lbBlackhole: true         # the LB accepts and never answers (closes after 50 s)
            lbSourceRanges: [127.0.0.0/8]   # replaces the Service's loadBalancerSourceRanges
            edgesInSourceRanges: false      # the edges' egress is NOT inside the ranges (default true)
            proxyProtocol: strict     # off | strict | optional: what Envoy really runs (default: the CTP)
            xffTrustedHops: 2         # a number, or null for no XFF detection (default: the CTP)
            servedCertificate:        # Envoy serves another certificate than the listener's Secret
              listener: https-team-a
              hosts: [other.example.com]
              issuer: self            # fields of the lab.egdoctor.io/certificate annotation (certs.py)
        dns:                          # the whole table; without it one is derived (see below)
          team-a.example.com: ["@lb:gateway/shared"]    # or "@edge:<ns>/<name>", 127.x addresses, a name
          team-b.example.com: [127.0.0.99]
        dnsZones: [example.com]       # default: the parent of every record name
        envoyLogLevel: warning

Names under a zone that are not in the table answer NXDOMAIN, names outside every zone REFUSED.
Without ``dns`` the table holds every listener hostname and every hostname of an HTTPRoute attached
to the Gateway, pointing at the outermost edge proxy when the Gateway has edges and at the LB
otherwise. Literal DNS addresses must be loopback (127.0.0.0/8 or ::1), so that nothing the lab
answers leads a probe off the machine.

``loadBalancerSourceRanges`` and the edges: the lab's edge proxies stand in for the CDN/WAF whose
egress the ranges are meant to admit, so their loopback addresses are added to non-empty ranges
unless ``edgesInSourceRanges: false``. The ranges themselves apply as written, so a lab client on
127.0.0.x is outside documentation ranges such as 198.51.100.0/24, like any client on the internet.

Edge proxies front the HTTP listener ports only (an HTTP proxy cannot append a header inside TLS it
does not terminate); HTTPS is reached on the LB.

HTTPRoutes are not part of the initial plan (the default echo route answers everything); the lab's
controller (``cluster.py``) calls :func:`translate_route` for routes clients create, which turns
rules with an EG ``HTTPRouteFilter`` ``directResponse`` or a ``ResponseHeaderModifier`` into routes
with the values passed verbatim, and computes the ``status.parents`` entry EG would write.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, cast

from egdoctor.model.topology import EG_CONTROLLER, ctp_gateway_targets, effective_ctp, lb_proxy_mode
from egdoctor.snapshot.objects import Obj
from egdoctor_lab.certs import ANNOTATION as CERT_ANNOTATION
from egdoctor_lab.certs import SELF_SIGNED, CertificateFactory, CertSpec, CertSpecError
from egdoctor_lab.datapath.plan import (
    MAX_EDGE_PROXIES,
    DataPathPlan,
    GatewayPlan,
    LbSends,
    ListenerPlan,
    ProxyProtocolMode,
    RoutePlan,
    parse_alias,
)
from egdoctor_lab.scenario import ScenarioError

GW_GROUP = "gateway.networking.k8s.io"
EG_GROUP = "gateway.envoyproxy.io"
OWNING_NAME = "gateway.envoyproxy.io/owning-gateway-name"
OWNING_NAMESPACE = "gateway.envoyproxy.io/owning-gateway-namespace"
CONTROLLER_NAMESPACE = "envoy-gateway-system"
RESPONSE_BODY_KEY = "response.body"  # EG ResponseBodyConfigMapKey

_GATEWAY_KEYS = {
    "lbSends",
    "edgeProxies",
    "lbBlackhole",
    "lbSourceRanges",
    "edgesInSourceRanges",
    "proxyProtocol",
    "xffTrustedHops",
    "servedCertificate",
}
_TOP_KEYS = {"gateways", "dns", "dnsZones", "envoyLogLevel"}
_LOOPBACK_V4 = ipaddress.ip_network("127.0.0.0/8")


# ------------------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class ServedCertificate:
    listener: str
    spec: CertSpec


@dataclass(frozen=True)
class GatewayOverrides:
    """One ``spec.datapath.gateways`` entry; ``None`` means "as the objects say"."""

    lb_sends: LbSends | None = None
    edge_proxies: int = 0
    lb_blackhole: bool = False
    lb_source_ranges: tuple[str, ...] | None = None
    edges_in_source_ranges: bool = True
    proxy_protocol: ProxyProtocolMode | None = None
    xff_trusted_hops: int | None = None
    xff_overridden: bool = False
    served_certificates: tuple[ServedCertificate, ...] = ()


@dataclass(frozen=True)
class DatapathSettings:
    gateways: Mapping[str, GatewayOverrides] = field(default_factory=dict)
    dns: Mapping[str, tuple[str, ...]] | None = None
    dns_zones: tuple[str, ...] = ()
    envoy_log_level: str = "warning"


def has_datapath(settings: Mapping[str, Any] | None) -> bool:
    """Whether a scenario asks for a data path: its LabScenario spec has a ``datapath`` key."""
    return isinstance(settings, Mapping) and "datapath" in settings


def datapath_settings(settings: Mapping[str, Any] | None) -> DatapathSettings | None:
    """Parse ``spec.datapath``; None when the scenario has none. Raises ScenarioError on mistakes."""
    if not has_datapath(settings):
        return None
    assert settings is not None
    raw = settings.get("datapath")
    if raw is None:
        return DatapathSettings()
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"spec.datapath must be a mapping, got {raw!r}")
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise ScenarioError(f"spec.datapath: unknown key(s) {', '.join(sorted(unknown))}")
    gateways: dict[str, GatewayOverrides] = {}
    raw_gateways = raw.get("gateways") or {}
    if not isinstance(raw_gateways, Mapping):
        raise ScenarioError("spec.datapath.gateways must map <namespace>/<name> to settings")
    for key, value in raw_gateways.items():
        if not isinstance(key, str) or key.count("/") != 1:
            raise ScenarioError(f"spec.datapath.gateways: {key!r} is not <namespace>/<name>")
        gateways[key] = _gateway_overrides(value or {}, f"spec.datapath.gateways[{key}]")
    dns: dict[str, tuple[str, ...]] | None = None
    if raw.get("dns") is not None:
        if not isinstance(raw["dns"], Mapping):
            raise ScenarioError("spec.datapath.dns must map names to lists of values")
        dns = {}
        for name, values in raw["dns"].items():
            values = [values] if isinstance(values, str) else values
            if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
                raise ScenarioError(f"spec.datapath.dns[{name}] must be a non-empty list of strings")
            for value in values:
                _check_dns_value(str(name), value)
            dns[str(name)] = tuple(values)
    zones = raw.get("dnsZones") or []
    if not isinstance(zones, list) or not all(isinstance(z, str) for z in zones):
        raise ScenarioError("spec.datapath.dnsZones must be a list of names")
    level = raw.get("envoyLogLevel", "warning")
    if level not in ("trace", "debug", "info", "warning", "error", "critical", "off"):
        raise ScenarioError(f"spec.datapath.envoyLogLevel {level!r} is not an Envoy log level")
    return DatapathSettings(gateways, dns, tuple(zones), level)


def _gateway_overrides(raw: Any, where: str) -> GatewayOverrides:
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"{where} must be a mapping")
    unknown = set(raw) - _GATEWAY_KEYS
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    lb_sends = raw.get("lbSends")
    if lb_sends is not None and lb_sends not in ("none", "v1", "v2"):
        raise ScenarioError(f"{where}.lbSends must be none, v1 or v2")
    edges = raw.get("edgeProxies", 0)
    if isinstance(edges, bool) or not isinstance(edges, int) or not 0 <= edges <= MAX_EDGE_PROXIES:
        raise ScenarioError(f"{where}.edgeProxies must be 0-{MAX_EDGE_PROXIES}")
    ranges = raw.get("lbSourceRanges")
    if ranges is not None:
        if not isinstance(ranges, list) or not all(isinstance(r, str) for r in ranges):
            raise ScenarioError(f"{where}.lbSourceRanges must be a list of CIDRs")
        for cidr in ranges:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ScenarioError(f"{where}.lbSourceRanges: {cidr!r} is not a CIDR") from None
    proxy = raw.get("proxyProtocol")
    if proxy is not None and proxy not in ("off", "strict", "optional"):
        raise ScenarioError(f"{where}.proxyProtocol must be off, strict or optional")
    hops = raw.get("xffTrustedHops")
    if hops is not None and (isinstance(hops, bool) or not isinstance(hops, int) or not 0 <= hops <= 64):
        raise ScenarioError(f"{where}.xffTrustedHops must be 0-64 or null")
    for flag in ("lbBlackhole", "edgesInSourceRanges"):
        if flag in raw and not isinstance(raw[flag], bool):
            raise ScenarioError(f"{where}.{flag} must be true or false")
    served_raw = raw.get("servedCertificate") or []
    served_list = [served_raw] if isinstance(served_raw, Mapping) else served_raw
    if not isinstance(served_list, list):
        raise ScenarioError(f"{where}.servedCertificate must be a mapping or a list of them")
    served = []
    for entry in served_list:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("listener"), str):
            raise ScenarioError(f"{where}.servedCertificate needs a listener name")
        try:
            spec = CertSpec.parse({k: v for k, v in entry.items() if k != "listener"})
        except CertSpecError as exc:
            raise ScenarioError(f"{where}.servedCertificate: {exc}") from None
        served.append(ServedCertificate(entry["listener"], spec))
    return GatewayOverrides(
        lb_sends=cast(LbSends, lb_sends) if lb_sends is not None else None,
        edge_proxies=edges,
        lb_blackhole=bool(raw.get("lbBlackhole", False)),
        lb_source_ranges=tuple(ranges) if ranges is not None else None,
        edges_in_source_ranges=bool(raw.get("edgesInSourceRanges", True)),
        proxy_protocol=cast(ProxyProtocolMode, proxy) if proxy is not None else None,
        xff_trusted_hops=hops,
        xff_overridden="xffTrustedHops" in raw,
        served_certificates=tuple(served),
    )


def _check_dns_value(name: str, value: str) -> None:
    if parse_alias(value) is not None:
        return
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return  # a CNAME target
    if address not in _LOOPBACK_V4 and str(address) != "::1":
        raise ScenarioError(f"spec.datapath.dns[{name}]: {value} is not a loopback address")


# ---------------------------------------------------------------------------------------- translation


@dataclass(frozen=True)
class GatewayTranslation:
    """How one Gateway was translated: the objects behind its plan, for status write-back."""

    key: str
    gateway: Mapping[str, Any]
    service: Mapping[str, Any]
    ctps: Mapping[str, str | None]  # listener -> "<ns>/<name>" of its effective CTP
    declared_lb_sends: str  # what the Service annotation asks Octavia for


@dataclass(frozen=True)
class Translation:
    plan: DataPathPlan
    gateways: Mapping[str, GatewayTranslation]
    # Issuer names of the CAs that signed listener certificates, for a client's trust bundle.
    listener_issuers: tuple[str, ...]
    notes: tuple[str, ...]


class _Objects:
    """The scenario objects by kind, with the lookups translation needs."""

    def __init__(self, objects: Iterable[Mapping[str, Any]]) -> None:
        self.by_kind: dict[str, list[Mapping[str, Any]]] = {}
        for obj in objects:
            if isinstance(obj, Mapping) and isinstance(obj.get("kind"), str):
                self.by_kind.setdefault(obj["kind"], []).append(obj)

    def of(self, kind: str) -> list[Mapping[str, Any]]:
        return self.by_kind.get(kind, [])

    def get(self, kind: str, namespace: str | None, name: str) -> Mapping[str, Any] | None:
        for obj in self.of(kind):
            meta = _meta(obj)
            if meta.get("name") == name and (namespace is None or meta.get("namespace") == namespace):
                return obj
        return None


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _key(obj: Mapping[str, Any]) -> str:
    meta = _meta(obj)
    return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"


def eg_gateway_classes(objects: Iterable[Mapping[str, Any]]) -> set[str]:
    return {
        str(_meta(gc).get("name"))
        for gc in objects
        if gc.get("kind") == "GatewayClass" and _map(gc.get("spec")).get("controllerName") == EG_CONTROLLER
    }


def envoy_service(
    objects: Iterable[Mapping[str, Any]], namespace: str, name: str
) -> Mapping[str, Any] | None:
    """The Envoy Service EG made for a Gateway, found by its owning-gateway labels where EG puts it: its own
    namespace, or the Gateway's in GatewayNamespace deploy mode (internal/infrastructure/kubernetes/
    proxy_infra.go GetResourceNamespace); a labelled Service anywhere else is not EG's."""
    found = sorted(
        (
            s
            for s in objects
            if s.get("kind") == "Service"
            and _meta(s).get("namespace") in (CONTROLLER_NAMESPACE, namespace)
            and _map(_meta(s).get("labels")).get(OWNING_NAME) == name
            and _map(_meta(s).get("labels")).get(OWNING_NAMESPACE) == namespace
        ),
        key=_key,
    )
    return found[0] if found else None


def translate(
    objects: Iterable[Mapping[str, Any]],
    settings: DatapathSettings,
    state_dir: Path,
    *,
    address_octet: int = 0,
    factory: CertificateFactory | None = None,
) -> Translation:
    """Build the plan; listener certificates are written to ``state_dir/certs`` (mode 0600)."""
    objs = _Objects(objects)
    factory = factory or CertificateFactory()
    classes = eg_gateway_classes(objs.of("GatewayClass"))
    notes: list[str] = []
    gateway_objs = sorted(
        (g for g in objs.of("Gateway") if _map(g.get("spec")).get("gatewayClassName") in classes), key=_key
    )
    gw_index = {cast(tuple[str, str], tuple(_key(g).split("/", 1))): Obj(g, "Gateway") for g in gateway_objs}
    ctp_targets = [
        (ctp, key, section)
        for ctp in (Obj(c, "ClientTrafficPolicy") for c in objs.of("ClientTrafficPolicy"))
        for key, section in ctp_gateway_targets(ctp, gw_index)
    ]
    planned: list[tuple[GatewayPlan, GatewayOverrides, GatewayTranslation]] = []
    issuers: set[str] = set()
    for gw in gateway_objs:
        key = _key(gw)
        namespace, name = key.split("/", 1)
        overrides = settings.gateways.get(key, GatewayOverrides())
        service = envoy_service(objs.of("Service"), namespace, name)
        if service is None:
            notes.append(f"Gateway {key}: no Envoy Service carries its owning-gateway labels; no data path")
            continue
        if _map(service.get("spec")).get("type") != "LoadBalancer":
            notes.append(f"Gateway {key}: Envoy Service {_key(service)} is not a LoadBalancer; no data path")
            continue
        listeners, listener_issuers = _listeners(gw, objs, overrides, state_dir / "certs", factory, notes)
        if not listeners:
            notes.append(f"Gateway {key}: no HTTP or HTTPS listener can be programmed; no data path")
            continue
        issuers |= listener_issuers
        pairs = [(lst.name, lst.protocol == "HTTPS") for lst in listeners]
        ctps = {lst.name: effective_ctp(ctp_targets, (namespace, name), lst.name, pairs) for lst in listeners}
        proxy, hops = _client_ip(key, listeners, ctps, notes)
        declared, _raw = lb_proxy_mode(Obj(service, "Service"))
        lb_sends = cast(LbSends, declared if declared in ("none", "v1", "v2") else "none")
        if overrides.lb_sends is not None:
            lb_sends = overrides.lb_sends
        if overrides.proxy_protocol is not None:
            proxy = overrides.proxy_protocol
        if overrides.xff_overridden:
            hops = overrides.xff_trusted_hops
        ranges = overrides.lb_source_ranges
        if ranges is None:
            ranges = tuple(str(r) for r in _list(_map(service.get("spec")).get("loadBalancerSourceRanges")))
        plan = GatewayPlan(
            namespace=namespace,
            name=name,
            listeners=tuple(listeners),
            proxy_protocol=proxy,
            xff_trusted_hops=hops,
            lb_sends=lb_sends,
            edge_proxies=overrides.edge_proxies,
            lb_source_ranges=ranges,
            lb_blackhole=overrides.lb_blackhole,
        )
        info = GatewayTranslation(
            key=key,
            gateway=gw,
            service=service,
            ctps={n: (_key(c.raw) if c is not None else None) for n, c in ctps.items()},
            declared_lb_sends=declared,
        )
        planned.append((plan, overrides, info))
    unknown = set(settings.gateways) - {p.key for p, _, _ in planned}
    if unknown:
        raise ScenarioError(
            f"spec.datapath.gateways names {', '.join(sorted(unknown))}, which get no data path"
            + (f" ({'; '.join(notes)})" if notes else "")
        )
    if not planned:
        raise ScenarioError(
            "spec.datapath is set but no Gateway of an Envoy Gateway class can get a data path"
        )

    # Edge addresses follow the Gateway's position in the plan (plan.py), known only from here on.
    gateways: list[GatewayPlan] = []
    for i, (plan, overrides, _) in enumerate(planned, start=1):
        if plan.lb_source_ranges and plan.edge_proxies and overrides.edges_in_source_ranges:
            edges = tuple(f"127.{address_octet}.{30 + j}.{i}/32" for j in range(1, plan.edge_proxies + 1))
            plan = replace(plan, lb_source_ranges=plan.lb_source_ranges + edges)
        gateways.append(plan)
    dns = dict(settings.dns) if settings.dns is not None else _derived_dns(gateways, objs, notes)
    try:
        data_plan = DataPathPlan(
            gateways=tuple(gateways),
            dns_records={k: list(v) for k, v in dns.items()},
            dns_zones=settings.dns_zones,
            address_octet=address_octet,
            envoy_log_level=settings.envoy_log_level,
        )
    except ValueError as exc:
        raise ScenarioError(f"spec.datapath: {exc}") from None
    return Translation(
        plan=data_plan,
        gateways={info.key: info for _, _, info in planned},
        listener_issuers=tuple(sorted(issuers)),
        notes=tuple(notes),
    )


def _client_ip(
    key: str, listeners: Sequence[ListenerPlan], ctps: Mapping[str, Obj | None], notes: list[str]
) -> tuple[ProxyProtocolMode, int | None]:
    settings = {lst.name: ctp_client_ip(ctps[lst.name]) for lst in listeners}
    proxies = [p for p, _ in settings.values() if p != "off"]
    hops_list = [h for _, h in settings.values() if h is not None]
    if len(set(settings.values())) > 1:
        detail = ", ".join(f"{n}: {p}/{h}" for n, (p, h) in settings.items())
        notes.append(
            f"Gateway {key}: listeners disagree on client-IP settings ({detail}); the first one set wins"
        )
    proxy = cast(ProxyProtocolMode, proxies[0] if proxies else "off")
    return proxy, (hops_list[0] if hops_list else None)


def ctp_client_ip(ctp: Obj | None) -> tuple[str, int | None]:
    """(PROXY filter mode, XFF numTrustedHops) of a CTP (EG internal/gatewayapi/clienttrafficpolicy.go)."""
    if ctp is None:
        return "off", None
    spec = ctp.spec
    pp = spec.get("proxyProtocol")
    if isinstance(pp, Mapping):
        proxy = "optional" if pp.get("optional") is True else "strict"
    elif spec.get("enableProxyProtocol") is True:
        proxy = "strict"
    else:
        proxy = "off"
    xff = _map(_map(spec.get("clientIPDetection")).get("xForwardedFor"))
    hops = xff.get("numTrustedHops")
    return proxy, hops if isinstance(hops, int) and not isinstance(hops, bool) else None


def _listeners(
    gw: Mapping[str, Any],
    objs: _Objects,
    overrides: GatewayOverrides,
    cert_dir: Path,
    factory: CertificateFactory,
    notes: list[str],
) -> tuple[list[ListenerPlan], set[str]]:
    key = _key(gw)
    namespace = key.split("/", 1)[0]
    served = {s.listener: s.spec for s in overrides.served_certificates}
    names = {str(_map(lst).get("name")) for lst in _list(_map(gw.get("spec")).get("listeners"))}
    missing = set(served) - names
    if missing:
        raise ScenarioError(f"spec.datapath.gateways[{key}].servedCertificate: no listener {sorted(missing)}")
    out: list[ListenerPlan] = []
    issuers: set[str] = set()
    protocols: dict[int, str] = {}
    hosts: set[tuple[int, str]] = set()
    for raw in _list(_map(gw.get("spec")).get("listeners")):
        lst = _map(raw)
        name, port, protocol = str(lst.get("name") or ""), lst.get("port"), lst.get("protocol")
        hostname = lst.get("hostname") if isinstance(lst.get("hostname"), str) else None
        where = f"Gateway {key} listener {name}"
        if protocol not in ("HTTP", "HTTPS") or not isinstance(port, int):
            notes.append(f"{where}: protocol {protocol} is not modelled by the lab; skipped")
            continue
        if protocols.setdefault(port, protocol) != protocol or (port, hostname or "*") in hosts:
            notes.append(f"{where}: conflicts with an earlier listener on port {port}; not programmed")
            continue
        hosts.add((port, hostname or "*"))
        cert = key_file = None
        if protocol == "HTTPS":
            tls = _map(lst.get("tls"))
            if tls.get("mode", "Terminate") != "Terminate":
                notes.append(f"{where}: TLS mode {tls.get('mode')} is not modelled; skipped")
                continue
            stem = f"{namespace}.{_meta(gw).get('name')}.{name}"
            if name in served:
                try:
                    cert_pem, key_pem = factory.issue(served[name])
                except CertSpecError as exc:
                    raise ScenarioError(f"spec.datapath.gateways[{key}].servedCertificate: {exc}") from None
                stem += ".served"
            else:
                pair, issuer, problem = _listener_secret(lst, namespace, objs)
                if pair is None:
                    notes.append(f"{where}: {problem}; not programmed")
                    continue
                cert_pem, key_pem = pair
                if issuer is not None and issuer != SELF_SIGNED:
                    issuers.add(issuer)
            cert, key_file = cert_dir / f"{stem}.crt", cert_dir / f"{stem}.key"
            write_private(cert, cert_pem)
            write_private(key_file, key_pem)
        try:
            out.append(ListenerPlan(name, port, protocol, hostname, cert, key_file))
        except ValueError as exc:
            notes.append(f"{where}: {exc}; skipped")
    return out, issuers


def _listener_secret(
    listener: Mapping[str, Any], gw_namespace: str, objs: _Objects
) -> tuple[tuple[bytes, bytes] | None, str | None, str]:
    """(certificate PEM, key PEM), the lab issuer named on the Secret, or None and why not."""
    refs = _list(_map(listener.get("tls")).get("certificateRefs"))
    if not refs or not isinstance(refs[0], Mapping):
        return None, None, "no certificateRefs"
    ref = refs[0]
    if ref.get("kind", "Secret") != "Secret" or ref.get("group", "") not in ("", "core"):
        return None, None, f"certificateRef kind {ref.get('kind')} is not a Secret"
    namespace = str(ref.get("namespace") or gw_namespace)
    secret = objs.get("Secret", namespace, str(ref.get("name")))
    if secret is None:
        return None, None, f"Secret {namespace}/{ref.get('name')} does not exist"
    data = _map(secret.get("data"))
    try:
        cert_pem = base64.b64decode(str(data.get("tls.crt") or ""), validate=True)
        key_pem = base64.b64decode(str(data.get("tls.key") or ""), validate=True)
    except (binascii.Error, ValueError):
        return None, None, f"Secret {namespace}/{ref.get('name')} holds invalid base64"
    problem = _pem_problem(cert_pem, key_pem)
    if problem:
        return None, None, f"Secret {namespace}/{ref.get('name')}: {problem}"
    issuer: str | None = None
    annotation = _map(_meta(secret).get("annotations")).get(CERT_ANNOTATION)
    if annotation is not None:
        try:
            issuer = CertSpec.parse(annotation).issuer
        except CertSpecError:
            issuer = None
    return (cert_pem, key_pem), issuer, ""


def _pem_problem(cert_pem: bytes, key_pem: bytes) -> str:
    """Why Envoy would refuse the pair (it would not start at all), or ""."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        return "tls.crt is not a PEM certificate"
    try:
        load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        return "tls.key is not a PEM private key"
    return ""


def write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(data)


def _derived_dns(
    gateways: Sequence[GatewayPlan], objs: _Objects, notes: list[str]
) -> dict[str, tuple[str, ...]]:
    records: dict[str, tuple[str, ...]] = {}
    for gw in gateways:
        target = f"@{'edge' if gw.edge_proxies else 'lb'}:{gw.key}"
        names = [lst.hostname for lst in gw.listeners if lst.hostname]
        for route in objs.of("HTTPRoute"):
            refs = _list(_map(route.get("spec")).get("parentRefs"))
            route_ns = str(_meta(route).get("namespace") or "")
            if any(_names_gateway(_map(r), route_ns, gw.namespace, gw.name) for r in refs):
                names += [h for h in _list(_map(route.get("spec")).get("hostnames")) if isinstance(h, str)]
        for name in names:
            if name in records and records[name] != (target,):
                notes.append(f"DNS {name}: claimed by more than one Gateway; the first keeps it")
                continue
            records[name] = (target,)
    return records


def _names_gateway(ref: Mapping[str, Any], route_ns: str, namespace: str, name: str) -> bool:
    if ref.get("group", GW_GROUP) not in (GW_GROUP, "") or ref.get("kind", "Gateway") != "Gateway":
        return False
    return ref.get("name") == name and (ref.get("namespace") or route_ns) == namespace


# ---------------------------------------------------------------------------------------------- routes


class ObjectSource:
    """What route translation reads besides the route: a function per lookup, so callers pick the store."""

    def __init__(
        self,
        get: Callable[[str, str, str], Mapping[str, Any] | None],
        list_in: Callable[[str, str], Sequence[Mapping[str, Any]]],
    ) -> None:
        self.get = get
        self.list_in = list_in

    def namespace_labels(self, namespace: str) -> Mapping[str, str]:
        ns = self.get("Namespace", "", namespace)
        return _map(_meta(ns).get("labels")) if ns is not None else {}


@dataclass(frozen=True)
class LabGateway:
    """A Gateway the lab programs: its object (for listeners) and its current plan."""

    gateway: Mapping[str, Any]
    plan: GatewayPlan


@dataclass
class RouteTranslation:
    """EG's verdict on one HTTPRoute for the lab's Gateways."""

    parents: list[dict[str, Any]]  # status.parents entries, one per parentRef naming a lab Gateway
    routes: dict[str, list[RoutePlan]]  # Gateway key -> its routes
    attached: dict[str, tuple[str, ...]]  # Gateway key -> listener names the route attached to


@dataclass
class _RuleOutcome:
    direct: tuple[int, str | None] | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    accepted_error: tuple[str, str] | None = None  # (reason, message): the rule is dropped
    resolved_errors: list[tuple[str, str]] = field(default_factory=list)


def _condition_message(text: str) -> str:
    # status.Error2ConditionMsg: a capital first letter and a closing period.
    text = text[:1].upper() + text[1:] if text[:1].isalpha() else text
    return text if text.endswith(".") else text + "."


def translate_route(
    route: Mapping[str, Any], gateways: Mapping[str, LabGateway], source: ObjectSource
) -> RouteTranslation:
    """Status and routes for ``route`` on the lab's Gateways (internal/gatewayapi/route.go, filters.go)."""
    meta = _meta(route)
    route_ns, route_name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    spec = _map(route.get("spec"))
    rules = [_map(r) for r in _list(spec.get("rules"))]
    hostnames = tuple(h for h in _list(spec.get("hostnames")) if isinstance(h, str))
    outcomes = [_rule(i, rule, route_ns, source) for i, rule in enumerate(rules)]
    result = RouteTranslation([], {}, {})
    generation = meta.get("generation") if isinstance(meta.get("generation"), int) else 1
    for ref in (_map(r) for r in _list(spec.get("parentRefs"))):
        key = next(
            (k for k, g in gateways.items() if _names_gateway(ref, route_ns, g.plan.namespace, g.plan.name)),
            None,
        )
        if key is None:
            continue
        lab_gw = gateways[key]
        conditions: list[tuple[str, str, str, str]] = []  # type, status, reason, message
        attached: tuple[str, ...] = ()
        listeners = _selected_listeners(lab_gw, ref)
        if not listeners:
            conditions.append(("Accepted", "False", "NoMatchingParent", "No listeners match this parent ref"))
        else:
            allowed = [lst for lst in listeners if _allows(lst, route_ns, lab_gw.plan.namespace, source)]
            matching = [lst for lst in allowed if _hostnames_intersect(lst.get("hostname"), hostnames)]
            if not allowed:
                conditions.append(
                    (
                        "Accepted",
                        "False",
                        "NotAllowedByListeners",
                        "No listeners included by this parent ref allowed this attachment.",
                    )
                )
            elif not matching:
                conditions.append(
                    (
                        "Accepted",
                        "False",
                        "NoMatchingListenerHostname",
                        "There were no hostname intersections between the HTTPRoute and this parent ref's "
                        "Listener(s).",
                    )
                )
            else:
                dropped = [i for i, o in enumerate(outcomes) if o.accepted_error is not None]
                if rules and len(dropped) == len(rules):
                    reason, message = outcomes[dropped[0]].accepted_error or ("", "")
                    conditions.append(("Accepted", "False", reason, message))
                else:
                    conditions.append(("Accepted", "True", "Accepted", "Route is accepted"))
                    if dropped:
                        reason, message = outcomes[dropped[0]].accepted_error or ("", "")
                        conditions.append(
                            ("PartiallyInvalid", "True", reason, f"Dropped Rule(s) {dropped}: {message}")
                        )
                    planned = {lst.name for lst in lab_gw.plan.listeners}
                    attached = tuple(str(lst.get("name")) for lst in matching if lst.get("name") in planned)
        resolved = [e for o in outcomes for e in o.resolved_errors]
        if resolved:
            reasons = ",".join(dict.fromkeys(r for r, _ in resolved))
            conditions.insert(1, ("ResolvedRefs", "False", reasons, "\n".join(m for _, m in resolved)))
        else:
            conditions.insert(
                1,
                ("ResolvedRefs", "True", "ResolvedRefs", "Resolved all the Object references for the Route"),
            )
        result.parents.append(
            {
                "parentRef": dict(ref),
                "controllerName": EG_CONTROLLER,
                "conditions": [
                    {"type": t, "status": s, "reason": r, "message": m, "observedGeneration": generation}
                    for t, s, r, m in conditions
                ],
            }
        )
        if attached:
            result.attached[key] = tuple(dict.fromkeys((*result.attached.get(key, ()), *attached)))
            plans = result.routes.setdefault(key, [])
            plans.extend(_route_plans(route_ns, route_name, rules, outcomes, attached, hostnames))
    return result


def _selected_listeners(gw: LabGateway, ref: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    listeners = [_map(lst) for lst in _list(_map(gw.gateway.get("spec")).get("listeners"))]
    section, port = ref.get("sectionName"), ref.get("port")
    return [
        lst
        for lst in listeners
        if (section is None or lst.get("name") == section) and (port is None or lst.get("port") == port)
    ]


def _allows(listener: Mapping[str, Any], route_ns: str, gw_ns: str, source: ObjectSource) -> bool:
    allowed = _map(listener.get("allowedRoutes"))
    kinds = _list(allowed.get("kinds"))
    if kinds and not any(
        _map(k).get("kind") == "HTTPRoute" and _map(k).get("group", GW_GROUP) == GW_GROUP for k in kinds
    ):
        return False
    namespaces = _map(allowed.get("namespaces"))
    origin = namespaces.get("from", "Same")
    if origin == "All":
        return True
    if origin == "Same":
        return route_ns == gw_ns
    if origin == "Selector":
        return _selector_matches(_map(namespaces.get("selector")), source.namespace_labels(route_ns))
    return False


def _selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    for k, v in _map(selector.get("matchLabels")).items():
        if labels.get(k) != v:
            return False
    for expr in (_map(e) for e in _list(selector.get("matchExpressions"))):
        key, op, values = str(expr.get("key")), expr.get("operator"), _list(expr.get("values"))
        value = labels.get(key)
        if op == "In" and value not in values:
            return False
        if op == "NotIn" and value is not None and value in values:
            return False
        if op == "Exists" and value is None:
            return False
        if op == "DoesNotExist" and value is not None:
            return False
    return True


def _host_covers(pattern: str, host: str) -> bool:
    if pattern == host:
        return True
    if pattern.startswith("*."):
        suffix = pattern[1:]
        target = host[1:] if host.startswith("*.") else host
        return target.endswith(suffix) and len(target) > len(suffix)
    return False


def _hostnames_intersect(listener_host: Any, route_hosts: Sequence[str]) -> bool:
    if not isinstance(listener_host, str) or not listener_host or not route_hosts:
        return True
    return any(_host_covers(listener_host, h) or _host_covers(h, listener_host) for h in route_hosts)


def _rule(index: int, rule: Mapping[str, Any], route_ns: str, source: ObjectSource) -> _RuleOutcome:
    out = _RuleOutcome()
    for f in (_map(f) for f in _list(rule.get("filters"))):
        if out.direct is not None:
            break  # EG stops at the first filter that produced a direct response
        kind = f.get("type")
        if kind == "ResponseHeaderModifier":
            modifier = _map(f.get("responseHeaderModifier"))
            out.headers += _header_pairs(modifier)
        elif kind == "ExtensionRef":
            _extension_ref(_map(f.get("extensionRef")), route_ns, source, out)
    if out.direct is None and out.accepted_error is None:
        _backends(index, rule, route_ns, source, out)
    return out


def _header_pairs(modifier: Mapping[str, Any]) -> list[tuple[str, str]]:
    pairs = []
    for entry in (_map(h) for h in [*_list(modifier.get("set")), *_list(modifier.get("add"))]):
        if isinstance(entry.get("name"), str) and isinstance(entry.get("value"), str):
            pairs.append((entry["name"], entry["value"]))
    return pairs


def _extension_ref(ref: Mapping[str, Any], route_ns: str, source: ObjectSource, out: _RuleOutcome) -> None:
    name, kind = str(ref.get("name") or ""), str(ref.get("kind") or "")
    if kind != "HTTPRouteFilter" or ref.get("group") != EG_GROUP:
        out.direct = (500, None)
        message = f"Reference {route_ns}/{name} not found for filter type: {kind}"
        out.resolved_errors.append(("UnsupportedValue", _condition_message(message)))
        return
    hrf = source.get("HTTPRouteFilter", route_ns, name)
    if hrf is None:
        out.direct = (500, None)
        message = f"Unable to translate HTTPRouteFilter: {route_ns}/{name}"
        out.resolved_errors.append(("UnsupportedValue", _condition_message(message)))
        return
    direct = _map(_map(hrf.get("spec")).get("directResponse"))
    if not direct:
        return  # urlRewrite and the like change nothing the lab's echo backend would show
    body: str | None = None
    raw_body = _map(direct.get("body"))
    if raw_body.get("type") == "ValueRef":
        ref_name = str(_map(raw_body.get("valueRef")).get("name") or "")
        cm = source.get("ConfigMap", route_ns, ref_name)
        data = _map(cm.get("data")) if cm is not None else {}
        if cm is None:
            problem = f"can't find the referenced configmap {route_ns}/{ref_name}"
        elif not data:
            problem = (
                f"can't find the key {RESPONSE_BODY_KEY} in the referenced configmap {route_ns}/{ref_name}"
            )
        else:
            problem = ""
            value = data.get(RESPONSE_BODY_KEY, next(iter(data.values())))
            body = str(value)
        if problem:
            out.direct = (500, None)
            out.accepted_error = (
                "UnsupportedValue",
                _condition_message(f"invalid filter HTTPRouteFilter: {problem}"),
            )
            return
    elif isinstance(raw_body.get("inline"), str):
        body = raw_body["inline"]
    status = direct.get("statusCode")
    status = status if isinstance(status, int) and not isinstance(status, bool) else 200
    if isinstance(direct.get("contentType"), str):
        out.headers.append(("Content-Type", direct["contentType"]))
    out.headers += _header_pairs(_map(direct.get("header")))
    out.direct = (status, body)


def _backends(
    index: int, rule: Mapping[str, Any], route_ns: str, source: ObjectSource, out: _RuleOutcome
) -> None:
    refs = [_map(b) for b in _list(rule.get("backendRefs"))]
    valid = 0
    for j, ref in enumerate(refs):
        if ref.get("kind", "Service") != "Service" or ref.get("group", "") not in ("", "core"):
            valid += 1  # other backend kinds are not modelled; the echo backend stands in
            continue
        namespace, name = str(ref.get("namespace") or route_ns), str(ref.get("name") or "")
        prefix = f"Failed to process route rule {index} backendRef {j}"
        if namespace != route_ns and not _reference_granted(route_ns, namespace, name, source):
            message = (
                f"{prefix}: Backend ref to Service {namespace}/{name} not permitted by any ReferenceGrant."
            )
            out.resolved_errors.append(("RefNotPermitted", message))
        elif source.get("Service", namespace, name) is None:
            out.resolved_errors.append(
                ("BackendNotFound", f"{prefix}: service {namespace}/{name} not found.")
            )
        else:
            valid += 1
    if not valid:
        out.direct = (500, None)  # EG answers 500 for a rule without a usable backend


def _reference_granted(route_ns: str, namespace: str, name: str, source: ObjectSource) -> bool:
    for grant in source.list_in("ReferenceGrant", namespace):
        spec = _map(grant.get("spec"))
        from_ok = any(
            _map(f).get("group") == GW_GROUP
            and _map(f).get("kind") == "HTTPRoute"
            and _map(f).get("namespace") == route_ns
            for f in _list(spec.get("from"))
        )
        to_ok = any(
            _map(t).get("group", "") in ("", "core")
            and _map(t).get("kind") == "Service"
            and _map(t).get("name") in (None, "", name)
            for t in _list(spec.get("to"))
        )
        if from_ok and to_ok:
            return True
    return False


def _route_plans(
    route_ns: str,
    route_name: str,
    rules: Sequence[Mapping[str, Any]],
    outcomes: Sequence[_RuleOutcome],
    listeners: tuple[str, ...],
    hostnames: tuple[str, ...],
) -> list[RoutePlan]:
    plans = []
    for i, (rule, outcome) in enumerate(zip(rules, outcomes, strict=True)):
        if outcome.accepted_error is not None:
            continue
        matches = [_map(m) for m in _list(rule.get("matches"))] or [{}]
        for j, match in enumerate(matches):
            path = _map(match.get("path")) or {"type": "PathPrefix", "value": "/"}
            kind, value = path.get("type", "PathPrefix"), path.get("value", "/")
            if kind not in ("PathPrefix", "Exact") or not isinstance(value, str) or not value.startswith("/"):
                continue  # regular expressions are not modelled
            status, body = outcome.direct if outcome.direct is not None else (None, None)
            plans.append(
                RoutePlan(
                    name=f"{route_ns}/{route_name}/rule/{i}/match/{j}",
                    path=value,
                    match="exact" if kind == "Exact" else "prefix",
                    listeners=listeners,
                    direct_response_status=status,
                    direct_response_body=body,
                    response_headers=tuple(outcome.headers),
                    hostnames=hostnames,
                )
            )
    return plans


def merge_conditions(
    previous: Sequence[Mapping[str, Any]], wanted: Sequence[Mapping[str, Any]], now: datetime | None = None
) -> list[dict[str, Any]]:
    """``wanted``, keeping lastTransitionTime where type and status stay (meta.SetStatusCondition)."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    before = {c.get("type"): c for c in previous if isinstance(c, Mapping)}
    out = []
    for cond in wanted:
        old = before.get(cond.get("type"))
        keep = old is not None and old.get("status") == cond.get("status") and old.get("lastTransitionTime")
        out.append({**cond, "lastTransitionTime": old["lastTransitionTime"] if keep and old else stamp})
    return out


__all__ = [
    "DatapathSettings",
    "GatewayOverrides",
    "GatewayTranslation",
    "LabGateway",
    "ObjectSource",
    "RouteTranslation",
    "Translation",
    "datapath_settings",
    "envoy_service",
    "has_datapath",
    "merge_conditions",
    "translate",
    "translate_route",
]
