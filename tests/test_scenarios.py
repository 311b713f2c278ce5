"""Every checked-in scenario's `expect` entries, run through the installed CLI against the lab API server.

A scenario declares what `egdoctor check` must report for it; this runner holds it to that, so adding a
scenario file adds its tests.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import SCENARIOS, has_datapath, lab_for, probe_args, run_cli
from tests.report_schema import mark_problems as json_mark_problems
from tests.report_schema import schema_problems
from tests.report_text import mark_problems, marked, verdict_problems, width_problems, wording_problems

# The width the text report is held to (the "no line longer than the terminal at COLUMNS=100").
TEXT_WIDTH = 100
# Default bound of a whole probe phase (--probe-timeout 3s); a scenario may set `probeWithin`.
PROBE_PHASE_BOUND = 8.0
EG_PROBE_PHASE_BOUND = 16.0
_PLACEHOLDER = re.compile(r"\{([a-z0-9-]+)/([a-z0-9-]+)\.(lb|member|edge1|edge2)\}")


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


def _fill(text: str, lab: Any) -> str:
    """Lab addresses are claimed per run: `{ns/gw.member}`, `.lb`, `.edge1`, `.edge2` and `{this}` (this
    machine's address toward the lab) stand for them in expectations."""

    def address(match: re.Match[str]) -> str:
        addrs = lab.gateway_addresses(match.group(1), match.group(2))
        edges = (*addrs.edges, "", "")
        named = {"lb": addrs.lb, "member": addrs.member_source, "edge1": edges[0], "edge2": edges[1]}
        return named[match.group(3)]

    text = _PLACEHOLDER.sub(address, text)
    if "{this}" in text:
        lb = next(iter(lab.info()["gateways"].values()))["lb"]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect((lb, 9))  # selects the route only; nothing is sent
            text = text.replace("{this}", sock.getsockname()[0])
    return text


def _egdoctor_objects(lab: Any) -> list[str]:
    return [
        f"{o.get('kind')} {o['metadata'].get('namespace')}/{o['metadata'].get('name')}"
        for o in lab.store.objects()
        if (o.get("metadata", {}).get("labels") or {}).get("app.kubernetes.io/managed-by") == "egdoctor"
    ]


@pytest.mark.parametrize(("scenario", "expect"), EXPECTATIONS)
def test_scenario_expectation(scenario: Path, expect: dict[str, Any], tmp_path: Path) -> None:
    check_expectation(scenario, expect, tmp_path)


def check_expectation(
    scenario: Path,
    expect: dict[str, Any],
    tmp_path: Path,
    eg: str | None = None,
    bound: float | None = None,
    text: bool = True,
) -> None:
    """Run one expectation against the lab (with ``eg``: on that Envoy Gateway release's translation); with
    ``text`` the same run again as text, checked for the terminal's rules."""
    datapath = has_datapath(scenario)
    with lab_for(scenario, tmp_path, eg=eg) as lab:
        # Scenarios without a data path carry documentation addresses: never probe those.
        extra = probe_args(lab) if datapath else ["--no-probe"]
        args = ["check", "--kubeconfig", str(lab.kubeconfig_path), *extra, *expect.get("args", [])]
        result = run_cli(*args, "-o", "json")
        text_run = run_cli(*args, env={"COLUMNS": str(TEXT_WIDTH)}) if text else None
        if getattr(lab, "eg", None) is not None and bound is None:
            # Envoy Gateway leaves Envoy's access-log flush at its default, 10 s: the observer waits for it.
            bound = EG_PROBE_PHASE_BOUND
        if datapath:
            assert _egdoctor_objects(lab) == [], "egdoctor left objects in the cluster"
            expect = yaml.safe_load(_fill(yaml.safe_dump(expect), lab))
    report = result.json
    problems = schema_problems(report)
    assert not problems, "the report breaks docs/report.schema.json:\n" + "\n".join(problems)
    if not any(m in scenario.read_text() for m in ("✓", "✗")):
        # no mark in the scenario's objects: any mark in the JSON's words would be egdoctor's own
        problems = json_mark_problems(report)
        assert not problems, "the JSON's words hold the terminal's marks:\n" + "\n".join(problems)
    if datapath and "--no-probe" not in expect.get("args", []):
        bound = bound or float(expect.get("probeWithin", PROBE_PHASE_BOUND))
        assert report["probeElapsedSeconds"] <= bound, f"probe phase took {report['probeElapsedSeconds']}s"
    codes = {f["code"] for f in report["findings"]}
    detail = "\n".join(
        f"{f['code']} {f['severity']} {f['object']} {f['message']}" for f in report["findings"]
    )
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
            and want.get("hint_contains", "") in f["hint"]
        ]
        assert matches, f"no finding matches {want}; got:\n{detail}"
    assert report["summary"]["total"] == len(report["findings"])
    for key, want in (expect.get("summary") or {}).items():
        assert report["summary"][key] == want, f"summary {key}: {report['summary']}\n{detail}"
    if text_run is not None:
        _check_text(text_run.stdout.splitlines(), report, result.exit_code, expect)


def _check_text(lines: list[str], report: dict[str, Any], exit_code: int, expect: dict[str, Any]) -> None:
    """The same run as text: verdict first, fitted to the width, marks that agree with what is under them
    and no wording slips; where the scenario says, the mark of a named object and words present or not."""
    problems = verdict_problems(lines, report, exit_code) + width_problems(lines, TEXT_WIDTH)
    problems += mark_problems(lines) + wording_problems(lines)
    marks = expect.get("marks") or {}
    text = "\n".join(lines)
    problems += [f"the text lacks {w!r}" for w in expect.get("text_contains", []) if w not in text]
    problems += [f"the text has {w!r}" for w in expect.get("text_absent", []) if w in text]
    problems += [
        f"{prefix!r} is marked {marked(lines, prefix)}, expected {want}"
        for prefix, want in marks.items()
        if marked(lines, prefix) != want
    ]
    assert not problems, "\n".join(problems) + "\n\n" + "\n".join(lines)
