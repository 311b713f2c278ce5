"""Every checked-in scenario's `expect` entries, run through the installed CLI against the lab API server.

A scenario declares what `egdoctor check` must report for it; this runner holds it to that, so adding a
scenario file adds its tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import SCENARIOS, lab_for, run_cli


def _expectations() -> list[Any]:
    params = []
    # files starting with "_" are the lab's own fixtures, not diagnosis scenarios
    for path in sorted(p for p in SCENARIOS.glob("*.yaml") if not p.name.startswith("_")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "LabScenario":
                for i, exp in enumerate((doc.get("spec") or {}).get("expect") or []):
                    params.append(pytest.param(path, exp, id=f"{path.stem}[{i}]"))
    return params


EXPECTATIONS = _expectations()


def test_enough_scenarios_are_checked_in() -> None:
    assert len({p.values[0] for p in EXPECTATIONS}) >= 25


@pytest.mark.parametrize(("scenario", "expect"), EXPECTATIONS)
def test_scenario_expectation(scenario: Path, expect: dict[str, Any], tmp_path: Path) -> None:
    with lab_for(scenario, tmp_path) as lab:
        result = run_cli("check", "--kubeconfig", str(lab.kubeconfig_path), "-o", "json", *expect.get("args", []))
    report = result.json
    codes = {f["code"] for f in report["findings"]}
    detail = "\n".join(f"{f['code']} {f['severity']} {f['object']} {f['message']}" for f in report["findings"])
    if "exit" in expect:
        assert result.exit_code == expect["exit"], f"exit {result.exit_code}\n{detail}\n{result.stderr}"
    for code in expect.get("codes", []):
        assert code in codes, f"{code} not reported; got:\n{detail}"
    for code in expect.get("absent", []):
        assert code not in codes, f"{code} reported but must not be:\n{detail}"
    if expect.get("clean"):
        noisy = [f for f in report["findings"] if f["severity"] in ("error", "warning")]
        assert not noisy, f"expected no errors or warnings:\n{detail}"
    for want in expect.get("findings", []):
        matches = [
            f
            for f in report["findings"]
            if f["code"] == want["code"]
            and all((f["object"] or {}).get(k) == v for k, v in (want.get("object") or {}).items())
            and want.get("message_contains", "") in f["message"]
        ]
        assert matches, f"no finding matches {want}; got:\n{detail}"
    assert report["summary"]["total"] == len(report["findings"])
