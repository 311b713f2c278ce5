"""The terminal report: Gateway -> listener -> routes, the client-IP verdict on top, problems under the
object they belong to. Meaning never rides on colour alone: codes and ✓/✗/!/i marks survive NO_COLOR."""

from __future__ import annotations

import sys
from typing import TextIO

from rich.console import Console

from egdoctor.findings.model import Finding, Severity
from egdoctor.model.topology import GatewayView
from egdoctor.report.probe_view import probe_lines, probe_notes_lines
from egdoctor.report.safe_text import MESSAGE_LIMIT, clean_line
from egdoctor.report.safe_text import markup as escape
from egdoctor.report.tls_view import listener_rows
from egdoctor.report.view import Report, mode_label
from egdoctor.snapshot.kinds import ROUTE_KINDS
from egdoctor.snapshot.objects import conditions

_MARK = {Severity.ERROR: ("✗", "bold red"), Severity.WARNING: ("!", "yellow"), Severity.INFO: ("i", "cyan")}


def _finding_lines(f: Finding, indent: str) -> list[str]:
    mark, style = _MARK[f.severity]
    lines = [f"{indent}[{style}]{mark} {f.code}[/]  {escape(f.message, MESSAGE_LIMIT)}"]
    if f.hint and f.hint.strip().lower() not in ("nothing to do", "nothing to fix"):
        lines.append(f"{indent}    [dim]fix:[/] {escape(f.hint, MESSAGE_LIMIT)}")
    return lines


def render_terminal(report: Report, out: TextIO | None = None, color: bool | None = None) -> None:
    stream = out or sys.stdout
    console = Console(
        file=stream,
        no_color=None if color is None else not color,
        force_terminal=color if color else None,
        highlight=False,
        soft_wrap=True,
        emoji=False,
    )
    for line in build_lines(report):
        # the one boundary every rendered line crosses: no control byte of tenant text gets past it
        console.print(clean_line(line))


def build_lines(report: Report) -> list[str]:
    diag = report.diagnosis
    snap = diag.snapshot
    lines: list[str] = []
    placed: set[int] = set()
    if snap.source.mode == "cluster":
        head = f"Context {escape(snap.source.context)} · {escape(snap.source.server)}"
    else:
        head = f"Offline: {len(snap.source.files)} file(s)"
    scope = "all namespaces" if snap.namespaces is None else "namespace " + ", ".join(sorted(snap.namespaces))
    gateways = report.gateways()
    lines.append(f"[bold]{head}[/] · {scope} · {len(gateways)} Gateway(s) in view")
    if not gateways:
        lines.append("  no Gateway is in view: no route in scope attaches to a Gateway egdoctor could read")

    def take(pred: object) -> list[Finding]:
        chosen = []
        for i, f in enumerate(report.findings):
            if i not in placed and pred(f):  # type: ignore[operator]
                placed.add(i)
                chosen.append(f)
        return chosen

    for gv in gateways:
        lines.append("")
        lines.extend(_gateway_header(gv))
        lines.extend(probe_lines(report.probes, gv))
        key = gv.key
        for f in take(
            lambda f, key=key: (
                f.gateway is not None
                and f.gateway.key == key
                and f.gateway.listener is None
                and (f.subject is None or f.subject.kind not in ROUTE_KINDS)
            )
        ):
            lines.extend(_finding_lines(f, "  "))
        for lv in report.listeners(gv):
            host = f"  {lv.hostname}" if lv.hostname else ""
            lf = take(
                lambda f, key=key, name=lv.name: (
                    f.gateway is not None
                    and f.gateway.key == key
                    and f.gateway.listener == name
                    and (f.subject is None or f.subject.kind not in ROUTE_KINDS)
                )
            )
            # a Gateway-wide problem (a client-IP mode that lets clients forge their IP) is every listener's
            gateway_wide = [
                f
                for f in report.findings
                if f.gateway is not None
                and f.gateway.key == key
                and f.gateway.listener is None
                and (f.subject is None or f.subject.kind not in ROUTE_KINDS)
            ]
            bad = any(f.severity is not Severity.INFO for f in lf) or any(
                f.severity is Severity.ERROR for f in gateway_wide
            )
            mark = "[red]✗[/]" if bad else "[green]✓[/]"
            lines.append(
                f"  {mark} Listener [bold]{escape(lv.name)}[/]  {escape(lv.protocol)} :{lv.port}"
                f"{escape(host)}  [dim]client IP: {lv.client_ip.mode}[/]"
            )
            tls_findings = any(f.code.startswith("EGD40") and f.severity is not Severity.INFO for f in lf)
            for row in listener_rows(report, gv, lv):
                # the row never contradicts the TLS findings printed right under it
                tick = "[green]✓[/]" if row.ok() and not tls_findings else "[red]✗[/]"
                lines.append(f"      {tick} TLS {escape(row.describe())}")
            for f in lf:
                lines.extend(_finding_lines(f, "      "))
            seen_routes = set()
            for att in lv.attachments:
                route = att.route
                if route.ref in seen_routes or not snap.in_scope(route.namespace):
                    continue
                seen_routes.add(route.ref)
                rf = take(lambda f, ref=route.ref: f.subject == ref)
                state = _route_state(att.status)
                # the mark judges the route, not only the findings printed here (a route under several
                # listeners shows its findings once)
                route_bad = any(
                    f.subject == route.ref and f.severity is not Severity.INFO for f in report.findings
                )
                mark = "[red]✗[/]" if route_bad else "[green]✓[/]"
                lines.append(
                    f"      {mark} {route.kind} {escape(route.namespace or '')}/{escape(route.name)}  "
                    f"[dim]{state}[/]"
                )
                for f in rf:
                    lines.extend(_finding_lines(f, "          "))
    lines.extend(probe_notes_lines(report.probes))
    rest = take(lambda f: True)
    if rest:
        lines.append("")
        lines.append("[bold]Other findings[/]")
        for f in rest:
            where = f"  [dim]{escape(str(f.subject))}[/]" if f.subject else ""
            lines.extend(_finding_lines(f, "  ") + ([where] if where else []))
    lines.append("")
    counts = report.counts
    verdict = f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info"
    if diag.skipped:
        verdict += f" · {len(diag.skipped)} check(s) skipped: " + ", ".join(sorted(diag.skipped))
    style = "bold red" if counts["error"] else ("yellow" if counts["warning"] else "bold green")
    lines.append(f"[{style}]{verdict}[/]")
    if report.findings:
        first = report.findings[0]
        lines.append(
            f"[dim]run `egdoctor explain {first.code}` or read docs/codes/{first.code}.md for details[/]"
        )
    return lines


def _gateway_header(gv: GatewayView) -> list[str]:
    conds = conditions(gv.obj.status)
    programmed = conds.get("Programmed")
    state = (
        "Programmed" if programmed is not None and programmed.get("status") == "True" else "not Programmed"
    )
    addresses = ", ".join(gv.addresses) or "no address"
    lines = [
        f"[bold]Gateway {escape(gv.key[0])}/{escape(gv.key[1])}[/]   {escape(addresses)}   "
        f"mode: [bold]{escape(mode_label(gv))}[/]   {state}"
    ]
    svc = gv.envoy_service
    if svc is not None:
        ann = svc.annotations.get("loadbalancer.openstack.org/proxy-protocol", "not set")
        where = f"{escape(svc.namespace or '')}/{escape(svc.name)}"
        lines.append(f"  LB Service {where}   proxy-protocol: {escape(str(ann))}")
    elif gv.listeners and gv.listeners[0].client_ip.lb_proxy == "unknown":
        lines.append("  LB Service not readable or not found")
    ctps = {lv.client_ip.ctp.ref: lv.client_ip for lv in gv.listeners if lv.client_ip.ctp is not None}
    for ref, cip in sorted(ctps.items()):
        lines.append(f"  CTP {escape(ref.namespace or '')}/{escape(ref.name)}   {escape(cip.describe())}")
    if not ctps:
        if gv.listeners and not gv.listeners[0].client_ip.ctp_known:
            lines.append(
                "  ClientTrafficPolicies not readable: the client-IP mode is unknown (see EGD002/EGD005)"
            )
        else:
            lines.append("  no ClientTrafficPolicy configures this Gateway")
    return lines


def _route_state(status: object) -> str:
    conds = conditions(status) if status else {}
    if not conds:
        return "no status from Envoy Gateway"
    parts = []
    for ctype in ("Accepted", "ResolvedRefs"):
        c = conds.get(ctype)
        if c is not None:
            parts.append(
                ctype if c.get("status") == "True" else f"{ctype}=False ({escape(str(c.get('reason')))})"
            )
    return "  ".join(parts)
