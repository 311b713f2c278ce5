"""`-o json`: the machine-readable report on stdout."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from egdoctor.report.view import Report, report_json


def render_json(report: Report, out: TextIO | None = None) -> None:
    stream = out or sys.stdout
    json.dump(report_json(report), stream, indent=2, sort_keys=False)
    stream.write("\n")
