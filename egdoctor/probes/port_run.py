"""The probes to one address:port: the plain request, the forged PROXY header, the X-Forwarded-For
probes straight to the load balancer and through each edge proxy, and one TLS handshake per name.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

from egdoctor.probes import proxy_protocol as pp
from egdoctor.probes.discriminator import describe, kind_of, marker_for
from egdoctor.probes.plan import PortTarget, ProbeOptions, forged_chain
from egdoctor.probes.sender import Sender, Sent
from egdoctor.probes.transport import TlsOptions
from egdoctor.probes.xff import chain_length


@dataclass
class PortRun:
    target: PortTarget
    plain: Sent | None = None
    forged: Sent | None = None
    xff_lb: Sent | None = None
    edges: list[tuple[Sent, Sent]] = field(default_factory=list)
    tls: list[Sent] = field(default_factory=list)
    tls_prefix: str = ""  # why the certificate checks sent a PROXY header of their own
    skipped: str = ""


def host_is_name(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


def _tls_options(host: str, options: ProbeOptions, verify: bool) -> TlsOptions:
    server_name = host if host_is_name(host) else None
    return TlsOptions(
        server_name=server_name, ca_file=options.ca_file, verify=verify, capture_cert_on_failure=verify
    )


def run_port(
    sender: Sender, target: PortTarget, edges: Sequence[tuple[str, str]], options: ProbeOptions
) -> PortRun:
    run = PortRun(target)
    https = target.protocol == "HTTPS"
    host = target.host
    address = target.address
    first_tls = target.tls_hosts[0] if https and target.tls_hosts else None
    if https:
        tls_name = first_tls.hostname if first_tls else host
        run.plain = sender.send(
            "plain",
            target,
            address,
            f"TLS (SNI {tls_name}) + GET",
            host=tls_name,
            tls=_tls_options(tls_name, options, verify=True),
            tls_host=first_tls,
        )
    else:
        run.plain = sender.send("plain", target, address, f"plain GET Host {host}", host=host)
    plain_result = run.plain.result
    if plain_result is None:
        run.skipped = "probe budget exhausted"
        return run
    plain_kind = kind_of(plain_result, https)
    if plain_kind == "unreachable":
        # Nothing answered within the bound: more probes would only multiply the wait.
        run.skipped = (
            f"{address}:{target.port}: {describe(plain_result, options.timeout)}; other probes to it skipped"
        )
        return run

    # One fixed marker per port, so that a report (and a test) can name the address it forged.
    marker = marker_for(address, target.port)
    src_port = 40000 + target.port % 20000
    header = pp.encode_v2(marker, address, src_port, target.port)
    if https:
        tls_name = first_tls.hostname if first_tls else host
        run.forged = sender.send(
            "forged-proxy",
            target,
            address,
            f"forged PROXY v2 (src {marker}) + TLS (SNI {tls_name}) + GET",
            host=tls_name,
            tls=_tls_options(tls_name, options, verify=False),
            prefix=header,
            marker=marker,
        )
    else:
        run.forged = sender.send(
            "forged-proxy",
            target,
            address,
            f"forged PROXY v2 (src {marker}) + GET",
            host=host,
            prefix=header,
            marker=marker,
        )

    cip = target.client_ip
    if cip.xff:
        chain = forged_chain(chain_length(cip))
        xff_header = [("X-Forwarded-For", ", ".join(chain))]
        tls_opts = _tls_options(host, options, verify=False) if https else None
        run.xff_lb = sender.send(
            "xff-forged-lb",
            target,
            address,
            f"GET + forged X-Forwarded-For {', '.join(chain)} straight to the LB",
            host=host,
            tls=tls_opts,
            headers=xff_header,
            chain=chain,
        )
        for edge_host, edge_addr in edges:
            tls_edge = _tls_options(edge_host, options, verify=False) if https else None
            a = sender.send(
                "edge",
                target,
                edge_addr,
                f"GET via edge {edge_addr} Host {edge_host}",
                host=edge_host,
                tls=tls_edge,
                edge=edge_addr,
            )
            b = sender.send(
                "edge-forged",
                target,
                edge_addr,
                f"GET + forged X-Forwarded-For {', '.join(chain)} via edge {edge_addr}",
                host=edge_host,
                tls=tls_edge,
                headers=xff_header,
                chain=chain,
                edge=edge_addr,
            )
            run.edges.append((a, b))

    if https and target.tls_hosts:
        prefix = b""
        forged_result = run.forged.result if run.forged else None
        if (
            plain_kind == "dropped"
            and forged_result is not None
            and kind_of(forged_result, True) == "answered"
        ):
            # Envoy needs a PROXY header the LB does not add: send an honest LOCAL one (Envoy keeps the real
            # peer, haproxy doc/proxy-protocol.txt) so that the certificate can still be checked.
            prefix = pp.encode_v2_local()
            run.tls_prefix = "PROXY v2 LOCAL"
        hosts = list(target.tls_hosts) if prefix else list(target.tls_hosts[1:])
        if not prefix:
            run.tls.append(run.plain)
        for th in hosts:
            run.tls.append(
                sender.send(
                    "tls",
                    target,
                    address,
                    (f"{run.tls_prefix} + " if prefix else "") + f"TLS (SNI {th.hostname}) + GET",
                    host=th.hostname,
                    tls=_tls_options(th.hostname, options, verify=True),
                    prefix=prefix,
                    tls_host=th,
                )
            )
    return run


def all_sent(run: PortRun) -> list[Sent]:
    out = [s for s in (run.plain, run.forged, run.xff_lb) if s is not None]
    for a, b in run.edges:
        out += [a, b]
    out += [s for s in run.tls if s is not run.plain]
    return out
