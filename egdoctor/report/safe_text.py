"""The one sanitiser for text bound for a terminal.

Every name, annotation, condition message, certificate field, DNS answer and probe response egdoctor
prints is chosen by some tenant of the cluster. A terminal obeys the control characters in such text
(ESC sequences that move the cursor, clear the screen or set the window title, OSC 8 hyperlinks, CR that
overwrites a line with a fake verdict), so none may reach it: each one is shown as its `\\xNN` (or
`\\uNNNN`) escape instead, and long text is cut with an ellipsis so one object cannot bury the report.

The terminal renderer passes every line through `clean_line` right before printing it, so a renderer
that forgets `markup` still cannot emit a control byte; `markup` additionally caps each dynamic value and
escapes rich markup in it.
"""

from __future__ import annotations

import re

from rich.markup import escape as _escape_markup

VALUE_LIMIT = 300  # one dynamic value (a name, an annotation, an address)
MESSAGE_LIMIT = 1000  # a finding message or hint: egdoctor's sentence around tenant values
LINE_LIMIT = 2000  # one printed line, egdoctor's own words included
ELLIPSIS = "…"

# C0 controls (tab and newline included: a report line is one line), DEL, C1 controls, and the Unicode
# format characters that reorder or hide text (bidi overrides and isolates, zero-width marks, BOM).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def has_unsafe(text: str) -> bool:
    return _UNSAFE.search(text) is not None


def neutralise(text: str) -> str:
    """Control and format characters shown as their escapes; everything else unchanged."""
    return _UNSAFE.sub(_visible, text)


def cap(text: str, limit: int = VALUE_LIMIT) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + ELLIPSIS


def clean(value: object, limit: int = VALUE_LIMIT) -> str:
    """A dynamic value as plain terminal-safe text: one line, no control characters, at most `limit`."""
    text = value if isinstance(value, str) else str(value)
    # cap first so the escapes of a long hostile string cannot make it longer than the limit by much
    return cap(neutralise(cap(text, limit)), limit)


def markup(value: object, limit: int = VALUE_LIMIT) -> str:
    """A dynamic value for a rich-markup line: cleaned, then its `[` escaped so it stays text."""
    return _escape_markup(clean(value, limit))


def clean_line(line: str) -> str:
    """The last guard before the terminal: a whole rendered line (markup included)."""
    return cap(neutralise(line), LINE_LIMIT)
