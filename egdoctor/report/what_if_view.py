"""How a what-if run (--with-file) appears in each format: the objects the manifests change, the
findings that would appear and those that would go away."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from egdoctor.findings.model import Finding
from egdoctor.what_if import WhatIf


def what_if_json(what: WhatIf) -> dict[str, Any]:
    return {
        "files": list(what.files),
        "objects": [{**c.ref.to_json(), "change": c.action} for c in what.changes],
        "appear": [_finding(f) for f in what.appear],
        "goAway": [_finding(f) for f in what.go_away],
        "notReconciledYet": [_finding(f) for f in what.not_reconciled_yet],
    }


def _finding(f: Finding) -> dict[str, Any]:
    out = f.to_json()
    del out["concerns"], out["evidence"]
    return out


def finding_line(f: Mapping[str, Any]) -> str:
    """`EGD203 error HTTPRoute team-a/web: message` (plain; callers escape for their format)."""
    obj = f.get("object")
    where = ""
    if obj:
        where = (
            f" {obj['kind']} {obj['namespace']}/{obj['name']}"
            if obj.get("namespace")
            else f" {obj['kind']} {obj['name']}"
        )
    return f"{f['code']} {f['severity']}{where}: {f['message']}"


def summary(data: Mapping[str, Any]) -> str:
    """`2 objects changed: 1 finding would appear, 0 would go away`."""
    n = len(data["objects"])
    appear, gone = len(data["appear"]), len(data["goAway"])
    return (
        f"{n} object{'s' if n != 1 else ''} changed by {', '.join(data['files'])}: "
        f"{appear} finding{'s' if appear != 1 else ''} would appear, {gone} would go away"
    )
