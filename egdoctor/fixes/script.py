"""`--fix-plan`: the deterministic fixes of a report as one shell script to review. egdoctor only prints
it; it changes nothing. Each command names the context the diagnosis read, so the script acts on the
cluster that was diagnosed; every name is shell-quoted and every comment is one sanitised line."""

from __future__ import annotations

from egdoctor.findings.fix import Fix
from egdoctor.findings.model import Finding
from egdoctor.report.safe_text import MESSAGE_LIMIT, clean
from egdoctor.report.view import Report


def fix_plan(report: Report) -> str:
    src = report.diagnosis.snapshot.source
    context = src.context if src.mode == "cluster" and src.context else None
    planned: dict[str, tuple[Fix, list[Finding]]] = {}
    for f in report.findings:
        if f.fix is not None:
            command = f.fix.command(context)
            planned.setdefault(command, (f.fix, []))[1].append(f)
    unplanned = [f for f in report.causes if f.fix is None and f.severity.value != "info"]
    lines = [
        "#!/bin/sh",
        "# egdoctor fix plan: review every command before you run it; egdoctor itself never runs it.",
        f"# {clean(_where(report), MESSAGE_LIMIT)}",
        "set -eu",
    ]
    if not planned:
        lines += ["", "# no finding has a deterministic fix (see the report's hints)"]
    for command, (fix, findings) in planned.items():
        lines.append("")
        lines.append(f"# {clean(fix.description, MESSAGE_LIMIT)}")
        for f in findings:
            lines.append(
                f"#   fixes {f.code} {clean(str(f.subject or f.gateway or 'cluster'), MESSAGE_LIMIT)}"
            )
        lines.append(command)
    if unplanned:
        lines += ["", f"# {len(unplanned)} other finding(s) need a decision; their hints say what to change:"]
        lines += [
            f"#   {f.code} {clean(str(f.subject or f.gateway or 'cluster'), MESSAGE_LIMIT)}"
            for f in unplanned
        ]
    return "\n".join(lines) + "\n"


def _where(report: Report) -> str:
    src = report.diagnosis.snapshot.source
    if src.bundle:
        return f"from bundle {src.bundle} (context {src.context or '?'}, recorded {src.recorded_at})"
    if src.mode == "files":
        return f"from {len(src.files)} file(s); the commands use kubectl's current context"
    return f"context {src.context or '?'} ({src.server or '?'})"
