"""`-o json`: the machine-readable report on stdout."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from egdoctor.report.json_safe import json_safe
from egdoctor.report.view import Report, report_json


def render_json(report: Report, out: TextIO | None = None) -> None:
    stream = out or sys.stdout
    # allow_nan=False: json_safe already turned NaN and infinities into strings; never emit bare NaN
    json.dump(json_safe(report_json(report)), stream, indent=2, sort_keys=False, allow_nan=False)
    stream.write("\n")
