"""What the machine formats (yaml, junit, sarif, markdown) render: the `-o json` document itself, so that
every format carries exactly the findings the JSON carries, on every exit path (EGD001 included)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from egdoctor.report.json_out import report_json
from egdoctor.report.verdict import verdict
from egdoctor.report.view import Report


@dataclass(frozen=True)
class Document:
    data: Mapping[str, Any]  # the `-o json` document (docs/report.schema.json)
    verdict: str  # the text report's first line, plain text (tenant words in it are not yet escaped)
    bad: bool  # the verdict's mark: True when anything needs fixing or the diagnosis could not run
    checks_run: tuple[str, ...]  # the object checks that were asked to run


def document(report: Report) -> Document:
    mark, line = verdict(report)
    return Document(report_json(report), line, mark != "ok", report.checks_run)


def unavailable_document(data: Mapping[str, Any], message: str) -> Document:
    return Document(data, f"the diagnosis could not run: {message}", True, ())


def finding_object_name(finding: Mapping[str, Any]) -> str:
    """`Kind namespace/name` of the finding's object, else its Gateway, else the cluster."""
    obj = finding.get("object")
    if obj:
        where = f"{obj['namespace']}/{obj['name']}" if obj.get("namespace") else obj["name"]
        return f"{obj['kind']} {where}"
    gateway = finding.get("gateway")
    if gateway:
        return f"Gateway {gateway['namespace']}/{gateway['name']}"
    return "cluster"
