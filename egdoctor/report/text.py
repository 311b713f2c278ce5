"""The one door for dynamic text into the terminal report: every string that comes from the cluster, the
files or a probe passes through `t()` before it meets rich markup (or `plain()` where no markup is
parsed), so that one function can clean it all."""

from __future__ import annotations

from rich.markup import escape

from egdoctor.report.marks import Mark

MARKS: dict[Mark, str] = {"ok": "[green]✓[/]", "warn": "[yellow]![/]", "bad": "[red]✗[/]"}
GLYPHS: dict[Mark, str] = {"ok": "✓", "warn": "!", "bad": "✗"}


def plain(value: object) -> str:
    """Untrusted text for a line printed without markup (the verdict line)."""
    return str(value)


def t(value: object) -> str:
    """Untrusted text, made safe for rich markup."""
    return escape(plain(value))


def mark(m: Mark) -> str:
    return MARKS[m]
