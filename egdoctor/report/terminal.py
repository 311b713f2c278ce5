"""The terminal report: the verdict first, then Gateway -> listeners (their TLS, probes and findings) and
the routes in view, each once; the counts and the one code to look up last. Meaning never rides on colour
alone: codes and ✓/✗/! marks survive NO_COLOR, and every line wraps to the terminal with a hanging indent.
"""

from __future__ import annotations

import sys
from typing import TextIO

from rich.console import Console
from rich.text import Text

from egdoctor.findings.model import Finding
from egdoctor.model.eg_version import eg_version
from egdoctor.model.topology import GatewayView
from egdoctor.report.layout import GatewayBlock, ListenerBlock, Placed, RouteBlock, build_layout
from egdoctor.report.marks import finding_mark
from egdoctor.report.safe_text import MESSAGE_LIMIT, clean_line, has_unsafe
from egdoctor.report.terminal_probes import client_ip_line, row_lines, summary_lines, target_lines
from egdoctor.report.terminal_summary import compact_block, healthy_line, is_compact, summary_table
from egdoctor.report.text import GLYPHS, mark, plain, t
from egdoctor.report.verdict import footer, plural, verdict
from egdoctor.report.view import Report, mode_label
from egdoctor.report.wrap import Line, terminal_width, wrap
from egdoctor.snapshot.objects import conditions

_NOTHING_TO_DO = ("nothing to do", "nothing to fix")
_STYLE = {"ok": "bold green", "warn": "bold yellow", "bad": "bold red"}


def render_terminal(
    report: Report,
    out: TextIO | None = None,
    color: bool | None = None,
    width: int | None = None,
    show_all: bool = False,
) -> None:
    stream = out or sys.stdout
    width = width or terminal_width(stream)
    console = Console(
        file=stream,
        no_color=None if color is None else not color,
        force_terminal=color if color else None,
        highlight=False,
        emoji=False,
        width=width,
    )
    for line in build_lines(report, width, show_all):
        for text in line:
            # already wrapped: rich must not wrap again
            console.print(_guarded(text), soft_wrap=True)


def _guarded(text: Text) -> Text:
    """The one boundary every rendered line crosses: t() and plain() clean each value, and should a
    renderer ever forget them, no control byte of tenant text gets past this line either."""
    if not has_unsafe(text.plain):
        return text
    return Text(clean_line(text.plain))


def build_lines(report: Report, width: int, show_all: bool = False) -> list[list[Text]]:
    return [_verdict_line(report, width)] + [wrap(line, width) for line in report_lines(report, show_all)]


def _verdict_line(report: Report, width: int) -> list[Text]:
    """One line, whatever the width: it is what a reader (or `head -1`) takes in first."""
    m, words = verdict(report, width)
    line = f"{GLYPHS[m]} {plain(words, MESSAGE_LIMIT)}"
    if len(line) > width:
        line = line[: width - 1] + "…"
    return [Text(line, style=_STYLE[m])]


def report_lines(report: Report, show_all: bool = False) -> list[Line]:
    snap = report.diagnosis.snapshot
    layout = build_layout(report)
    compact = is_compact(layout, show_all)
    if snap.source.bundle:
        src = snap.source
        head = f"Bundle {t(src.bundle)} · recorded {t(src.recorded_at)} · context {t(src.context)}"
    elif snap.source.mode == "cluster":
        head = f"Context {t(snap.source.context)} · {t(snap.source.server)}"
    else:
        head = f"Offline: {plural(len(snap.source.files), 'file')}"
    found = eg_version(snap)
    # said here, once: version-specific advice assumes a current release when the version is unknown
    eg_line = (
        f"Envoy Gateway {found.text}"
        if found.version
        else f"Envoy Gateway version unknown: {t(found.why_unknown or '')}"
    )
    scope = (
        "all namespaces" if snap.namespaces is None else "namespace " + t(", ".join(sorted(snap.namespaces)))
    )
    in_view = plural(len(layout.gateways), "Gateway")
    lines = [Line(f"[bold]{head}[/] · {scope} · {in_view} in view · [dim]{eg_line}[/]")]
    if not layout.gateways:
        lines.append(Line("no route in scope attaches to a Gateway egdoctor could read", 2))
    elif compact or (show_all and snap.namespaces is None):
        lines.extend(summary_table(report, layout, show_all))
    for block in layout.gateways:
        lines.append(Line(""))
        dropped = compact_block(block) if compact else (0, 0)
        lines.extend(_gateway_lines(report, block))
        lines.extend(healthy_line(*dropped))
    lines.extend(summary_lines(report.probes))
    if layout.other:
        lines += [Line(""), Line("[bold]Other findings[/]")]
        for placed in layout.other:
            lines.extend(_placed_lines(placed, 2, with_subject=True))
    lines.extend(_what_if_lines(report))
    lines.append(Line(""))
    closing = footer(report)
    style = _STYLE["bad" if report.counts["error"] else "warn" if report.counts["warning"] else "ok"]
    lines.append(Line(f"[{style}]{t(closing[0], MESSAGE_LIMIT)}[/]"))
    lines.extend(Line(f"[dim]{t(rest, MESSAGE_LIMIT)}[/]") for rest in closing[1:])
    return lines


def _gateway_lines(report: Report, block: GatewayBlock) -> list[Line]:
    gv = block.view
    programmed = (conditions(gv.obj.status).get("Programmed") or {}).get("status") == "True"
    addresses = ", ".join(gv.addresses) or "no address"
    lines = [
        Line(
            f"{mark(block.mark)} [bold]Gateway {t(gv.key[0])}/{t(gv.key[1])}[/]   {t(addresses)}   "
            f"mode: [bold]{t(mode_label(gv))}[/]   {'Programmed' if programmed else 'not Programmed'}"
        )
    ]
    lines.extend(Line(text, 4) for text in _gateway_details(report, gv))
    if block.client_ip is not None:
        lines.append(client_ip_line(block.client_ip, block.client_ip_mark, 4))
    for placed in block.findings:
        lines.extend(_placed_lines(placed, 4))
    if report.probes is not None:
        lines.extend(target_lines(report.probes.targets_for(gv.key), 4))
    if block.dns:
        lines.append(Line("[bold]DNS[/]", 4))
        lines.extend(row_lines(block.dns, 6))
    lines.extend(row_lines(block.rows, 4))
    for lb in block.listeners:
        lines.extend(_listener_lines(lb))
    for rb in block.routes:
        lines.extend(_route_lines(rb))
    return lines


def _gateway_details(report: Report, gv: GatewayView) -> list[str]:
    out = []
    svc = gv.envoy_service
    if svc is not None:
        ann = svc.annotations.get("loadbalancer.openstack.org/proxy-protocol", "not set")
        shared = f"   shared by GatewayClass {t(gv.obj.spec.get('gatewayClassName'))} (mergeGateways)"
        out.append(
            f"LB Service {t(svc.namespace or '')}/{t(svc.name)}   proxy-protocol: {t(ann)}"
            + (shared if gv.deployment.merged else "")
        )
    elif report.diagnosis.snapshot.problems_for("EnvoyService"):
        out.append("LB Service not readable: load-balancer checks skipped (see EGD002/EGD005)")
    else:
        out.append("LB Service not found (see EGD312)")
    ctps = {lv.client_ip.ctp.ref: lv.client_ip for lv in gv.listeners if lv.client_ip.ctp is not None}
    for ref, cip in sorted(ctps.items()):
        # describe() names each CTP setting "CTP ..." for evidence read out of context; here the line
        # already starts with the policy
        out.append(f"CTP {t(ref.namespace or '')}/{t(ref.name)}   {t(cip.describe().replace('CTP ', ''))}")
    if not ctps:
        if gv.listeners and not gv.listeners[0].client_ip.ctp_known:
            out.append(
                "ClientTrafficPolicies not readable: the client-IP mode is unknown (see EGD002/EGD005)"
            )
        else:
            out.append("no ClientTrafficPolicy configures this Gateway")
    return out


def _listener_lines(lb: ListenerBlock) -> list[Line]:
    lv = lb.view
    host = f"  {t(lv.hostname)}" if lv.hostname else ""
    port = f" :{lv.port}" if lv.port is not None else ""
    lines = [
        Line(
            f"{mark(lb.mark)} Listener [bold]{t(lv.name)}[/]  {t(lv.protocol)}{port}{host}  "
            f"[dim]client IP: {t(lv.client_ip.mode)}[/]",
            2,
        )
    ]
    for row, m in lb.tls:
        lines.append(Line(f"{mark(m)} TLS {t(row.describe())}", 6, hang=2))
    lines.extend(row_lines(lb.rows, 6))
    for placed in lb.findings:
        lines.extend(_placed_lines(placed, 6))
    for f, where in lb.elsewhere:
        lines.append(
            Line(f"{mark(finding_mark(f))} {f.code}  concerns this listener too: see listener {t(where)}", 6)
        )
    return lines


def _route_lines(rb: RouteBlock) -> list[Line]:
    via = "listener" if len(rb.listeners) == 1 else "listeners"
    lines = [
        Line(
            f"{mark(rb.mark)} {t(rb.ref.kind)} [bold]{t(rb.ref.namespace or '')}/{t(rb.ref.name)}[/]  "
            f"[dim]on {via} {t(', '.join(rb.listeners))} · {_route_state(rb.status)}[/]",
            2,
        )
    ]
    for placed in rb.findings:
        lines.extend(_placed_lines(placed, 6))
    return lines


def _placed_lines(placed: Placed, indent: int, with_subject: bool = False) -> list[Line]:
    lines = _finding_lines(placed.finding, indent)
    if with_subject and placed.finding.subject is not None:
        lines.append(Line(f"[dim]{t(placed.finding.subject)}[/]", indent + 4))
    for c in placed.consequences:
        lines.append(
            Line(
                f"[dim]consequence:[/] {mark(finding_mark(c))} {c.code}  {t(c.message, MESSAGE_LIMIT)}",
                indent + 4,
                hang=4,
            )
        )
    return lines


def _finding_lines(f: Finding, indent: int) -> list[Line]:
    lines = [
        Line(
            f"{mark(finding_mark(f))} [bold]{f.code}[/]  {t(f.message, MESSAGE_LIMIT)}",
            indent,
            hang=len(f.code) + 4,
        )
    ]
    if f.hint and f.hint.strip().lower() not in _NOTHING_TO_DO:
        lines.append(Line(f"[dim]fix:[/] {t(f.hint, MESSAGE_LIMIT)}", indent + 4, hang=5))
    return lines


def _route_state(status: object) -> str:
    conds = conditions(status) if status else {}
    if not conds:
        return "no status from Envoy Gateway"
    parts = []
    for ctype in ("Accepted", "ResolvedRefs"):
        c = conds.get(ctype)
        if c is not None:
            parts.append(ctype if c.get("status") == "True" else f"{ctype}=False ({t(c.get('reason'))})")
    return ", ".join(parts)


def _what_if_lines(report: Report) -> list[Line]:
    """--with-file: what laying the manifests over the cluster would change."""
    if report.what_if is None:
        return []
    from egdoctor.report.what_if_view import finding_line, summary, what_if_json

    data = what_if_json(report.what_if)
    lines = [Line(""), Line(f"[bold]What if[/] {t(summary(data), MESSAGE_LIMIT)}")]
    for c in data["objects"]:
        where = f"{c['namespace']}/{c['name']}" if c["namespace"] else c["name"]
        lines.append(Line(f"[dim]{c['change']}[/] {t(c['kind'])} {t(where)}", 2))
    for f in data["appear"]:
        lines.append(Line(f"[red]+ would appear[/] {t(finding_line(f), MESSAGE_LIMIT)}", 2, hang=4))
    for f in data["goAway"]:
        lines.append(Line(f"[green]- would go away[/] {t(finding_line(f), MESSAGE_LIMIT)}", 2, hang=4))
    if data["notReconciledYet"]:
        lines.append(
            Line(
                f"[dim]{len(data['notReconciledYet'])} expected until applied: Envoy Gateway has not written "
                "a status for the changed objects yet[/]",
                2,
            )
        )
    return lines
