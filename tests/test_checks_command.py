"""`egdoctor checks`: every check with its inputs and codes, every code with its severity and one line."""

from __future__ import annotations

import json

from egdoctor.checks.registry import all_checks
from egdoctor.findings.codes import REGISTRY
from tests.conftest import run_cli


def test_checks_lists_every_check_and_every_code() -> None:
    result = run_cli("checks", "-o", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    listed = {c["id"]: c for c in data["checks"]}
    for spec in all_checks().values():
        assert listed[spec.id]["inputs"] == list(spec.inputs)
        assert listed[spec.id]["codes"] == list(spec.codes)
    assert [c["code"] for c in data["codes"]] == sorted(REGISTRY)
    for row in data["codes"]:
        assert row["severity"] == REGISTRY[row["code"]].severity.value and row["title"]
    # every code is reported by some check, the access layer or the probes
    reported = [code for c in data["checks"] for code in c["codes"]]
    assert set(reported) == set(REGISTRY)


def test_checks_text_names_every_check_and_code() -> None:
    result = run_cli("checks", env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for spec in all_checks().values():
        assert spec.id in result.stdout
    for code, spec in REGISTRY.items():
        assert any(code in line and spec.severity.value in line for line in result.stdout.splitlines()), code
