"""`-o markdown`: a report a support engineer pastes into a ticket as is.

Verdict first, then the Gateways in view and the findings per namespace, each with its fix. Every word
that comes from the cluster (names, condition messages, addresses) is first made terminal-safe by the
project's sanitiser and then has its Markdown punctuation backslash-escaped, so a tenant's object name
cannot turn into a link, an image, HTML or a heading in the ticket.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from egdoctor.report.document import Document, finding_object_name
from egdoctor.report.safe_text import MESSAGE_LIMIT, VALUE_LIMIT, clean

_MARK = {"error": "✗", "warning": "!", "info": "i"}
# CommonMark lets a backslash escape any ASCII punctuation; these are the ones that can start markup, a
# table cell's end, an HTML tag or entity, or an autolink (`https://`, `www.`, `a@b.c` need `:` or `.`)
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~&:$])")


def md(value: object, limit: int = VALUE_LIMIT) -> str:
    """Tenant text as literal Markdown text: one line, no control characters, no markup."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", clean(value, limit))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 or word == "info" else f"{n} {word}s"


def _counts(findings: list[Mapping[str, Any]]) -> str:
    by = {s: sum(1 for f in findings if f["severity"] == s) for s in ("error", "warning", "info")}
    parts = [_plural(n, s) for s, n in by.items() if n]
    return ", ".join(parts) if parts else "none"


def _scope(data: Mapping[str, Any]) -> str:
    scope = data["scope"]
    if scope.get("allNamespaces"):
        return "all namespaces"
    spaces = scope.get("namespaces") or []
    return f"namespace{'s' if len(spaces) != 1 else ''} " + ", ".join(md(n) for n in spaces)


def _source(data: Mapping[str, Any]) -> str:
    src = data["source"]
    if src["mode"] == "bundle":
        context = md(src.get("context") or "?")
        return f"bundle {md(src['bundle'])} recorded {md(src['recordedAt'])} from context {context}"
    if src["mode"] == "files":
        return f"files ({len(src.get('files') or [])})"
    return f"context {md(src.get('context') or '?')} · {md(src.get('server') or '?')}"


def _envoy_gateway(data: Mapping[str, Any]) -> str:
    eg = data.get("envoyGateway")
    if not eg:
        return ""
    if eg.get("version"):
        return f" · Envoy Gateway {md(eg['version'])}"
    return f" · Envoy Gateway version unknown ({md(eg.get('unknown') or '?')})"


def _header(doc: Document) -> list[str]:
    data = doc.data
    summary = data["summary"]
    mark = "✗" if summary["error"] or summary["exitCode"] == 3 else "!" if doc.bad else "✓"
    counts = ", ".join(_plural(summary[s], s) for s in ("error", "warning", "info"))
    suppressed = summary.get("suppressed") or 0
    hidden = summary.get("belowMinSeverity") or 0
    extra = (f" · {suppressed} suppressed" if suppressed else "") + (
        f" · {hidden} below --min-severity not shown" if hidden else ""
    )
    return [
        "# egdoctor report",
        "",
        f"**{mark} {md(doc.verdict, MESSAGE_LIMIT)}**",
        "",
        f"{_source(data)}{_envoy_gateway(data)} · {_scope(data)} · {counts}{extra} · exit code "
        f"{summary['exitCode']} "
        f"(fails on {summary['failOn']})",
    ]


def _gateway_rows(data: Mapping[str, Any]) -> list[str]:
    gateways = data["gateways"]
    if not gateways:
        return []
    lines = [
        "",
        "## Gateways",
        "",
        "| Gateway | Client-IP mode | Addresses | Programmed | Listeners | Findings |",
        "|---|---|---|---|---|---|",
    ]
    for g in gateways:
        mine = [
            f
            for f in data["findings"]
            if f.get("gateway")
            and (f["gateway"]["namespace"], f["gateway"]["name"]) == (g["namespace"], g["name"])
        ]
        listeners = ", ".join(
            f"{md(lv['name'])} ({md(lv['protocol'])} {lv['port']})" for lv in g["listeners"]
        )
        addresses = ", ".join(md(a) for a in g["addresses"]) or "none"
        lines.append(
            f"| {md(g['namespace'])}/{md(g['name'])} | {md(g['mode'])} | {addresses} | "
            f"{'yes' if g['programmed'] else 'no'} | {listeners or 'none'} | {_counts(mine)} |"
        )
    return lines


def _namespace_of(f: Mapping[str, Any]) -> str:
    obj = f.get("object") or {}
    if obj.get("namespace"):
        return str(obj["namespace"])
    gateway = f.get("gateway") or {}
    return str(gateway.get("namespace") or "")


def _finding_lines(f: Mapping[str, Any]) -> list[str]:
    lines = [
        "",
        f"### {_MARK[f['severity']]} {f['code']} ({f['severity']}): {md(finding_object_name(f))}",
        "",
        md(f["message"], MESSAGE_LIMIT),
        "",
        f"**Fix:** {md(f['hint'], MESSAGE_LIMIT)}",
    ]
    fix = f.get("fix")
    if fix:
        lines += [
            "",
            f"**Command** ({md(fix['description'], MESSAGE_LIMIT)}):",
            "",
            "```sh",
            _fenced(fix["command"]),
            "```",
        ]
    if f.get("recordedAt"):
        lines += [
            "",
            f"_Recorded evidence: probe result recorded at {md(f['recordedAt'])}, read from the bundle._",
        ]
    cause = f.get("causedBy")
    if cause:
        obj = cause.get("object")
        whose = f" on {md(obj['kind'])} {md(obj.get('namespace') or '')}/{md(obj['name'])}" if obj else ""
        lines += ["", f"_Follows from {cause['code']}{whose}: fixing that fixes this._"]
    lines += ["", f"More: `egdoctor explain {f['code']}`"]
    return lines


def _findings(data: Mapping[str, Any]) -> list[str]:
    findings = data["findings"]
    if not findings:
        return ["", "No findings."]
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for f in findings:
        groups.setdefault(_namespace_of(f), []).append(f)
    lines: list[str] = []
    for namespace in sorted(groups, key=lambda n: (n == "", n)):
        title = f"namespace {md(namespace)}" if namespace else "the cluster"
        lines += ["", f"## Findings in {title} ({_counts(groups[namespace])})"]
        for f in groups[namespace]:
            lines += _finding_lines(f)
    return lines


def _skipped(data: Mapping[str, Any]) -> list[str]:
    skipped = data.get("skippedChecks") or {}
    if not skipped:
        return []
    return ["", "## Checks that could not run", ""] + [
        f"- {md(check)}: {md(why, MESSAGE_LIMIT)}" for check, why in sorted(skipped.items())
    ]


def _suppressed(data: Mapping[str, Any]) -> list[str]:
    suppressed = data.get("suppressed") or []
    if not suppressed:
        return []
    return ["", f"## Suppressed ({len(suppressed)})", ""] + [
        f"- {s['code']} on {md(finding_object_name(s))}, by {md(s['rule'])}" for s in suppressed
    ]


def markdown_lines(doc: Document) -> list[str]:
    data = doc.data
    return [
        *_header(doc),
        *_what_if(data),
        *_gateway_rows(data),
        *_findings(data),
        *_suppressed(data),
        *_skipped(data),
    ]


def _what_if(data: Mapping[str, Any]) -> list[str]:
    what = data.get("whatIf")
    if not what:
        return []
    from egdoctor.report.what_if_view import finding_line, summary

    lines = ["", "## What would change", "", md(summary(what), MESSAGE_LIMIT), ""]
    for c in what["objects"]:
        where = f"{c['namespace']}/{c['name']}" if c["namespace"] else c["name"]
        lines.append(f"- {c['change']} {md(c['kind'])} {md(where)}")
    lines.append("")
    lines += [f"- **would appear:** {md(finding_line(f), MESSAGE_LIMIT)}" for f in what["appear"]]
    lines += [f"- **would go away:** {md(finding_line(f), MESSAGE_LIMIT)}" for f in what["goAway"]]
    if what["notReconciledYet"]:
        lines.append(f"- expected until applied (no status yet): {len(what['notReconciledYet'])}")
    return lines


def render_markdown(doc: Document, out: TextIO | None = None) -> None:
    (out or sys.stdout).write("\n".join(markdown_lines(doc)) + "\n")


def _fenced(text: str) -> str:
    """A command inside a ``` fence: a line of backticks in it cannot close the fence early."""
    return text.replace("```", "`\u200b``")
