"""What the data-path lab should build: Gateways, their listeners, the LB in front and DNS.

A plan says what a cluster would hold (a Gateway with listeners, a ClientTrafficPolicy's client-IP
settings, the Octavia Service annotations) in the lab's own vocabulary. The lab turns it into
HAProxy and Envoy configuration; nothing in a plan is Kubernetes YAML.

Loopback addressing, by the Gateway's position ``i`` (1-based) in ``DataPathPlan.gateways`` and the
plan's ``address_octet`` ``B`` (so that parallel labs do not collide):

=========================  ==================  ====================================================
role                        address             stands in for
=========================  ==================  ====================================================
LB front end (VIP)          ``127.B.10.i``       the Octavia VIP; binds the listener ports as-is
LB member-side source       ``127.B.20.i``       the amphora's address on the member network
edge proxy ``j`` (1 = outermost)  ``127.B.(30+j).i``  a CDN/WAF hop in front of the LB
Envoy listeners             ``127.B.40.i``       the Envoy pod; ports mapped like EG (<1024: +10000)
=========================  ==================  ====================================================
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

ProxyProtocolMode = Literal["off", "strict", "optional"]
LbSends = Literal["none", "v1", "v2"]
Protocol = Literal["HTTP", "HTTPS"]

MAX_GATEWAYS = 200
MAX_EDGE_PROXIES = 9
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ALIAS_RE = re.compile(r"^@(lb|edge):([^/]+)/([^/]+)$")


def container_port(port: int) -> int:
    """The Envoy container port EG uses for a Gateway listener port.

    Mirrors ``servicePortToContainerPort`` in envoyproxy/gateway ``internal/gatewayapi/listener.go``
    (``minEphemeralPort``/``wellKnownPortShift`` in ``translator.go``): ports below 1024 are shifted
    by 10000 so that Envoy can run unprivileged.
    """
    return port + 10000 if port < 1024 else port


@dataclass(frozen=True)
class ListenerPlan:
    """One Gateway listener (``spec.listeners[]``)."""

    name: str
    port: int
    protocol: Protocol = "HTTP"
    hostname: str | None = None
    tls_cert_pem: Path | None = None
    tls_key_pem: Path | None = None

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ValueError(f"listener name {self.name!r} is not a DNS label")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"listener {self.name}: port must be 1-65535, got {self.port}")
        if self.protocol not in ("HTTP", "HTTPS"):
            raise ValueError(f"listener {self.name}: protocol must be HTTP or HTTPS, got {self.protocol!r}")
        if self.protocol == "HTTPS" and (self.tls_cert_pem is None or self.tls_key_pem is None):
            raise ValueError(f"listener {self.name}: HTTPS needs tls_cert_pem and tls_key_pem")


@dataclass(frozen=True)
class RoutePlan:
    """An extra HTTPRoute rule ahead of the default echo route, for example an EG ``directResponse``.

    ``direct_response_body`` and the values of ``response_headers`` may contain Envoy command
    operators such as ``%DOWNSTREAM_REMOTE_ADDRESS%``; like EG (``internal/xds/translator/route.go``
    ``buildXdsDirectResponseAction``) the body becomes ``direct_response.body_format``. Without a
    direct response the rule forwards to the echo backend. ``listeners`` limits the rule to those
    Gateway listener names (empty: every listener); ``hostnames`` to requests whose Host is one of
    them (HTTPRoute ``hostnames``, ``*.`` wildcards allowed; empty: the listener's hostnames). A
    ``name`` containing ``/`` is EG's ``<namespace>/<route>/rule/<i>/match/<j>`` and becomes the
    Envoy route name ``httproute/<name>`` as is.
    """

    name: str
    path: str
    match: Literal["prefix", "exact"] = "prefix"
    listeners: tuple[str, ...] = ()
    direct_response_status: int | None = None
    direct_response_body: str | None = None
    response_headers: tuple[tuple[str, str], ...] = ()
    hostnames: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f"route {self.name}: path must start with '/'")
        if self.direct_response_body is not None and self.direct_response_status is None:
            raise ValueError(f"route {self.name}: a direct response body needs a status")


@dataclass(frozen=True)
class GatewayPlan:
    """One Gateway, the ClientTrafficPolicy settings that target it, and its LoadBalancer Service.

    ``proxy_protocol``: CTP ``proxyProtocol`` (``optional`` is ``proxyProtocol.optional: true``).
    ``xff_trusted_hops``: CTP ``clientIPDetection.xForwardedFor.numTrustedHops``; ``None`` means no
    clientIPDetection at all. ``lb_sends``: what the Octavia listener adds in front of each
    connection (``loadbalancer.openstack.org/proxy-protocol`` annotation: v1 ``send-proxy``, v2
    ``send-proxy-v2``). ``edge_proxies``: HTTP proxies chained in front of the LB, each appending
    X-Forwarded-For; they front the HTTP listener ports only (TLS is not terminated at the edge),
    so HTTPS ports are reached on the LB. ``lb_source_ranges``: Service
    ``loadBalancerSourceRanges``. ``lb_blackhole``: the LB accepts connections and holds them
    without forwarding a byte (closing after Octavia's 50 s client timeout), a listener whose
    members never answer.
    """

    namespace: str
    name: str
    listeners: tuple[ListenerPlan, ...]
    proxy_protocol: ProxyProtocolMode = "off"
    xff_trusted_hops: int | None = None
    lb_sends: LbSends = "none"
    edge_proxies: int = 0
    lb_source_ranges: tuple[str, ...] = ()
    routes: tuple[RoutePlan, ...] = ()
    lb_blackhole: bool = False

    def __post_init__(self) -> None:
        # Lists are accepted for convenience and frozen so that plans stay hashable and comparable.
        object.__setattr__(self, "listeners", tuple(self.listeners))
        object.__setattr__(self, "lb_source_ranges", tuple(self.lb_source_ranges))
        object.__setattr__(self, "routes", tuple(self.routes))
        for label in (self.namespace, self.name):
            if not _NAME_RE.match(label):
                raise ValueError(f"{label!r} is not a DNS label")
        if not self.listeners:
            raise ValueError(f"gateway {self.key}: needs at least one listener")
        if self.proxy_protocol not in ("off", "strict", "optional"):
            raise ValueError(f"gateway {self.key}: proxy_protocol must be off, strict or optional")
        if self.lb_sends not in ("none", "v1", "v2"):
            raise ValueError(f"gateway {self.key}: lb_sends must be none, v1 or v2")
        if self.xff_trusted_hops is not None and not 0 <= self.xff_trusted_hops <= 64:
            raise ValueError(f"gateway {self.key}: xff_trusted_hops must be 0-64")
        if not 0 <= self.edge_proxies <= MAX_EDGE_PROXIES:
            raise ValueError(f"gateway {self.key}: edge_proxies must be 0-{MAX_EDGE_PROXIES}")
        names = [lst.name for lst in self.listeners]
        if len(set(names)) != len(names):
            raise ValueError(f"gateway {self.key}: listener names must be unique")
        by_port: dict[int, str] = {}
        seen_hosts: set[tuple[int, str]] = set()
        for lst in self.listeners:
            if by_port.setdefault(lst.port, lst.protocol) != lst.protocol:
                raise ValueError(f"gateway {self.key}: port {lst.port} mixes HTTP and HTTPS listeners")
            # Gateway API calls two listeners with the same port and hostname conflicted.
            host_key = (lst.port, lst.hostname or "*")
            if host_key in seen_hosts:
                raise ValueError(
                    f"gateway {self.key}: two listeners on port {lst.port} for hostname {host_key[1]}"
                )
            seen_hosts.add(host_key)
        for cidr in self.lb_source_ranges:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"gateway {self.key}: {cidr!r} is not a CIDR") from None
        for route in self.routes:
            unknown = set(route.listeners) - set(names)
            if unknown:
                raise ValueError(
                    f"gateway {self.key}: route {route.name} names unknown listeners {sorted(unknown)}"
                )

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def ports(self) -> tuple[int, ...]:
        return tuple(sorted({lst.port for lst in self.listeners}))


@dataclass(frozen=True)
class DataPathPlan:
    """The whole lab.

    ``dns_records`` maps a name to addresses (IPv4 for A, IPv6 for AAAA), to one other name (a
    CNAME), or to an alias: ``@lb:<ns>/<name>`` (the Gateway's LB address) or ``@edge:<ns>/<name>``
    (its outermost edge proxy). A leading ``*.`` makes a wildcard. ``dns_zones`` are the zones the
    server is authoritative for (NXDOMAIN inside, REFUSED outside); by default the parent of every
    record name. ``address_octet`` is the second octet of every lab address (``127.B.x.y``).
    """

    gateways: tuple[GatewayPlan, ...]
    dns_records: dict[str, list[str]] = field(default_factory=dict)
    dns_zones: tuple[str, ...] = ()
    address_octet: int = 0
    envoy_log_level: str = "warning"

    def __post_init__(self) -> None:
        object.__setattr__(self, "gateways", tuple(self.gateways))
        object.__setattr__(self, "dns_zones", tuple(self.dns_zones))
        if not 1 <= len(self.gateways) <= MAX_GATEWAYS:
            raise ValueError(f"a plan needs 1-{MAX_GATEWAYS} gateways")
        keys = [gw.key for gw in self.gateways]
        if len(set(keys)) != len(keys):
            raise ValueError("gateway namespace/name pairs must be unique")
        if not 0 <= self.address_octet <= 255:
            raise ValueError("address_octet must be 0-255")
        for name, values in self.dns_records.items():
            if not values:
                raise ValueError(f"DNS record {name!r} has no values")
            for value in values:
                alias = _ALIAS_RE.match(value)
                if alias and f"{alias.group(2)}/{alias.group(3)}" not in keys:
                    raise ValueError(f"DNS record {name!r}: {value} names no gateway in the plan")
                if alias and alias.group(1) == "edge":
                    gw = self.gateway(f"{alias.group(2)}/{alias.group(3)}")
                    if not gw.edge_proxies:
                        raise ValueError(f"DNS record {name!r}: {gw.key} has no edge proxies")

    def gateway(self, key: str) -> GatewayPlan:
        for gw in self.gateways:
            if gw.key == key:
                return gw
        raise KeyError(f"no gateway {key!r} in the plan")

    def index(self, key: str) -> int:
        """1-based position of the Gateway, which fixes its addresses."""
        for i, gw in enumerate(self.gateways, start=1):
            if gw.key == key:
                return i
        raise KeyError(f"no gateway {key!r} in the plan")


def parse_alias(value: str) -> tuple[Literal["lb", "edge"], str] | None:
    match = _ALIAS_RE.match(value)
    if not match:
        return None
    kind: Literal["lb", "edge"] = "lb" if match.group(1) == "lb" else "edge"
    return kind, f"{match.group(2)}/{match.group(3)}"


@dataclass(frozen=True)
class GatewayAddresses:
    """Where one Gateway's parts listen in the lab."""

    key: str
    lb: str
    member_source: str
    envoy: str
    edges: tuple[str, ...]
    ports: tuple[int, ...]
    access_log: Path

    @property
    def entry(self) -> str:
        """Where a client should connect: the outermost edge proxy if any, else the LB."""
        return self.edges[0] if self.edges else self.lb

    def envoy_port(self, port: int) -> int:
        return container_port(port)


def addresses_for(plan: DataPathPlan, key: str, state_dir: Path) -> GatewayAddresses:
    i = plan.index(key)
    gw = plan.gateway(key)
    b = plan.address_octet
    return GatewayAddresses(
        key=key,
        lb=f"127.{b}.10.{i}",
        member_source=f"127.{b}.20.{i}",
        envoy=f"127.{b}.40.{i}",
        edges=tuple(f"127.{b}.{30 + j}.{i}" for j in range(1, gw.edge_proxies + 1)),
        ports=gw.ports,
        access_log=state_dir / f"access-{gw.namespace}-{gw.name}.log",
    )
