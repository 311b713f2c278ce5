"""Where a code's documentation page lives: docs/codes/EGDxxx.md in a checkout, or the copy an install
puts under <prefix>/share/egdoctor/codes."""

from __future__ import annotations

import sys
from pathlib import Path

_PLACES = (
    Path(__file__).resolve().parent.parent.parent / "docs" / "codes",
    Path(sys.prefix) / "share" / "egdoctor" / "codes",
)


def doc_path(code: str) -> Path | None:
    """The page egdoctor would show for a code, where it is installed (or in the checkout)."""
    return next((place / f"{code}.md" for place in _PLACES if (place / f"{code}.md").is_file()), None)


def doc_page(code: str) -> str | None:
    path = doc_path(code)
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None
