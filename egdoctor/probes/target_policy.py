"""Which addresses egdoctor may send probes to.

The addresses come from the cluster: a Gateway's `status.addresses` (which its owner steers through
`spec.addresses`) and, in XFF mode, DNS answers for tenant hostnames. Probe outcomes are reported, so
following them blindly would let a tenant use egdoctor as a port scanner of the engineer's own network.
Hence, without an explicit allow-list, addresses in the special-purpose ranges below are refused:
loopback, link-local (cloud metadata endpoints live there), private (RFC 1918, RFC 4193), shared
address space (RFC 6598, carrier-grade NAT), multicast, broadcast and unspecified. The user allows them
with `--probe-allow CIDRs` / `EGDOCTOR_PROBE_ALLOW` (which then is the only thing allowed), or names an
address with `--address`.
"""

from __future__ import annotations

import ipaddress

_REFUSED: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified"),
    ("::/128", "unspecified"),
    ("127.0.0.0/8", "loopback"),
    ("::1/128", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("fe80::/10", "link-local"),
    ("10.0.0.0/8", "private"),
    ("172.16.0.0/12", "private"),
    ("192.168.0.0/16", "private"),
    ("fc00::/7", "private"),
    ("100.64.0.0/10", "shared (carrier-grade NAT)"),
    ("224.0.0.0/4", "multicast"),
    ("ff00::/8", "multicast"),
    ("255.255.255.255/32", "broadcast"),
)
REFUSED_RANGES = tuple((ipaddress.ip_network(net), label) for net, label in _REFUSED)


def special_range(address: str) -> str | None:
    """The kind of special-purpose range `address` is in ("loopback", "link-local", ...), else None.
    Not an IP address at all counts as special: nothing but an IP address is ever probed."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "not an IP"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 reaches 127.0.0.1
    for net, label in REFUSED_RANGES:
        if ip.version == net.version and ip in net:
            return label
    return None
