"""Suppressions: findings a team has decided to live with, by flag or by annotation on the object.

`--suppress CODE` silences a code everywhere; `--suppress CODE=KIND/NAMESPACE/NAME` (or `CODE=KIND/NAME`
for a cluster-scoped object; `*` matches any one part) only on one object. An object annotated
`egdoctor.io/suppress: "CODE,CODE"` silences those codes on itself, so the decision travels with the
manifest. A suppressed finding neither shows nor counts toward the exit code, but is counted and listed
as suppressed in every format, so a suppression can always be audited.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from egdoctor.findings.codes import REGISTRY
from egdoctor.findings.model import Finding, ObjectRef

ANNOTATION = "egdoctor.io/suppress"
_CODE = re.compile(r"EGD\d{3}")


@dataclass(frozen=True)
class SuppressRule:
    code: str
    kind: str | None = None  # None: on every object
    namespace: str | None = None
    name: str | None = None

    def __str__(self) -> str:
        if self.kind is None:
            return self.code
        path = "/".join(p for p in (self.kind, self.namespace, self.name) if p is not None)
        return f"{self.code}={path}"

    def matches(self, finding: Finding) -> bool:
        if finding.code != self.code:
            return False
        if self.kind is None:
            return True
        subject = finding.subject
        if subject is None:
            return False
        return (
            fnmatchcase(subject.kind, self.kind)
            and fnmatchcase(subject.namespace or "", self.namespace or "")
            and fnmatchcase(subject.name, self.name or "")
        )


def parse_rule(text: str) -> SuppressRule:
    """`CODE`, `CODE=KIND/NAMESPACE/NAME` or `CODE=KIND/NAME`; ValueError names what is wrong."""
    code, equals, target = text.strip().partition("=")
    code = code.strip().upper()
    if not _CODE.fullmatch(code) or code not in REGISTRY:
        raise ValueError(f"--suppress {text!r}: unknown code {code!r} (`egdoctor checks` lists the codes)")
    if not equals:
        return SuppressRule(code)
    parts = [p.strip() for p in target.split("/")]
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"--suppress {text!r}: use CODE=KIND/NAMESPACE/NAME (or CODE=KIND/NAME)")
    if len(parts) == 2:
        return SuppressRule(code, parts[0], None, parts[1])
    return SuppressRule(code, parts[0], parts[1], parts[2])


def annotated_codes(annotations: object) -> frozenset[str]:
    """The codes an object's `egdoctor.io/suppress` annotation names (unknown words are ignored)."""
    value = annotations.get(ANNOTATION) if hasattr(annotations, "get") else None
    if not isinstance(value, str):
        return frozenset()
    return frozenset(w.strip().upper() for w in value.split(",") if w.strip().upper() in REGISTRY)


@dataclass(frozen=True)
class Suppressed:
    finding: Finding
    by: str  # "flag" | "annotation"
    rule: str  # the --suppress value, or the annotation naming the object


def split_suppressed(
    findings: Iterable[Finding],
    rules: Iterable[SuppressRule],
    annotations_of: dict[ObjectRef, frozenset[str]],
) -> tuple[list[Finding], list[Suppressed]]:
    """(the findings that stay, the ones suppressed and why)."""
    rules = tuple(rules)
    kept: list[Finding] = []
    gone: list[Suppressed] = []
    for f in findings:
        rule = next((r for r in rules if r.matches(f)), None)
        if rule is not None:
            gone.append(Suppressed(f, "flag", str(rule)))
        elif f.subject is not None and f.code in annotations_of.get(f.subject, frozenset()):
            gone.append(Suppressed(f, "annotation", f"{ANNOTATION} on {f.subject}"))
        else:
            kept.append(f)
    return kept, gone
