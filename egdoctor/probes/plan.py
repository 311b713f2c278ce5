"""What the probes may touch: options, the target rule, and the targets derived from a diagnosis.

Targets are only the Gateway's own `status.addresses` that its load balancer really owns (or the
addresses the user named with `--address`), on the listener ports, with listener and route hostnames as
Host/SNI. Nothing else is ever contacted, apart from the addresses DNS gives for those hostnames (edge
proxies in XFF mode), and every address passes `allowed` first: inside the allow-list when there is one,
else outside the special-purpose ranges of `target_policy` unless the user named it.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from egdoctor.checks.engine import Diagnosis
from egdoctor.model import hostnames as hostmatch
from egdoctor.model.addresses import unconfirmed_addresses
from egdoctor.model.topology import ClientIP, GatewayView, ListenerView
from egdoctor.probes.model import ProbeTarget
from egdoctor.probes.target_policy import special_range

ALLOW_ENV = "EGDOCTOR_PROBE_ALLOW"
DEFAULT_TIMEOUT = 3.0
MAX_PROBES = 64  # every probe of one run, all Gateways together
MAX_TLS_HOSTS_PER_PORT = 4
MAX_DNS_NAMES = 24
MAX_EDGE_ADDRESSES = 2

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class OptionError(ValueError):
    """A probe option the user got wrong; the message names the option."""


@dataclass(frozen=True)
class ProbeOptions:
    timeout: float = DEFAULT_TIMEOUT
    observe: str = "auto"  # auto | route | logs | echo | none
    echo_path: str | None = None
    addresses: tuple[str, ...] = ()
    resolver: tuple[str, int] | None = None
    expect_client_ip: str | None = None
    expect_hops: int | None = None
    ca_file: str | None = None
    allow: tuple[Network, ...] | None = None  # None: no restriction
    allow_source: str = ""  # where the allow-list came from, for messages
    namespace: str | None = None  # where --observe route writes its temporary objects
    max_probes: int = MAX_PROBES
    route_wait: float = 15.0  # bound on waiting for the temporary HTTPRoute to be Accepted and served


def parse_allow(
    text: str | None, env: dict[str, str] | None = None
) -> tuple[tuple[Network, ...] | None, str]:
    """`--probe-allow` wins over `EGDOCTOR_PROBE_ALLOW`; both take comma-separated CIDRs."""
    source = "--probe-allow"
    if not text:
        text = (env if env is not None else os.environ).get(ALLOW_ENV, "")
        source = ALLOW_ENV
    if not text or not text.strip():
        return None, ""
    nets: list[Network] = []
    for part in re.split(r"[,\s]+", text.strip()):
        if not part:
            continue
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise OptionError(f"{source}: {part!r} is not a CIDR (e.g. 127.0.0.0/8)") from None
    return tuple(nets), source


def parse_resolver(text: str | None) -> tuple[str, int] | None:
    """`IP`, `IP:PORT`, `[IPv6]:PORT` or a bare IPv6 address."""
    if not text:
        return None
    text = text.strip()
    host, port = text, 53
    bracket = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?", text)
    if bracket:
        host, port = bracket.group(1), int(bracket.group(2) or 53)
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        if not port_text.isdigit():
            raise OptionError(f"--resolver {text!r}: the port must be a number")
        port = int(port_text)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise OptionError(f"--resolver {text!r}: use IP or IP:PORT") from None
    if not 0 < port < 65536:
        raise OptionError(f"--resolver {text!r}: port out of range")
    return host, port


def parse_observe(text: str) -> tuple[str, str | None]:
    text = text.strip()
    if text in ("auto", "route", "logs", "none"):
        return text, None
    if text.startswith("echo:"):
        path = text[len("echo:") :]
        if not path.startswith("/") or any(c in path for c in " \r\n\t#"):
            raise OptionError(f"--observe {text!r}: echo needs an absolute path, e.g. echo:/headers")
        return "echo", path
    raise OptionError(f"--observe {text!r}: use auto, route, logs, echo:PATH or none")


def parse_ip(text: str, option: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise OptionError(f"{option} {text!r} is not an IP address") from None


def allowed(address: str, options: ProbeOptions) -> bool:
    """An explicit allow-list is the whole rule; without one, the user's own `--address` values and any
    address outside the special-purpose ranges (see `target_policy`) are allowed."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if options.allow is not None:
        return any(ip.version == net.version and ip in net for net in options.allow)
    return str(ip) in options.addresses or special_range(address) is None


def refusal(address: str, options: ProbeOptions) -> str:
    if options.allow is not None:
        nets = ", ".join(str(n) for n in options.allow)
        return f"not probed: {address} is outside the probe allow-list {nets} ({options.allow_source})"
    return (
        f"not probed: {address} is a {special_range(address)} address, which egdoctor probes only when "
        f"allowed (--probe-allow CIDR or {ALLOW_ENV}) or named with --address"
    )


# -- targets ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsHost:
    hostname: str
    listener: ListenerView


@dataclass(frozen=True)
class PortTarget:
    """One address:port of a Gateway and the listeners behind it."""

    key: tuple[str, str]
    address: str
    port: int
    protocol: str  # HTTP | HTTPS
    listeners: tuple[ListenerView, ...]
    host: str  # Host header (and SNI for HTTPS) of the discriminator probes
    tls_hosts: tuple[TlsHost, ...] = ()

    @property
    def listener(self) -> ListenerView:
        return self.listeners[0]

    @property
    def client_ip(self) -> ClientIP:
        return self.listener.client_ip


@dataclass(frozen=True)
class GatewayTargets:
    view: GatewayView
    addresses: tuple[str, ...]  # probe-able addresses (allowed)
    ports: tuple[PortTarget, ...]
    names: tuple[tuple[str, ListenerView], ...]  # hostnames for DNS, each with the listener it serves
    notes: tuple[str, ...] = field(default=())
    planned: tuple[ProbeTarget, ...] = ()  # every address considered, refused ones with the reason

    @property
    def key(self) -> tuple[str, str]:
        return self.view.key


def listeners_in_view(diagnosis: Diagnosis, gv: GatewayView) -> list[ListenerView]:
    """All listeners of a Gateway in an asked namespace, else those that routes of asked namespaces use."""
    snap = diagnosis.snapshot
    if snap.namespaces is None or gv.key[0] in snap.namespaces:
        return list(gv.listeners)
    return [lv for lv in gv.listeners if any(a.route.namespace in snap.namespaces for a in lv.attachments)]


# RFC 1123 names, optionally with Gateway API's leading "*." wildcard label. Anything else in a hostname
# field (CR/LF, spaces, escapes from a hand-edited dump) is never sent as Host or SNI.
_HOSTNAME = re.compile(
    r"(\*\.)?[a-z0-9_]([-a-z0-9_]{0,61}[a-z0-9_])?(\.[a-z0-9_]([-a-z0-9_]{0,61}[a-z0-9_])?)*\.?", re.I
)


def valid_hostname(host: str | None) -> bool:
    return bool(host) and len(str(host)) <= 253 and _HOSTNAME.fullmatch(str(host)) is not None


def _concrete(host: str | None) -> bool:
    return valid_hostname(host) and not str(host).startswith("*") and not _is_ip(str(host))


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def listener_hostnames(diagnosis: Diagnosis, lv: ListenerView) -> list[str]:
    """Concrete names a client would use on this listener: its own hostname, then in-scope route names."""
    out: list[str] = []
    if _concrete(lv.hostname):
        out.append(str(lv.hostname).lower().rstrip("."))
    for att in lv.attachments:
        if not diagnosis.snapshot.in_scope(att.route.namespace):
            continue
        for h in att.route_hostnames:
            name = h.lower().rstrip(".")
            if _concrete(name) and hostmatch.intersect(lv.hostname, name) and name not in out:
                out.append(name)
    return out


def _wildcard_stand_in(pattern: str | None) -> str | None:
    # `*.example.com` admits any one more label; a fixed name keeps the request inside the listener.
    if pattern and pattern.startswith("*.") and valid_hostname(pattern):
        return "egdoctor-probe." + pattern[2:]
    return None


def build_targets(diagnosis: Diagnosis, options: ProbeOptions) -> list[GatewayTargets]:
    topo = diagnosis.topology
    out: list[GatewayTargets] = []
    for key in diagnosis.relevant_gateways:
        gv = topo.gateways.get(key)
        if gv is None:
            continue
        notes: list[str] = []
        raw = list(options.addresses) or [a for a in gv.addresses if _is_ip(a)]
        if not options.addresses:
            named = [a for a in gv.addresses if not _is_ip(a)]
            if named:
                notes.append(
                    f"status address(es) {', '.join(named)} are hostnames; probes use IP addresses only"
                )
        if not raw:
            notes.append("not probed: the Gateway has no IP address in status.addresses (pass --address IP)")
        addresses: list[str] = []
        refused: dict[str, str] = {}
        # the load balancer's own addresses are the Gateway's; others were chosen by whoever owns it
        compared = None if options.addresses else unconfirmed_addresses(gv)
        for addr in raw:
            if compared is not None and addr in compared[0]:
                refused[addr] = (
                    f"not probed: {addr} is in the Gateway's status.addresses but is not an address of its "
                    f"load balancer ({', '.join(compared[1])}); see EGD107"
                )
            elif not allowed(addr, options):
                refused[addr] = refusal(addr, options)
            else:
                addresses.append(addr)
        notes.extend(refused.values())
        listeners = listeners_in_view(diagnosis, gv)
        by_port: dict[int, list[ListenerView]] = {}
        for lv in listeners:
            if lv.port is None:
                continue
            if lv.protocol not in ("HTTP", "HTTPS"):
                notes.append(
                    f"listener {lv.name} ({lv.protocol} :{lv.port}) not probed: only HTTP and HTTPS are"
                )
                continue
            by_port.setdefault(lv.port, []).append(lv)
        names: list[tuple[str, ListenerView]] = []
        seen_names: set[str] = set()
        ports: list[PortTarget] = []
        for port, group in sorted(by_port.items()):
            protocol = group[0].protocol
            per_listener = {lv.name: listener_hostnames(diagnosis, lv) for lv in group}
            for lv in group:
                for name in per_listener[lv.name]:
                    if name not in seen_names:
                        seen_names.add(name)
                        names.append((name, lv))
            host = next((h for lv in group for h in per_listener[lv.name]), None)
            if host is None:
                host = next((_wildcard_stand_in(lv.hostname) for lv in group if lv.hostname), None)
            tls_hosts: list[TlsHost] = []
            if protocol == "HTTPS":
                for lv in group:
                    chosen = per_listener[lv.name][:1] or [h for h in [_wildcard_stand_in(lv.hostname)] if h]
                    for name in chosen:
                        if len(tls_hosts) < MAX_TLS_HOSTS_PER_PORT:
                            tls_hosts.append(TlsHost(name, lv))
                if len(group) > MAX_TLS_HOSTS_PER_PORT:
                    notes.append(
                        f"port {port}: served certificates checked for {MAX_TLS_HOSTS_PER_PORT} of "
                        f"{len(group)} HTTPS listeners"
                    )
            for addr in addresses:
                ports.append(
                    PortTarget(key, addr, port, protocol, tuple(group), host or addr, tuple(tls_hosts))
                )
        source = "--address" if options.addresses else "status.addresses"
        planned = tuple(
            ProbeTarget(
                key,
                addr,
                tuple(sorted(by_port)),
                source,
                refused[addr].removeprefix("not probed: ") if addr in refused else None,
            )
            for addr in raw
        )
        out.append(
            GatewayTargets(
                gv, tuple(addresses), tuple(ports), tuple(names[:MAX_DNS_NAMES]), tuple(notes), planned
            )
        )
    return out


def pick_edges(
    key: tuple[str, str],
    answers: Sequence[tuple[str, str]],
    options: ProbeOptions,
    planned: list[ProbeTarget],
    notes: list[str],
) -> list[tuple[str, str]]:
    """The edge proxies (name, address) to probe among DNS answers: allowed ones, at most
    MAX_EDGE_ADDRESSES; every picked or refused answer is added to `planned`, refusals to `notes`."""
    picked: list[tuple[str, str]] = []
    for name, addr in answers:
        source = f"DNS answer for {name} (edge proxy)"
        if not allowed(addr, options):
            why = refusal(addr, options).removeprefix("not probed: ")
            notes.append(f"edge proxy {addr} ({name}) {why}")
            planned.append(ProbeTarget(key, addr, (), source, why))
        elif addr not in [a for _, a in picked] and len(picked) < MAX_EDGE_ADDRESSES:
            picked.append((name, addr))
            planned.append(ProbeTarget(key, addr, (), source))
    return picked


def unique(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for v in values:
        if v not in seen:
            seen.add(v)
            out.append(v)
    return out


def forged_chain(length: int) -> list[str]:
    """A forged X-Forwarded-For chain from TEST-NET-2 (RFC 5737), leftmost first."""
    return [f"198.51.100.{11 + i}" for i in range(length)]


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def join_words(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def build_options(
    *,
    timeout: float,
    observe: str,
    addresses: Sequence[str] | None,
    resolver: str | None,
    expect_client_ip: str | None,
    ca_file: str | None,
    probe_allow: str | None,
    expect_hops: int | None,
    namespace: str | None,
) -> ProbeOptions:
    """Validate the probe options of the command line; raises OptionError naming the option."""
    mode, echo_path = parse_observe(observe)
    allow, allow_source = parse_allow(probe_allow)
    if ca_file is not None and not os.path.isfile(ca_file):
        raise OptionError(f"--ca-file {ca_file!r} does not exist")
    if timeout > 60:
        raise OptionError("--probe-timeout must be at most 60s")
    return ProbeOptions(
        timeout=timeout,
        observe=mode,
        echo_path=echo_path,
        addresses=tuple(unique(parse_ip(a, "--address") for a in addresses or ())),
        resolver=parse_resolver(resolver),
        expect_client_ip=parse_ip(expect_client_ip, "--expect-client-ip") if expect_client_ip else None,
        expect_hops=expect_hops,
        ca_file=ca_file,
        allow=allow,
        allow_source=allow_source,
        namespace=namespace,
    )
