"""`-o yaml`: the `-o json` document as YAML, key order kept (the same shape, docs/report.schema.json)."""

from __future__ import annotations

import sys
from typing import TextIO

import yaml

from egdoctor.report.document import Document
from egdoctor.report.json_safe import json_safe


def render_yaml(doc: Document, out: TextIO | None = None) -> None:
    # safe_dump quotes every string that could read back as another type; allow_unicode=False escapes
    # control and format characters (and all non-ASCII) as `-o json` does: `cat report.yaml` is safe
    yaml.safe_dump(
        json_safe(dict(doc.data)), out or sys.stdout, sort_keys=False, allow_unicode=False, width=1000
    )
