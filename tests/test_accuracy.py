"""egdoctor against Envoy Gateway's own verdicts: EG's translator test data at the newest pinned release.

Ground truth is ``internal/gatewayapi/testdata/*.in.yaml`` with the statuses EG computed in the matching
``*.out.yaml`` (envoyproxy/gateway, read from Go's module cache: ``go mod download -json
github.com/envoyproxy/gateway@VERSION``), completed as a live cluster serves it
(egdoctor_lab/accuracy/cases.py, fixtures as internal/gatewayapi/translator_test.go adds them).
The figures are recorded in docs/accuracy.md.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from egdoctor_lab.accuracy.cases import CLASS, case_names, load_case
from egdoctor_lab.accuracy.cases import testdata_dir as eg_testdata_dir
from egdoctor_lab.accuracy.measure import Seen, diagnose_case, measure, render, seen_from_json, write_case
from egdoctor_lab.eg.releases import NEWEST
from tests.conftest import run_cli

RECALL_FLOOR = 0.95
FALSE_ERROR_CEILING = 0.005

# A few cases through the installed CLI, to show the in-process batch sees what a user would.
CLI_CASES = (
    "httproute-with-single-rule-with-exact-path-match",
    "envoyextensionpolicy-failopen",
    "listenerset-conflict-listeners",
    "gateway-with-multiple-https-listeners-with-overlapping-certs",
    "httproute-with-conflicting-filters",
)


@pytest.fixture(scope="module")
def testdata() -> Path:
    return eg_testdata_dir(NEWEST)


def test_recall_and_false_errors_against_eg(testdata: Path) -> None:
    score = measure(load_case(testdata, name) for name in case_names(testdata))
    print("\n" + render(score, NEWEST, detail=1))
    assert score.problem_objects > 300 and score.healthy_objects > 1000, "EG's test data was not read"
    assert not score.crashed, f"egdoctor failed on: {score.crashed}"
    assert score.recall >= RECALL_FLOOR, f"recall {score.recall:.4f} < {RECALL_FLOOR}"
    assert score.false_error_rate <= FALSE_ERROR_CEILING, (
        f"false-error rate {score.false_error_rate:.4%} > {FALSE_ERROR_CEILING:.1%}"
    )


@pytest.mark.parametrize("name", CLI_CASES)
def test_cli_sees_what_the_batch_sees(testdata: Path, tmp_path: Path, name: str) -> None:
    case = load_case(testdata, name)
    expected = _portable(diagnose_case(case, tmp_path))
    (tmp_path / "cli").mkdir()
    path = tmp_path / "cli" / f"{name}.yaml"
    write_case(case, path)
    result = run_cli(
        "check", "--from-file", str(path), "-A", "-o", "json", "--no-probe", "--gateway-class", CLASS
    )
    assert result.exit_code in (0, 1), result.stderr
    assert _portable(seen_from_json(result.json)) == expected
    assert json.loads(result.stdout)["findings"] or not any(case.verdicts.values())


def _portable(findings: list[Seen]) -> list[Seen]:
    """Findings on an input file name it by path: compare the file name only."""
    out = set()
    for seen in findings:
        if seen.subject and seen.subject[0] == "File":
            seen = replace(seen, subject=("File", None, seen.subject[2].rsplit("/", 1)[-1]))
        out.add(seen)
    return sorted(out, key=repr)


GENERIC_CASES = (
    "gateway-with-listener-with-udproute-with-multiple-rules",
    "envoyextensionpolicy-failopen",
    "httproute-with-conflicting-filters",
    "listenerset-conflict-listeners",
)


@pytest.mark.parametrize("name", GENERIC_CASES)
def test_generic_verdict_only_where_nothing_specific_explains(
    testdata: Path, tmp_path: Path, name: str
) -> None:
    """EGD709 carries EG's verdict on an object no other code explains, and never beside another code."""
    case = load_case(testdata, name)
    findings = diagnose_case(case, tmp_path)
    by_subject: dict[object, set[str]] = {}
    for seen in findings:
        by_subject.setdefault(seen.subject, set()).add(seen.code)
    for subject, codes in by_subject.items():
        if "EGD709" in codes:
            assert codes - {"EGD709"} <= {c for c in codes if c.startswith("EGD0")}, (subject, codes)
    for key, problems in case.verdicts.items():
        if problems:
            assert by_subject.get(key), f"{key}: EG says {problems[0]}, egdoctor nothing"
    if name == "gateway-with-listener-with-udproute-with-multiple-rules":
        assert "EGD709" in by_subject[("UDPRoute", "default", "udproute-1")]
