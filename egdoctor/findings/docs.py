"""Where a code's documentation page lives: docs/codes/EGDxxx.md in the project tree."""

from __future__ import annotations

from pathlib import Path

_DOCS = Path(__file__).resolve().parent.parent.parent / "docs" / "codes"


def doc_page(code: str) -> str | None:
    path = _DOCS / f"{code}.md"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None
