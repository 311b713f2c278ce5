"""`--min-severity`, `--suppress` and the `egdoctor.io/suppress` annotation: what is shown, what the exit
code counts, and the suppressed counts in every format."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import SCENARIOS, run_cli
from tests.report_schema import schema_problems

# two warnings (EGD307 on ClientTrafficPolicy gateway/client-ip, EGD310 on Service gateway/shared) and one
# info (EGD314 on the same Service); exit 0 by default, 1 with --fail-on warning
SCENARIO = "gatewaynamespace-v1-deprecated"


def _dump(tmp_path: Path, annotate: dict[tuple[str, str], str] | None = None) -> str:
    from egdoctor_lab.scenario import load_scenario

    objects = [json.loads(json.dumps(dict(o))) for o in load_scenario(SCENARIOS / f"{SCENARIO}.yaml").objects]
    for o in objects:
        value = (annotate or {}).get((o["kind"], o["metadata"]["name"]))
        if value is not None:
            o["metadata"].setdefault("annotations", {})["egdoctor.io/suppress"] = value
    path = tmp_path / "dump.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    return str(path)


def _check(dump: str, *args: str, fmt: str = "json") -> Any:
    result = run_cli("check", "--from-file", dump, "-A", "-o", fmt, *args)
    assert "Traceback" not in result.stderr
    if fmt == "json":
        assert not schema_problems(result.json), schema_problems(result.json)
    return result


def test_without_options_nothing_is_hidden(tmp_path: Path) -> None:
    report = _check(_dump(tmp_path)).json
    assert sorted(f["code"] for f in report["findings"]) == ["EGD307", "EGD310", "EGD314"]
    assert report["summary"]["suppressed"] == 0 and report["summary"]["belowMinSeverity"] == 0
    assert report["suppressed"] == []


def test_min_severity_filters_what_is_shown_not_the_exit_code(tmp_path: Path) -> None:
    dump = _dump(tmp_path)
    warnings = _check(dump, "--min-severity", "warning").json
    assert sorted(f["code"] for f in warnings["findings"]) == ["EGD307", "EGD310"]
    assert warnings["summary"]["belowMinSeverity"] == 1
    errors_only = _check(dump, "--min-severity", "error", "--fail-on", "warning")
    assert errors_only.json["findings"] == []
    assert errors_only.exit_code == 1, "hidden warnings still fail --fail-on warning"
    text = _check(dump, "--min-severity", "error", fmt="text")
    assert "3 below --min-severity not shown" in text.stdout


def test_suppress_flag_by_code_and_by_object(tmp_path: Path) -> None:
    dump = _dump(tmp_path)
    one = _check(dump, "--suppress", "EGD310=Service/gateway/shared", "--fail-on", "warning")
    assert sorted(f["code"] for f in one.json["findings"]) == ["EGD307", "EGD314"]
    assert one.json["suppressed"] == [
        {
            "code": "EGD310",
            "severity": "warning",
            "object": {"kind": "Service", "namespace": "gateway", "name": "shared"},
            "message": one.json["suppressed"][0]["message"],
            "suppressedBy": "flag",
            "rule": "EGD310=Service/gateway/shared",
        }
    ]
    assert one.exit_code == 1
    other_object = _check(dump, "--suppress", "EGD310=Service/team-a/shared").json
    assert other_object["summary"]["suppressed"] == 0
    both = _check(
        dump, "--suppress", "egd310", "--suppress", "EGD307=ClientTrafficPolicy/*/*", "--fail-on", "warning"
    )
    assert [f["code"] for f in both.json["findings"]] == ["EGD314"]
    assert both.json["summary"]["suppressed"] == 2
    assert both.exit_code == 0, "suppressed findings do not count toward --fail-on"


def test_suppress_annotation_on_the_object(tmp_path: Path) -> None:
    dump = _dump(
        tmp_path, {("ClientTrafficPolicy", "client-ip"): "EGD307, EGD999", ("Service", "shared"): "EGD314"}
    )
    report = _check(dump).json
    assert [f["code"] for f in report["findings"]] == ["EGD310"]
    by = {s["code"]: (s["suppressedBy"], s["rule"]) for s in report["suppressed"]}
    assert by == {
        "EGD307": ("annotation", "egdoctor.io/suppress on ClientTrafficPolicy gateway/client-ip"),
        "EGD314": ("annotation", "egdoctor.io/suppress on Service gateway/shared"),
    }


@pytest.mark.parametrize("value", ["EGD999", "EGD310=Service", "EGD310=a/b/c/d", "nonsense"])
def test_a_bad_suppress_value_is_a_usage_error(value: str, tmp_path: Path) -> None:
    result = run_cli("check", "--from-file", _dump(tmp_path), "-A", "--suppress", value)
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert "--suppress" in result.stderr and result.stdout == ""


def test_every_format_reports_the_suppressed_counts(tmp_path: Path) -> None:
    dump = _dump(tmp_path, {("Service", "shared"): "EGD314"})
    args = ("--suppress", "EGD307", "--min-severity", "warning")
    assert yaml.safe_load(_check(dump, *args, fmt="yaml").stdout)["summary"]["suppressed"] == 2
    text = _check(dump, *args, fmt="text").stdout
    assert "2 suppressed" in text
    markdown = _check(dump, *args, fmt="markdown").stdout
    assert "2 suppressed" in markdown and "## Suppressed (2)" in markdown
    junit = ET.fromstring(_check(dump, *args, fmt="junit").stdout)
    suite = junit.find("./testsuite[@name='egdoctor.suppressed']")
    assert suite is not None and suite.get("skipped") == "2"
    sarif = json.loads(_check(dump, *args, fmt="sarif").stdout)
    kinds = sorted(s["kind"] for r in sarif["runs"][0]["results"] for s in r.get("suppressions", []))
    assert kinds == ["external", "inSource"]
