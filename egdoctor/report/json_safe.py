"""Make any report value valid JSON without losing what it says.

Offline dumps are YAML, which has values JSON lacks (`.nan`, `.inf`) and objects the Kubernetes API
never sends; evidence may carry such values from an object. `-o json` must always parse, so non-finite
numbers become the strings `NaN`, `Infinity`, `-Infinity`, dates become ISO 8601 strings and anything
else unknown its `str()`, and a structure nested beyond `MAX_DEPTH` is cut with a marker string.
Control characters stay in the strings: the JSON encoder escapes them (`\\u001b`), so a consumer sees
exactly what the cluster held.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 64
TOO_DEEP = "<nested too deeply>"


def json_safe(value: Any, depth: int = 0) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if depth >= MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, Mapping):
        return {str(k): json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v, depth + 1) for v in value]
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
