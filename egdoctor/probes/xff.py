"""Reading X-Forwarded-For probes.

Envoy Gateway's XFF mode (`clientIPDetection.xForwardedFor.numTrustedHops: N`) makes Envoy take the N-th
address from the right of the X-Forwarded-For that reaches it, and the TCP peer when the chain is shorter
(EG `internal/xds/translator/listener.go` configures the `xff` original-IP extension with N-1, Envoy
`source/extensions/http/original_ip_detection/xff/xff.cc` counts from the right). Envoy then appends the
TCP peer to the header unless `disableXForwardedForAppend` is set.

Two probes measure that:

* a forged chain sent straight to the load balancer: if Envoy picks one of its entries, anyone who can
  reach the load balancer can choose their IP (the edge proxy is bypassable);
* an ordinary request and a forged chain sent through the edge proxy DNS names: the edge appends this
  machine's address, so the position of that address from the right is the number of proxies that really
  stand in front of the load balancer, i.e. the right numTrustedHops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from egdoctor.model.topology import ClientIP
from egdoctor.probes.observers import xff_list
from egdoctor.snapshot.objects import as_map

MAX_CHAIN = 10


def chain_length(client_ip: ClientIP) -> int:
    """Long enough that the configured N lands inside the forged part, with room to see an off-by-two."""
    hops = client_ip.xff_hops if client_ip.xff_hops is not None else 1
    return min(max(hops, 1) + 2, MAX_CHAIN)


def appends(client_ip: ClientIP) -> bool:
    """Does Envoy append the peer to X-Forwarded-For (EG default; `disableXForwardedForAppend` v1.9+)?"""
    if client_ip.ctp is None:
        return True
    xff = as_map(as_map(client_ip.ctp.spec.get("clientIPDetection")).get("xForwardedFor"))
    return xff.get("disableXForwardedForAppend") is not True


def position_in(forged: Sequence[str], observed: str | None) -> int | None:
    """1-based position from the right of `observed` in the chain we sent, or None if it is not ours."""
    if observed is None or observed not in forged:
        return None
    return len(forged) - list(forged).index(observed)


def proxies_in_front(xff: str | None, me: str | None, appended: bool) -> int | None:
    """How many proxies appended after this machine: the position of `me` from the right of the chain
    as it reached Envoy (Envoy's own append removed). None when `me` is not in the chain (NAT)."""
    if me is None:
        return None
    chain = xff_list(xff)
    incoming = chain[:-1] if appended and chain else chain
    for i in range(len(incoming) - 1, -1, -1):
        if incoming[i] == me:
            return len(incoming) - i
    return None


EdgeVerdict = Literal["right", "too-high", "too-low", "unknown"]


@dataclass(frozen=True)
class EdgeReading:
    verdict: EdgeVerdict
    measured: int | None  # proxies really in front (the right numTrustedHops), when the chain shows it
    picked: str | None


def read_edge(
    observed: str | None, me: str | None, forged: Sequence[str], xff: str | None, appended: bool
) -> EdgeReading:
    measured = proxies_in_front(xff, me, appended)
    if observed is None:
        return EdgeReading("unknown", measured, None)
    if me is not None and observed == me:
        return EdgeReading("right", measured, observed)
    if observed in forged:
        return EdgeReading("too-high", measured, observed)
    return EdgeReading("too-low", measured, observed)
