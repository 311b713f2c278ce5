"""`egdoctor explain`: a code's page rendered for the terminal, or the list of every code."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

from egdoctor.findings.codes import REGISTRY
from egdoctor.findings.docs import doc_page, doc_path
from egdoctor.report.wrap import terminal_width

_HUNDREDS = {
    "0": "access",
    "1": "GatewayClass and Gateway",
    "2": "routes and backends",
    "3": "client-IP mode (PROXY protocol / XFF) and the load balancer",
    "4": "TLS and cert-manager",
    "5": "DNS",
    "6": "live probes",
    "7": "other Envoy Gateway policies",
}


def _console() -> Console:
    return Console(width=terminal_width(sys.stdout), highlight=False, emoji=False)


def show_code(code: str) -> bool:
    """Print the page of `code`; False when no such code exists."""
    spec = REGISTRY.get(code.strip().upper())
    if spec is None:
        return False
    console = _console()
    page = doc_page(spec.code)
    if page is None:
        kind = "probe" if spec.probe else "objects"
        console.print(
            f"{spec.code}: {spec.title}\nSeverity: {spec.severity.value} · Source: {kind}", markup=False
        )
        return True
    console.print(Markdown(page))
    console.print(f"\n[dim]page: {doc_path(spec.code)}[/]")
    return True


def list_codes() -> None:
    console = _console()
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("code", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("what it means")
    group = None
    for spec in sorted(REGISTRY.values(), key=lambda s: s.code):
        hundred = spec.code[3]
        if hundred != group:
            group = hundred
            table.add_row(f"[bold]EGD{hundred}xx[/]", "", f"[bold]{_HUNDREDS.get(hundred, '')}[/]")
        table.add_row(spec.code, spec.severity.value, spec.title)
    console.print(table)
    first = doc_path(next(iter(sorted(REGISTRY))))
    where = f"; the pages are in {first.parent}" if first is not None else ""
    console.print(f"\n`egdoctor explain CODE` explains one{where}", markup=False)
