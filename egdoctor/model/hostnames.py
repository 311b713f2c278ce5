"""Hostname matching as Gateway API defines it (apis/v1/shared_types.go, `Hostname`).

A leading `*.` label is a suffix match: `*.example.com` matches `a.example.com` and `a.b.example.com`
but not `example.com`. A listener without hostname matches everything.
"""

from __future__ import annotations


def _norm(host: str) -> str:
    return host.strip().lower().rstrip(".")


def matches(pattern: str, host: str) -> bool:
    """Does `pattern` (possibly wildcard) cover the concrete-or-wildcard `host`?"""
    pattern, host = _norm(pattern), _norm(host)
    if pattern.startswith("*."):
        suffix = pattern[1:]  # ".example.com"
        if host.startswith("*."):
            return host[1:].endswith(suffix)
        return host.endswith(suffix) and len(host) > len(suffix)
    return pattern == host


def intersect(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return True
    return matches(a, b) or matches(b, a)


def any_intersect(listener_hostname: str | None, route_hostnames: tuple[str, ...]) -> bool:
    if not listener_hostname or not route_hostnames:
        return True
    return any(intersect(listener_hostname, h) for h in route_hostnames)
