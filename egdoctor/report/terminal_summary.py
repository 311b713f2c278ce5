"""The text report when it would not fit a screen (more routes in view than a screen holds, with `-A` or
`-n`): a table of the namespaces that have findings first, then only the objects with findings; healthy
namespaces, listeners and routes are counted, and `--show-all` lists them. A report that fits a screen
is shown whole: hiding its healthy routes would save nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

from egdoctor.findings.model import Finding, Severity
from egdoctor.report.layout import GatewayBlock, Layout
from egdoctor.report.text import mark, t
from egdoctor.report.verdict import plural
from egdoctor.report.view import Report, mode_label
from egdoctor.report.wrap import Line

# More routes in view than this (each at least one line) and the report is summarised.
ROUTES_ON_A_SCREEN = 25


def is_compact(layout: Layout, show_all: bool) -> bool:
    return not show_all and sum(len(block.routes) for block in layout.gateways) > ROUTES_ON_A_SCREEN


@dataclass
class _Row:
    namespace: str
    gateways: dict[str, str] = field(default_factory=dict)  # "ns/name" -> mode label
    routes: int = 0
    errors: int = 0
    warnings: int = 0


def _namespace_of(f: Finding) -> str | None:
    if f.subject is not None and f.subject.namespace:
        return f.subject.namespace
    return f.gateway.namespace if f.gateway is not None else None


def _rows(report: Report, layout: Layout) -> dict[str, _Row]:
    rows: dict[str, _Row] = {}
    for block in layout.gateways:
        gv = block.view
        name = f"{gv.key[0]}/{gv.key[1]}"
        rows.setdefault(gv.key[0], _Row(gv.key[0])).gateways[name] = mode_label(gv)
        for rb in block.routes:
            row = rows.setdefault(rb.ref.namespace or "", _Row(rb.ref.namespace or ""))
            row.gateways[name] = mode_label(gv)
            row.routes += 1
    for f in report.causes:
        namespace = _namespace_of(f)
        if namespace is None:
            continue
        row = rows.setdefault(namespace, _Row(namespace))
        if f.severity is Severity.ERROR:
            row.errors += 1
        elif f.severity is Severity.WARNING:
            row.warnings += 1
    return rows


def summary_table(report: Report, layout: Layout, show_all: bool) -> list[Line]:
    """namespace, Gateway, mode, routes, errors, warnings: the namespaces with findings (every one with
    --show-all), then one line counting the healthy rest."""
    rows = sorted(_rows(report, layout).values(), key=lambda r: (-r.errors, -r.warnings, r.namespace))
    listed = rows if show_all else [r for r in rows if r.errors or r.warnings]
    healthy = [r for r in rows if not (r.errors or r.warnings)]
    cells = [
        (
            r.namespace or "(cluster)",
            ", ".join(sorted(r.gateways)) or "-",
            ", ".join(sorted(set(r.gateways.values()))) or "-",
            str(r.routes),
            str(r.errors),
            str(r.warnings),
        )
        for r in listed
    ]
    header = ("namespace", "Gateway", "mode", "routes", "errors", "warnings")
    widths = [min(max(len(c[i]) for c in [header, *cells]), 40) for i in range(len(header))]

    def line(values: tuple[str, ...], style: str = "") -> Line:
        padded = "  ".join(
            t(v).ljust(w + len(t(v)) - len(v)) if i < 3 else v.rjust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        )
        return Line(f"[{style}]{padded}[/]" if style else padded, 2)

    out = [Line("")]
    if cells:
        out.append(line(header, "bold"))
        out.extend(line(c) for c in cells)
    if healthy and not show_all:
        routes = sum(r.routes for r in healthy)
        out.append(
            Line(
                f"{mark('ok')} {plural(len(healthy), 'namespace')} healthy ({plural(routes, 'route')}) "
                "[dim]· --show-all lists them[/]",
                2,
            )
        )
    return out


def compact_block(block: GatewayBlock) -> tuple[int, int]:
    """Drop the healthy listeners and routes of a Gateway block; (listeners dropped, routes dropped)."""
    listeners = len(block.listeners)
    routes = len(block.routes)
    block.listeners = [lb for lb in block.listeners if lb.mark != "ok"]
    block.routes = [rb for rb in block.routes if rb.mark != "ok"]
    return listeners - len(block.listeners), routes - len(block.routes)


def healthy_line(listeners: int, routes: int) -> list[Line]:
    parts = ([plural(listeners, "listener")] if listeners else []) + (
        [plural(routes, "route")] if routes else []
    )
    if not parts:
        return []
    return [Line(f"{mark('ok')} {' and '.join(parts)} healthy [dim](--show-all lists them)[/]", 2)]
