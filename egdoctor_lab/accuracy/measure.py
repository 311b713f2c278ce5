"""Diagnose each case offline and score egdoctor's findings against EG's verdicts.

recall: of the objects EG marks with a problem, the share that get at least one finding on that object.
false-error rate: of the objects EG marks healthy, the share that get an error-severity finding.
Client-IP codes (EGD3xx) are left out on both sides: EG's test data carries no Elastx intent; EGD302 and
EGD303 stay in, since they relay EG's verdict on a ClientTrafficPolicy.
"""

from __future__ import annotations

import tempfile
import traceback
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .cases import CLASS, Case

ObjectKey = tuple[str, str | None, str]


@dataclass(frozen=True)
class Seen:
    """One finding as the measure reads it."""

    code: str
    severity: str
    subject: ObjectKey | None


# Client-IP codes that relay Envoy Gateway's own verdict on a ClientTrafficPolicy (no Elastx intent in
# them): they count like any other finding.
VERDICT_CODES_3XX = frozenset({"EGD302", "EGD303"})


def counted(finding: Seen) -> bool:
    return not finding.code.startswith("EGD3") or finding.code in VERDICT_CODES_3XX


class _NoAliasDumper(yaml.SafeDumper):
    """kubectl writes no YAML aliases (and egdoctor refuses them): a shared mapping is written twice."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def write_case(case: Case, path: Path) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        yaml.dump_all(case.objects, fh, Dumper=_NoAliasDumper, sort_keys=False)


def diagnose_case(case: Case, workdir: Path) -> list[Seen]:
    """egdoctor's findings on a case, through the same pipeline `egdoctor check --from-file F -A
    --no-probe --gateway-class envoy-gateway-class` runs."""
    from egdoctor.checks.registry import Options
    from egdoctor.pipeline import DiagnosisRequest, diagnose

    path = workdir / f"{case.name}.yaml"
    write_case(case, path)
    request = DiagnosisRequest(
        options=Options(gateway_class=CLASS), all_namespaces=True, from_files=(str(path),)
    )
    report = diagnose(request)
    out = []
    for finding in report.findings:
        subject = finding.subject
        key = (subject.kind, subject.namespace, subject.name) if subject else None
        out.append(Seen(finding.code, finding.severity.value, key))
    return out


def seen_from_json(report: dict[str, Any]) -> list[Seen]:
    out = []
    for finding in report.get("findings") or []:
        obj = finding.get("object")
        key = (obj["kind"], obj.get("namespace"), obj["name"]) if obj else None
        out.append(Seen(finding["code"], finding["severity"], key))
    return out


@dataclass
class Score:
    problem_objects: int = 0
    found: int = 0
    healthy_objects: int = 0
    false_errors: int = 0
    crashed: list[tuple[str, str]] = field(default_factory=list)
    # (kind, condition type, reason) -> [case/object] for problem objects without a finding
    misses: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    # (kind, code) -> [case/object] for healthy objects with an error
    false: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # codes egdoctor gave problem objects it found (which code explains which EG verdict)
    explained_by: Counter[str] = field(default_factory=Counter)
    found_only_by_generic: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.problem_objects if self.problem_objects else 1.0

    @property
    def false_error_rate(self) -> float:
        return self.false_errors / self.healthy_objects if self.healthy_objects else 0.0


def score_case(case: Case, findings: Iterable[Seen], score: Score) -> None:
    by_subject: dict[ObjectKey, list[Seen]] = {}
    for finding in findings:
        if counted(finding) and finding.subject is not None:
            by_subject.setdefault(finding.subject, []).append(finding)
    for key, problems in case.verdicts.items():
        kind, namespace, name = key
        label = f"{case.name}: {kind} {namespace + '/' if namespace else ''}{name}"
        on_it = by_subject.get(key, [])
        if problems:
            score.problem_objects += 1
            if on_it:
                score.found += 1
                score.explained_by.update({f.code for f in on_it})
                if {f.code for f in on_it} == {"EGD709"}:
                    score.found_only_by_generic += 1
            else:
                first = problems[0]
                score.misses.setdefault((kind, first.type, first.reason), []).append(label)
        else:
            score.healthy_objects += 1
            errors = sorted({f.code for f in on_it if f.severity == "error"})
            if errors:
                score.false_errors += 1
                for code in errors:
                    score.false.setdefault((kind, code), []).append(label)


def measure(cases: Iterable[Case]) -> Score:
    score = Score()
    # a test certificate with a zero serial is EG's data, not news
    warnings.filterwarnings("ignore", message="Parsed a serial number")
    with tempfile.TemporaryDirectory(prefix="egdoctor-accuracy-") as tmp:
        for case in cases:
            try:
                findings = diagnose_case(case, Path(tmp))
            except Exception as exc:  # a crash is a result too: every problem object in it is missed
                line = traceback.format_exception_only(type(exc), exc)[-1].strip()
                score.crashed.append((case.name, line))
                findings = []
            score_case(case, findings, score)
    return score


def render(score: Score, version: str, detail: int = 3) -> str:
    lines = [
        f"Envoy Gateway {version} translator test data",
        f"recall: {score.found}/{score.problem_objects} = {score.recall:.4f}",
        f"false-error rate: {score.false_errors}/{score.healthy_objects} = {score.false_error_rate:.4%}",
    ]
    if score.explained_by:
        codes = ", ".join(f"{code} {n}" for code, n in sorted(score.explained_by.items()))
        lines.append(f"codes on the problem objects found: {codes}")
        alone = score.found_only_by_generic
        lines.append(f"found only by the generic controller verdict (EGD709): {alone}")
    if score.crashed:
        lines.append(f"egdoctor failed on {len(score.crashed)} case(s):")
        lines.extend(f"  {name}: {why}" for name, why in score.crashed)
    if score.misses:
        lines.append("misses (kind, EG condition, reason: objects):")
        for (kind, ctype, reason), labels in sorted(score.misses.items(), key=lambda kv: -len(kv[1])):
            lines.append(f"  {len(labels):4d}  {kind} {ctype} {reason}")
            lines.extend(f"          {label}" for label in labels[:detail])
    if score.false:
        lines.append("false errors (kind, code: objects):")
        for (kind, code), labels in sorted(score.false.items(), key=lambda kv: -len(kv[1])):
            lines.append(f"  {len(labels):4d}  {kind} {code}")
            lines.extend(f"          {label}" for label in labels[:detail])
    return "\n".join(lines)
