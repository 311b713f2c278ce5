"""Where a code's documentation page lives: docs/codes/EGDxxx.md in a checkout, or the copy an install
puts under <prefix>/share/egdoctor/codes."""

from __future__ import annotations

import sys
from pathlib import Path

_PLACES = (
    Path(__file__).resolve().parent.parent.parent / "docs" / "codes",
    Path(sys.prefix) / "share" / "egdoctor" / "codes",
)


def doc_page(code: str) -> str | None:
    for place in _PLACES:
        try:
            return (place / f"{code}.md").read_text(encoding="utf-8")
        except OSError:
            continue
    return None
