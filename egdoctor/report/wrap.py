"""Fit the terminal report to the terminal: every line wraps at the width with a hanging indent, so a long
message continues under its own text instead of under the tree's marks (a terminal's soft wrap would
break the tree). Words longer than a line are folded, URLs excepted: a folded URL cannot be clicked."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from typing import TextIO

from rich.text import Text

MIN_WIDTH = 40
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Line:
    """One logical line of the report: `markup` (rich markup) at `indent`, continued `hang` further in."""

    markup: str
    indent: int = 0
    hang: int = 4


def terminal_width(stream: TextIO) -> int:
    """`COLUMNS` when set, else the terminal's width on a TTY, else 80 (pipes, files, CI logs)."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return max(MIN_WIDTH, int(columns))
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError, OSError):
        tty = False
    if tty:
        return max(MIN_WIDTH, shutil.get_terminal_size((80, 24)).columns)
    return 80


def _breaks(plain: str, first: int, rest: int) -> list[tuple[int, int]]:
    """(start, end) offsets of each output line's text: greedy word wrap, `first` columns on the first
    line and `rest` on the others."""
    spans: list[tuple[int, int]] = []
    start = end = None
    limit = first
    for word in _WORD.finditer(plain):
        w_start, w_end = word.span()
        if start is None:
            start, end = w_start, w_end
        elif w_end - start <= limit:
            end = w_end
            continue
        else:
            spans.append((start, end))  # type: ignore[arg-type]
            limit = rest
            start, end = w_start, w_end
        # a word longer than a whole line: fold it, unless it is a URL
        while end - start > limit and "://" not in plain[start:end]:
            spans.append((start, start + limit))
            start += limit
            limit = rest
    if start is not None:
        spans.append((start, end))  # type: ignore[arg-type]
    return spans or [(0, 0)]


def wrap(line: Line, width: int) -> list[Text]:
    text = Text.from_markup(line.markup)
    first = max(10, width - line.indent)
    rest = max(10, width - line.indent - line.hang)
    out = []
    for n, (start, end) in enumerate(_breaks(text.plain, first, rest)):
        pad = line.indent if n == 0 else line.indent + line.hang
        out.append(Text(" " * pad) + text[start:end])
    return out
