"""The hostnames a listener serves, and whether a certificate name covers one."""

from __future__ import annotations

from egdoctor.model import hostnames
from egdoctor.model.topology import ListenerView


def served_hostnames(lv: ListenerView) -> tuple[str, ...]:
    """The names clients use on this listener: its hostname, and the route hostnames it narrows down to.

    A route hostname broader than the listener's (`*.example.com` on `a.example.com`) serves only the
    listener's name, so it adds nothing.
    """
    out: list[str] = []
    if lv.hostname:
        out.append(lv.hostname)
    for att in lv.attachments:
        for host in att.route_hostnames:
            if not lv.hostname or hostnames.matches(lv.hostname, host):
                out.append(host)
    unique: dict[str, str] = {}
    for host in out:
        unique.setdefault(host.lower().rstrip("."), host)
    return tuple(unique.values())


def san_covers(san: str, host: str) -> bool:
    """Does a certificate name cover a hostname, as TLS clients check it (RFC 6125)?

    Unlike a Gateway API wildcard, a certificate wildcard stands for exactly one label: `*.example.com`
    covers `a.example.com` but not `a.b.example.com`. A wildcard hostname needs the same wildcard.
    """
    s, h = san.strip().lower().rstrip("."), host.strip().lower().rstrip(".")
    if s == h:
        return True
    if s.startswith("*.") and not h.startswith("*."):
        return hostnames.matches(s, h) and h.count(".") == s.count(".")
    return False
