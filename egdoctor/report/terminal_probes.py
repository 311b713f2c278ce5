"""The probe part of the text report: what was sent, what came back and what that proves, and the client
IP Envoy observed next to this machine's address."""

from __future__ import annotations

from egdoctor.probes.model import GatewayClientIP, ProbeReport, ProbeRow, ProbeTarget
from egdoctor.report.marks import Mark
from egdoctor.report.safe_text import MESSAGE_LIMIT
from egdoctor.report.text import mark, t
from egdoctor.report.wrap import Line

_ROW_MARK: dict[str, str] = {"ok": mark("ok"), "bad": mark("bad"), "info": "[dim]·[/]"}


def target(row: ProbeRow) -> str:
    return f"{row.address}:{row.port}" if row.port is not None else row.address


def target_lines(targets: list[ProbeTarget], indent: int) -> list[Line]:
    """The plan before the results: where probes go, and which addresses were refused and why. A refusal
    carries no mark of its own: the Gateway's mark comes from findings (EGD107 when the Gateway's owner
    chose the address), and a refusal by --probe-allow is the engineer's choice, not a problem."""
    lines = []
    for planned in targets:
        ports = "".join(f" :{p}" for p in planned.ports)
        where = f"[dim]target[/] {t(planned.address)}{ports}  [dim]({t(planned.source)})[/]"
        if planned.refused is not None:
            where += f"  refused: {t(planned.refused, MESSAGE_LIMIT)}"
        lines.append(Line(where, indent, hang=2))
    return lines


def row_lines(rows: list[ProbeRow], indent: int) -> list[Line]:
    """DNS rows as they are; the others under one `Probe address:port` heading per target."""
    lines = [_row_line(r, indent) for r in rows if r.kind == "dns"]
    targets: dict[str, list[ProbeRow]] = {}
    for r in rows:
        if r.kind != "dns":
            targets.setdefault(target(r), []).append(r)
    for where, members in targets.items():
        lines.append(Line(f"[bold]Probe {t(where)}[/]", indent))
        lines.extend(_row_line(r, indent + 2) for r in members)
    return lines


def _row_line(r: ProbeRow, indent: int) -> Line:
    return Line(
        f"{_ROW_MARK[r.verdict]} {t(r.sent)} -> {t(r.received)}   [dim]{t(r.proves)}[/]", indent, hang=2
    )


def client_ip_line(v: GatewayClientIP, m: Mark, indent: int) -> Line:
    if v.observed is None:
        return Line(f"{mark(m)} Client IP: {t(v.summary, MESSAGE_LIMIT)}", indent, hang=2)
    here = f"this machine: {v.this_machine}"
    if v.expected and v.expected != v.this_machine:
        here += f", expected: {v.expected}"
    return Line(
        f"{mark(m)} Client IP: Envoy observed [bold]{t(v.observed)}[/]  ({t(here)})  "
        f"[dim]observer: {t(v.observer)}[/]",
        indent,
        hang=2,
    )


def summary_lines(probes: ProbeReport | None) -> list[Line]:
    if probes is None:
        return []
    if probes.skipped:
        return [Line(""), *(Line(f"[dim]{t(n, MESSAGE_LIMIT)}[/]") for n in probes.notes)]
    if not probes.notes and not probes.rows:
        return []
    out = [
        Line(""),
        Line(
            f"[bold]Probes[/] [dim]{len(probes.rows)} sent in {probes.elapsed_s:.1f} s · observer: "
            f"{t(probes.observer)}[/]"
        ),
    ]
    out.extend(Line(f"[dim]{t(n, MESSAGE_LIMIT)}[/]", 2, hang=2) for n in probes.notes)
    return out
