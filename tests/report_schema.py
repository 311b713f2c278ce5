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
