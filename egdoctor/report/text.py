"""The one door for dynamic text into the terminal report: every string that comes from the cluster, the
files or a probe passes through `t()` before it meets rich markup (or `plain()` where no markup is
parsed), so that one function cleans it all: safe_text's sanitiser turns control and format characters
into visible escapes and caps the length, so tenant text can neither drive the terminal nor bury the
report."""

from __future__ import annotations

from egdoctor.report.marks import Mark
from egdoctor.report.safe_text import VALUE_LIMIT, clean, markup

MARKS: dict[Mark, str] = {"ok": "[green]✓[/]", "warn": "[yellow]![/]", "bad": "[red]✗[/]"}
GLYPHS: dict[Mark, str] = {"ok": "✓", "warn": "!", "bad": "✗"}


def plain(value: object, limit: int = VALUE_LIMIT) -> str:
    """Untrusted text for a line printed without markup (the verdict line); at most `limit` characters
    (safe_text.MESSAGE_LIMIT for egdoctor's sentences around tenant values)."""
    return clean(value, limit)


def t(value: object, limit: int = VALUE_LIMIT) -> str:
    """Untrusted text, made safe for rich markup."""
    return markup(value, limit)


def mark(m: Mark) -> str:
    return MARKS[m]
