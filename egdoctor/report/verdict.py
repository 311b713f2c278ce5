"""The words that open and close the text report: the verdict on the first line (what a support engineer
reads in five seconds), the counts and the one code to look up on the last."""

from __future__ import annotations

from egdoctor.findings.codes import REGISTRY
from egdoctor.findings.model import Finding
from egdoctor.report.marks import Mark
from egdoctor.report.view import Report


def plural(n: int, word: str) -> str:
    if n == 1 or word == "info":
        return f"{n} {word}"
    return f"{n} {word}s"


def _headline(f: Finding, room: int) -> str:
    """The finding's own message when it fits the room left on the line, else its last clause (the
    controller's own words: "service team-a/api-v2 not found"), else its code's title."""
    subject = str(f.subject) if f.subject is not None else (f"Gateway {f.gateway}" if f.gateway else "")
    last = f.message.rsplit(": ", 1)[-1].rstrip(".")
    candidates = [f.message] + ([last] if len(last) >= 16 and last != f.message else [])
    for text in [*candidates, REGISTRY[f.code].title if f.code in REGISTRY else f.message]:
        named = text if not subject or _names(text, f) else f"{subject}: {text}"
        line = f"{named} ({f.code})"
        if len(line) <= room:
            return line
    return line


def _names(text: str, f: Finding) -> bool:
    """Does the text already name the finding's object, kind and all?"""
    return f.subject is None or str(f.subject) in text


def _client_ip_state(report: Report) -> str:
    probes = report.probes
    if probes is None:
        return "objects checked, no probes sent (--no-probe)"
    if probes.skipped or not probes.gateways:
        return "objects checked, no probe ran"
    verdicts = {g.verified for g in probes.gateways}
    if verdicts == {True}:
        return "client IP verified"
    return "client IP not observable" if False not in verdicts else "client IP wrong"


def verdict(report: Report, width: int = 100) -> tuple[Mark, str]:
    """(mark, one line of plain text) for the top of the report, fitted to `width` where it can be."""
    stopped = report.diagnosis.could_not_run
    if stopped:
        return "bad", f"the diagnosis could not run: {stopped}"
    counts = report.counts
    errors, warnings = counts["error"], counts["warning"]
    first = report.causes[0] if report.causes else None
    if errors and first is not None:
        more = f", {plural(warnings, 'warning')}" if warnings else ""
        lead = f"{plural(errors, 'error')}{more}: "
        return "bad", lead + _headline(first, width - 2 - len(lead))
    if report.incomplete:
        return "bad", f"incomplete: {report.incomplete}; nothing below is a pass"
    if warnings and first is not None:
        lead = f"{plural(warnings, 'warning')}: "
        return "warn", lead + _headline(first, width - 2 - len(lead))
    if not report.gateways():
        return "ok", "no problems found, but no Gateway is in view"
    return "ok", f"no problems: {_client_ip_state(report)}"


def footer(report: Report) -> list[str]:
    counts = report.counts
    line = ", ".join(plural(counts[s], s) for s in ("error", "warning", "info"))
    consequences = len(report.root_causes)
    if consequences:
        whose = "its" if consequences == 1 else "their"
        line += f" ({plural(consequences, 'consequence')} shown under {whose} cause)"
    if report.suppressed:
        line += f" · {len(report.suppressed)} suppressed"
    if report.hidden:
        line += f" · {len(report.hidden)} below --min-severity not shown"
    skipped = report.diagnosis.skipped
    if skipped:
        line += f" · {plural(len(skipped), 'check')} skipped: " + ", ".join(sorted(skipped))
    lines = [line]
    if report.causes:
        lines.append(f"run `egdoctor explain {report.causes[0].code}` for what it means and how to fix it")
    return lines
