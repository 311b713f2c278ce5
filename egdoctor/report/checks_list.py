"""`egdoctor checks`: every check with the kinds it reads and the codes it reports, then every code with
its severity and one line. Checks and codes come from their registries, so the list cannot drift."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from egdoctor.checks.registry import all_checks
from egdoctor.findings.codes import REGISTRY
from egdoctor.report.wrap import terminal_width

# Codes no object check declares: the read itself (access) and the live probes report them.
_ACCESS = ("access", ("the API server and every kind read",), "API access, missing CRDs, malformed objects")
_PROBES = (
    "probe",
    ("the Gateways' addresses", "DNS", "served certificates"),
    "the live probes (not with --no-probe)",
)


def catalogue() -> dict[str, Any]:
    checks = [
        {"id": c.id, "inputs": list(c.inputs), "codes": list(c.codes), "summary": c.summary}
        for c in all_checks().values()
    ]
    declared = {code for c in checks for code in c["codes"]}
    for (name, inputs, summary), probe in ((_ACCESS, False), (_PROBES, True)):
        codes = sorted(c for c, spec in REGISTRY.items() if c not in declared and spec.probe is probe)
        checks.append({"id": name, "inputs": list(inputs), "codes": codes, "summary": summary})
    code_rows = [
        {"code": spec.code, "severity": spec.severity.value, "title": spec.title, "probe": spec.probe}
        for spec in sorted(REGISTRY.values(), key=lambda s: s.code)
    ]
    return {"checks": checks, "codes": code_rows}


def render_checks(fmt: str = "text") -> None:
    data = catalogue()
    if fmt == "json":
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    console = Console(width=terminal_width(sys.stdout), highlight=False, emoji=False)
    checks = Table(title="Checks", title_justify="left", header_style="bold", box=None, pad_edge=False)
    checks.add_column("check", no_wrap=True)
    checks.add_column("reads", ratio=2)
    checks.add_column("codes", max_width=13)
    checks.add_column("what it verifies", ratio=3)
    for c in data["checks"]:
        checks.add_row(c["id"], ", ".join(c["inputs"]), " ".join(c["codes"]), c["summary"])
    console.print(checks)
    console.print()
    codes = Table(title="Codes", title_justify="left", header_style="bold", box=None, pad_edge=False)
    for column in ("code", "severity", "source", "what it means"):
        codes.add_column(column, no_wrap=column != "what it means")
    for spec in data["codes"]:
        codes.add_row(spec["code"], spec["severity"], "probe" if spec["probe"] else "objects", spec["title"])
    console.print(codes)
    console.print("\n`egdoctor explain CODE` explains a code; `--suppress CODE` silences it", markup=False)
