"""The published JSON Schema of `-o json` (docs/report.schema.json), for tests to hold reports to."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from tests.conftest import ROOT

SCHEMA_PATH = ROOT / "docs" / "report.schema.json"


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_problems(document: Any) -> list[str]:
    """Every way `document` breaks the schema, one line each (empty: it validates)."""
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message[:300]}" for e in errors]


_MARKS = ("✓", "✗")


def mark_problems(document: Any) -> list[str]:
    """The terminal's marks in the JSON's words (messages, hints, probe rows and notes). The schema cannot
    hold words to this, because a value quoted from the cluster may hold a mark: call this only for
    inputs that hold none, where any mark is egdoctor's own."""
    texts: list[tuple[str, Any]] = []
    for i, f in enumerate(document.get("findings") or []):
        texts += [(f"findings/{i}/message", f.get("message")), (f"findings/{i}/hint", f.get("hint"))]
    for i, row in enumerate(document.get("probes") or []):
        texts += [(f"probes/{i}/{key}", row.get(key)) for key in ("sent", "received", "proves")]
    texts += [(f"probeNotes/{i}", n) for i, n in enumerate(document.get("probeNotes") or [])]
    texts += [
        (f"probeGateways/{i}/summary", g.get("summary"))
        for i, g in enumerate(document.get("probeGateways") or [])
    ]
    return [
        f"{where}: a mark in {text!r}"
        for where, text in texts
        if isinstance(text, str) and any(m in text for m in _MARKS)
    ]
