"""How probe results appear in the reports: per Gateway, what was sent, what came back and what it
proves, then the client IP Envoy observed next to this machine's address."""

from __future__ import annotations

from typing import Any

from egdoctor.model.topology import GatewayView
from egdoctor.probes.model import GatewayClientIP, ProbeReport, ProbeRow, ProbeTarget
from egdoctor.report.safe_text import MESSAGE_LIMIT
from egdoctor.report.safe_text import markup as escape

_MARK = {"ok": "[green]✓[/]", "bad": "[red]✗[/]", "info": "[dim]·[/]"}


def probe_json(probes: ProbeReport | None) -> dict[str, Any]:
    if probes is None:
        return {"probeTargets": [], "probes": [], "probeNotes": ["probes not run (--no-probe)"]}
    return probes.to_json()


def gateway_probe_json(probes: ProbeReport | None, gv: GatewayView) -> dict[str, Any]:
    verdict = probes.gateway(gv.key) if probes is not None else None
    if verdict is None:
        return {"observedClientIP": None}
    return {"observedClientIP": verdict.observed, "clientIPVerified": verdict.verified}


def _target(row: ProbeRow) -> str:
    return f"{row.address}:{row.port}" if row.port is not None else ""


def probe_lines(probes: ProbeReport | None, gv: GatewayView) -> list[str]:
    """The probe block under a Gateway's header."""
    if probes is None or probes.skipped:
        return []
    rows = probes.rows_for(gv.key)
    verdict = probes.gateway(gv.key)
    targets = probes.targets_for(gv.key)
    if not rows and verdict is None and not targets:
        return []
    lines: list[str] = target_lines(targets)
    dns = [r for r in rows if r.kind == "dns"]
    if dns:
        lines.append("  [bold]DNS[/]")
        lines.extend(_line(r, r.sent) for r in dns)
    groups: dict[str, list[ProbeRow]] = {}
    for r in rows:
        if r.kind != "dns":
            groups.setdefault(_target(r), []).append(r)
    width = max((len(r.sent) for r in rows if r.kind != "dns"), default=0)
    width = min(width, 64)
    for target, members in groups.items():
        lines.append(f"  [bold]Probe {escape(target)}[/]  [dim](observer: {escape(probes.observer)})[/]")
        lines.extend(_line(r, r.sent.ljust(width)) for r in members)
    if verdict is not None:
        lines.append("  " + client_ip_line(verdict))
    return lines


def target_lines(targets: list[ProbeTarget]) -> list[str]:
    """The plan before the results: where probes go, and which addresses were refused and why."""
    lines = []
    for t in targets:
        ports = "".join(f" :{p}" for p in t.ports)
        if t.refused is None:
            lines.append(f"  [dim]target[/] {escape(t.address)}{ports}  [dim]({escape(t.source)})[/]")
        else:
            lines.append(
                f"  [yellow]![/] [dim]target[/] {escape(t.address)}{ports}  [dim]({escape(t.source)})[/]  "
                f"refused: {escape(t.refused, MESSAGE_LIMIT)}"
            )
    return lines


def _line(r: ProbeRow, sent: str) -> str:
    return f"    {_MARK[r.verdict]} {escape(sent)} -> {escape(r.received)}   [dim]{escape(r.proves)}[/]"


def client_ip_line(v: GatewayClientIP) -> str:
    if v.observed is None:
        return f"[yellow]?[/] {escape(v.summary)}"
    mark = {True: "[green]✓[/]", False: "[red]✗[/]", None: "[yellow]?[/]"}[v.verified]
    here = f"this machine: {v.this_machine}"
    if v.expected and v.expected != v.this_machine:
        here += f", expected: {v.expected}"
    return f"{mark} Envoy observed client IP [bold]{escape(v.observed)}[/]  ({escape(here)})  {mark}"


def probe_notes_lines(probes: ProbeReport | None) -> list[str]:
    if probes is None:
        return []
    if probes.skipped:
        return ["", *(f"[dim]{escape(n)}[/]" for n in probes.notes)]
    if not probes.notes and not probes.rows:
        return []
    out = [
        "",
        f"[bold]Probes[/] [dim]{len(probes.rows)} row(s) in {probes.elapsed_s:.1f}s · observer: "
        f"{escape(probes.observer)}[/]",
    ]
    out.extend(f"  [dim]- {escape(n, MESSAGE_LIMIT)}[/]" for n in probes.notes)
    return out
