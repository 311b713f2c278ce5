"""JSON parsing that survives hostile nesting.

`json.loads` recurses once per nesting level and raises RecursionError on a body nested a few thousand
levels deep, which one tenant object in a list response is enough for. Then the text is parsed again
with every structure below `CLIP_DEPTH` replaced by a marker string: the list and its other objects
survive, and the deep object, still deeper than `MAX_NESTING`, is reported as malformed when frozen.
"""

from __future__ import annotations

import json
import re
from typing import Any

from egdoctor.snapshot.objects import MAX_NESTING

# Counted from the top of the document: an object inside a list body (`{"items": [{...`) starts two or
# more levels down, and must still be deeper than MAX_NESTING after the cut to be reported.
CLIP_DEPTH = MAX_NESTING + 10
CLIPPED = "<egdoctor: nested too deeply, not read>"
# a JSON string (escapes included), or one bracket; possessive so long strings never backtrack
_TOKEN = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{}]', re.DOTALL)


def loads(text: str | bytes) -> Any:
    """`json.loads`, except that nesting deeper than CLIP_DEPTH is cut instead of raising."""
    try:
        return json.loads(text)
    except RecursionError:
        pass
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", "replace")
    return json.loads(clip(text, CLIP_DEPTH))


def clip(text: str, limit: int) -> str:
    """Replace every array or object that opens at depth `limit` + 1 with a marker string."""
    out: list[str] = []
    depth = 0
    kept_until = 0
    cut_from: int | None = None
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token[0] == '"':
            continue
        if token in "[{":
            depth += 1
            if depth == limit + 1 and cut_from is None:
                cut_from = match.start()
        else:
            if depth == limit + 1 and cut_from is not None:
                out.append(text[kept_until:cut_from])
                out.append(json.dumps(CLIPPED))
                kept_until = match.end()
                cut_from = None
            depth -= 1
    out.append(text[kept_until:] if cut_from is None else text[kept_until:cut_from] + json.dumps(CLIPPED))
    return "".join(out)
