"""What judging one Gateway produces: rows, findings (at most one per code, naming every address:port
it concerns), the static findings traffic confirmed, notes and the client-IP verdict.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from egdoctor.checks.fix_hints import lb_status_command, source_ranges_fix
from egdoctor.findings.codes import make_finding
from egdoctor.findings.model import Finding, GatewayRef, ObjectRef
from egdoctor.probes.model import GatewayClientIP, ProbeRow
from egdoctor.probes.plan import GatewayTargets, join_words
from egdoctor.probes.sender import Sent
from egdoctor.snapshot.model import Snapshot


@dataclass
class Judged:
    rows: list[ProbeRow] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    confirms: list[tuple[str, tuple[str, str]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    verdict: GatewayClientIP | None = None


def norm_ip(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return value
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


class GatewayFindings:
    """Findings of one Gateway, at most one per code, each naming every address:port it concerns."""

    def __init__(self, gt: GatewayTargets, snapshot: Snapshot | None = None) -> None:
        self.gt = gt
        self.subject = ObjectRef("Gateway", gt.key[0], gt.key[1])
        # exact commands for the hints that name the load balancer or the EnvoyProxy behind it
        self.hint_params = {
            "lb_status": lb_status_command(gt.view.envoy_service),
            "source_ranges_fix": source_ranges_fix(snapshot, gt.view.obj),
        }
        self.items: dict[str, tuple[GatewayRef, dict[str, Any], list[str], dict[str, Any]]] = {}
        self.order: list[str] = []

    def add(
        self,
        code: str,
        listener: str | None,
        where: str,
        evidence: Mapping[str, Any] | None = None,
        **params: Any,
    ) -> None:
        if code in self.items:
            self.items[code][2].append(where)
            return
        self.order.append(code)
        self.items[code] = (
            GatewayRef(self.gt.key[0], self.gt.key[1], listener),
            params,
            [where],
            dict(evidence or {}),
        )

    def findings(self) -> list[Finding]:
        out = []
        for code in self.order:
            gref, params, wheres, evidence = self.items[code]
            params = dict(params)
            also = [w for w in dict.fromkeys(wheres[1:]) if w != wheres[0]]
            if also and "message" in params:
                params["message"] = params["message"] + f" (also on {join_words(also)})"
            elif also and "outcome" in params:
                params["outcome"] = params["outcome"] + f"; {join_words(also)} does not answer either"
            evidence.setdefault("where", list(dict.fromkeys(wheres)))
            params = {**self.hint_params, **params}
            out.append(make_finding(code, self.subject, gref, evidence, **params))
        return out


def observed_ip(s: Sent | None) -> str | None:
    return norm_ip(s.observation.remote) if s is not None and s.observation is not None else None
