"""`-o sarif`: SARIF 2.1.0 for code-scanning dashboards.

One rule per code that the report holds, whose help is the code's documentation page (the one `egdoctor
explain CODE` shows); one result per finding, located at its Kubernetes object as a logical location
(`HTTPRoute/team-a/api`), since a finding is about an object in a cluster, not a line in a file.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from egdoctor import __version__
from egdoctor.findings.codes import REGISTRY
from egdoctor.findings.docs import doc_page
from egdoctor.report.document import Document, finding_object_name
from egdoctor.report.json_safe import json_safe

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _rule(code: str) -> dict[str, Any]:
    spec = REGISTRY.get(code)
    title = spec.title if spec else code
    page = doc_page(code) or f"# {code}: {title}\n\n`egdoctor explain {code}` explains it."
    rule: dict[str, Any] = {
        "id": code,
        "name": "".join(w[:1].upper() + w[1:] for w in title.replace("-", " ").split() if w.isalnum()),
        "shortDescription": {"text": title},
        "help": {"text": page, "markdown": page},
        "properties": {"docPath": f"docs/codes/{code}.md", "explain": f"egdoctor explain {code}"},
    }
    if spec is not None:
        rule["defaultConfiguration"] = {"level": _LEVEL[spec.severity.value]}
    return rule


def _logical_location(f: Mapping[str, Any]) -> dict[str, Any]:
    obj = f.get("object")
    if obj:
        path = "/".join(p for p in (obj["kind"], obj.get("namespace"), obj["name"]) if p)
        return {"name": obj["name"], "fullyQualifiedName": path, "kind": "resource"}
    name = finding_object_name(f)
    return {"name": name, "fullyQualifiedName": name.replace(" ", "/"), "kind": "resource"}


def _result(f: Mapping[str, Any], rule_index: int) -> dict[str, Any]:
    where = finding_object_name(f)
    result: dict[str, Any] = {
        "ruleId": f["code"],
        "ruleIndex": rule_index,
        "level": _LEVEL[f["severity"]],
        "message": {"text": f"{where}: {f['message']}\nfix: {f['hint']}"},
        "locations": [{"logicalLocations": [_logical_location(f)]}],
        "properties": {
            "severity": f["severity"],
            "check": f["check"],
            "hint": f["hint"],
            "evidence": f.get("evidence") or {},
        },
    }
    if f.get("gateway"):
        result["properties"]["gateway"] = f["gateway"]
    if f.get("causedBy"):
        result["properties"]["causedBy"] = f["causedBy"]
    if f.get("fix"):
        result["properties"]["fix"] = f["fix"]  # a kubectl command, not a file edit: not a SARIF `fixes`
    if f.get("recordedAt"):
        result["properties"]["recordedAt"] = f["recordedAt"]  # a bundle's probe result, not sent by this run
    return result


def _suppressed_result(s: Mapping[str, Any], rule_index: int) -> dict[str, Any]:
    """A suppressed finding stays a result, marked suppressed (SARIF viewers hide it): by the object's
    annotation it is an in-source suppression, by --suppress an external one."""
    return {
        "ruleId": s["code"],
        "ruleIndex": rule_index,
        "level": _LEVEL[s["severity"]],
        "message": {"text": f"{finding_object_name(s)}: {s['message']}"},
        "locations": [{"logicalLocations": [_logical_location(s)]}],
        "suppressions": [
            {
                "kind": "inSource" if s["suppressedBy"] == "annotation" else "external",
                "justification": s["rule"],
            }
        ],
    }


def sarif_document(doc: Document) -> dict[str, Any]:
    data = doc.data
    suppressed = data.get("suppressed") or []
    codes = list(dict.fromkeys(f["code"] for f in [*data["findings"], *suppressed]))
    index = {code: i for i, code in enumerate(codes)}
    summary = data["summary"]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "egdoctor",
                        "version": __version__,
                        "rules": [_rule(c) for c in codes],
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": summary["exitCode"] != 3,
                        "exitCode": summary["exitCode"],
                    }
                ],
                "results": [_result(f, index[f["code"]]) for f in data["findings"]]
                + [_suppressed_result(s, index[s["code"]]) for s in suppressed],
                "properties": {
                    "verdict": doc.verdict,
                    "scope": data["scope"],
                    "summary": summary,
                    **({"whatIf": data["whatIf"]} if data.get("whatIf") else {}),
                },
            }
        ],
    }


def render_sarif(doc: Document, out: TextIO | None = None) -> None:
    stream = out or sys.stdout
    json.dump(json_safe(sarif_document(doc)), stream, indent=2, allow_nan=False)
    stream.write("\n")
