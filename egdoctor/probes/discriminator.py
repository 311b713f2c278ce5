"""Reading the two discriminator probes: a plain request and the same request behind a crafted PROXY v2
header with a marker source address.

Why the pair tells every load-balancer x Envoy combination apart:

* A strict PROXY listener closes a connection whose first bytes are not a PROXY header, without an HTTP
  answer (Envoy ``source/extensions/filters/listener/proxy_protocol/proxy_protocol.cc``); a TCP load
  balancer relays that as an empty reply or a reset, so both mean the same here.
* Envoy consumes exactly one PROXY header. A second one (the load balancer's plus ours), or one on a
  listener without the filter, reaches the HTTP/1 codec, which answers 400 and closes after its delayed
  close timeout (``source/common/http/conn_manager_impl.cc``); the probe reads the 400 without waiting
  for that close.
* On HTTPS the same bytes break the TLS handshake instead of producing a 400.

=======================  ================  =======================  ==========================
LB sends PROXY?          Envoy expects?    plain request            crafted PROXY v2 + request
=======================  ================  =======================  ==========================
yes                      yes               answered                 400 (client cannot forge)
no                       yes               dropped (EGD603)         answered (EGD604)
yes                      no                400 (EGD602)             400
no                       no                answered                 400
no                       optional          answered                 answered (EGD604)
=======================  ================  =======================  ==========================

Rows one and four differ only in the client IP Envoy decides on, which needs an observer.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from egdoctor.probes.transport import ExchangeResult

Kind = Literal["answered", "rejected", "dropped", "unreachable", "other"]


def kind_of(result: ExchangeResult, tls: bool) -> Kind:
    """`rejected` is the HTTP 400 the codec gives to stray PROXY bytes (plaintext only)."""
    if result.outcome == "http":
        return "rejected" if result.status == 400 and not tls else "answered"
    if tls and result.outcome == "tls_error" and result.tls is not None and result.tls.peer_cert_der:
        return "answered"  # the handshake got as far as the certificate: Envoy speaks TLS here
    if result.outcome in ("empty", "reset") or (tls and result.outcome == "tls_error"):
        return "dropped"
    if result.outcome in ("timeout", "refused", "unreachable"):
        return "unreachable"
    return "other"


def describe(result: ExchangeResult, timeout: float) -> str:
    """What came back, in words."""
    if result.outcome == "http":
        text = f"{result.status} {result.reason or ''}".strip()
        return text
    if result.outcome == "empty":
        return "empty reply (closed, 0 bytes)"
    if result.outcome == "reset":
        return "connection reset"
    if result.outcome == "timeout":
        where = {"connect": "no TCP connection", "tls": "TLS handshake stalled"}.get(
            result.phase, "no answer"
        )
        return f"{where} within {timeout:g}s"
    if result.outcome == "refused":
        return "connection refused"
    if result.outcome == "tls_error":
        if result.tls is not None and result.tls.verify_error:
            return f"certificate rejected: {result.tls.verify_error}"
        error = (result.error or "").lower()
        if "closed" in error or "eof" in error:
            return "TLS handshake failed: connection closed"
        if "reset" in error:
            return "TLS handshake failed: connection reset"
        return "TLS handshake failed" + (f" ({_short(result.error)})" if result.error else "")
    if result.outcome == "unreachable":
        return "unreachable" + (f" ({_short(result.error)})" if result.error else "")
    return "not an HTTP answer" + (f" ({_short(result.error)})" if result.error else "")


def _short(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= 90 else text[:87] + "..."


@dataclass(frozen=True)
class PortState:
    """What the discriminator pair proved for one address:port."""

    state: Literal[
        "accepts",  # plain answered; a client cannot forge a PROXY header
        "forgeable",  # plain answered and a crafted PROXY header was honoured (optional / LB bypass)
        "pp-missing",  # Envoy expects PROXY, the LB does not send it (EGD603), crafted header honoured
        "pp-unexpected",  # the LB sends PROXY, Envoy does not expect it (EGD602)
        "refused-by-ranges",  # the LB refuses this machine: loadBalancerSourceRanges
        "unreachable",  # EGD601
        "silent",  # connects but answers nothing usable to anything (EGD601)
        "inconclusive",
    ]
    plain: Kind
    forged: Kind | None


def judge_pair(
    plain: Kind,
    forged: Kind | None,
    excluded_by_ranges: bool,
    tls: bool,
    lb_sends: bool | None,
    envoy_expects: bool,
) -> PortState:
    """Combine the two probes. `excluded_by_ranges`: the LB Service restricts source ranges and this
    machine's address is outside them, so a failed connection is the LB doing its job."""
    if (
        plain in ("dropped", "unreachable", "other")
        and excluded_by_ranges
        and forged in (None, "dropped", "unreachable", "other")
    ):
        return PortState("refused-by-ranges", plain, forged)
    if plain == "unreachable":
        return PortState("unreachable", plain, forged)
    if plain == "rejected":
        return PortState("pp-unexpected", plain, forged)
    if plain == "answered":
        if forged == "answered":
            return PortState("forgeable", plain, forged)
        return PortState("accepts", plain, forged)
    # plain dropped (or not HTTP at all)
    if forged == "answered":
        return PortState("pp-missing", plain, forged)
    if tls and plain == "dropped" and forged in ("dropped", None) and lb_sends and not envoy_expects:
        return PortState("pp-unexpected", plain, forged)
    if plain in ("dropped", "other") and forged in ("dropped", "other", "rejected", None):
        return PortState("silent", plain, forged)
    return PortState("inconclusive", plain, forged)


def marker_for(address: str, port: int) -> str:
    """The marker source of the crafted PROXY header for a port: from the documentation ranges (RFC 5737
    TEST-NET-3, RFC 3849), of the target's family, never a real client."""
    if ipaddress.ip_address(address).version == 6:
        return f"2001:db8::{100 + port % 100}"
    return f"203.0.113.{100 + port % 100}"


def in_ranges(address: str | None, ranges: tuple[str, ...]) -> bool | None:
    """Is `address` inside any of the CIDRs? None when there are no (valid) ranges."""
    nets = []
    for cidr in ranges:
        try:
            nets.append(ipaddress.ip_network(str(cidr), strict=False))
        except ValueError:
            continue
    if not nets or address is None:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    return any(ip.version == n.version and ip in n for n in nets)
