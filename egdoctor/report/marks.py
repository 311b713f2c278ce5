"""One source of truth for marks: an object's mark is the worst of what is attached to it (its findings
and probe verdicts), and a parent's is the worst of its children's, so a ✓ never sits over an ✗ and an ✗
never over only ✓.

A finding belongs to the listener its Gateway reference names and, as well, to every listener on a port
its evidence names (a load balancer open on :80 and :443 concerns the HTTPS listeners too).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from egdoctor.findings.model import Finding, Severity
from egdoctor.model.topology import GatewayView, ListenerView
from egdoctor.probes.model import ProbeRow

Mark = Literal["ok", "warn", "bad"]
_RANK: Mapping[Mark, int] = {"ok": 0, "warn": 1, "bad": 2}
# "127.0.0.1:443", "edge 10.0.0.1:80", "[::1]:443"; never a time of day in a condition's timestamp
_PORT = re.compile(r"(?:(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}|\])(?::(\d{1,5}))(?!\d)")


def worst(marks: Iterable[Mark]) -> Mark:
    return max(marks, key=_RANK.__getitem__, default="ok")


def finding_mark(f: Finding) -> Mark:
    return {Severity.ERROR: "bad", Severity.WARNING: "warn"}.get(f.severity, "ok")  # type: ignore[return-value]


def row_mark(r: ProbeRow) -> Mark:
    return "bad" if r.verdict == "bad" else "ok"


def evidence_ports(evidence: Any) -> set[int]:
    """Every port an evidence mapping names: `port`/`ports` fields and `address:port` strings."""
    found: set[int] = set()
    if isinstance(evidence, Mapping):
        for key, value in evidence.items():
            if key in ("port", "ports") and isinstance(value, int) and not isinstance(value, bool):
                found.add(value)
            elif key == "ports" and isinstance(value, list | tuple):
                found |= {v for v in value if isinstance(v, int) and not isinstance(v, bool)}
            else:
                found |= evidence_ports(value)
    elif isinstance(evidence, list | tuple):
        for value in evidence:
            found |= evidence_ports(value)
    elif isinstance(evidence, str):
        found |= {int(m.group(1)) for m in _PORT.finditer(evidence)}
    return {p for p in found if 0 < p < 65536}


def finding_listeners(f: Finding, gv: GatewayView, listeners: Iterable[ListenerView]) -> list[str]:
    """The listeners of `gv` a finding concerns, the one its Gateway reference names first."""
    if f.gateway is None or f.gateway.key != gv.key:
        return []
    named = [f.gateway.listener] if f.gateway.listener else []
    if not named:
        return []  # a Gateway-wide finding marks the Gateway, not each listener
    ports = evidence_ports(dict(f.evidence))
    return named + [lv.name for lv in listeners if lv.port in ports and lv.name not in named]


def row_listeners(r: ProbeRow, listeners: Iterable[ListenerView]) -> list[str]:
    if r.listener:
        return [r.listener]
    return [lv.name for lv in listeners if r.port is not None and lv.port == r.port]
