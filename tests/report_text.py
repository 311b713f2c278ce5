"""What every text report must satisfy, whatever the scenario: the verdict on the first line, lines that fit
the terminal, and marks that agree with what sits under them."""

from __future__ import annotations

import re
from typing import Any

_OBJECT = re.compile(r"^( *)([✓✗!]) (Gateway|Listener|HTTPRoute|GRPCRoute|TCPRoute|TLSRoute) ")
_CHILD_MARK = re.compile(r"^(?:consequence: )?([✓✗!]) ")
_RANK = {"✓": 0, "!": 1, "✗": 2}


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def verdict_problems(lines: list[str], report: dict[str, Any], exit_code: int) -> list[str]:
    first = lines[0] if lines else ""
    glyph = first[:1]
    if glyph not in _RANK or first[1:2] != " ":
        return [f"the first line is no verdict: {first!r}"]
    counts = report["summary"]
    expected = "✗" if counts["error"] or exit_code == 3 else "!" if counts["warning"] else "✓"
    if glyph != expected:
        return [f"the verdict {first!r} disagrees with the counts {counts} (exit {exit_code})"]
    return []


def width_problems(lines: list[str], width: int) -> list[str]:
    return [f"{len(line)} > {width}: {line!r}" for line in lines if len(line) > width and "://" not in line]


def mark_problems(lines: list[str]) -> list[str]:
    """No ✓ over an ✗ or !, and no ✗ (or !) over only better marks."""
    problems = []
    for i, line in enumerate(lines):
        match = _OBJECT.match(line)
        if not match:
            continue
        own = match.group(2)
        depth = _indent(line)
        below = []
        for child in lines[i + 1 :]:
            if not child.strip() or _indent(child) <= depth:
                break
            cm = _CHILD_MARK.match(child.strip())
            if cm:
                below.append(cm.group(1))
        worst = max(below, key=_RANK.__getitem__, default="✓")
        if worst != own:
            problems.append(f"{line.strip()!r} is marked {own} but the worst under it is {worst}")
    return problems


def marked(lines: list[str], prefix: str) -> str | None:
    """The mark of the first object line whose text (after the mark) starts with `prefix`."""
    for line in lines:
        match = _OBJECT.match(line)
        if match and line.strip()[2:].startswith(prefix):
            return match.group(2)
    return None


def wording_problems(lines: list[str]) -> list[str]:
    """The slips a reader trips over: "(s)" plurals, a line saying its mark twice, a label repeated."""
    problems = []
    for line in lines:
        text = line.strip()
        if any(f"{word}(s)" in text for word in ("error", "warning", "row", "check", "Gateway", "file")):
            problems.append(f"a '(s)' plural: {text!r}")
        if text[:1] in ("✓", "✗") and text.count(text[:1]) > 1 and " consequence" not in text:
            problems.append(f"a doubled mark: {text!r}")
        if text.startswith("CTP ") and " CTP " in text:
            problems.append(f"CTP said twice: {text!r}")
        if text.endswith("-> certificate"):
            problems.append(f"a probe row that says nothing it received: {text!r}")
    return problems
