"""egdoctor's own words: errors name what failed in one line, hints hold no placeholders, `explain` reads
well in a terminal, and the JSON of a run that could not start has the same shape as any other."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.report_schema import schema_problems


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("egdoctor: ") and "Traceback" not in stderr
    return lines[0]


def test_a_kubeconfig_variable_naming_no_file_is_named() -> None:
    result = run_cli("check", "-o", "json", env={"KUBECONFIG": "/nope"})
    assert result.exit_code == 3
    line = _one_line(result.stderr)
    assert "KUBECONFIG=/nope" in line and "set --kubeconfig or KUBECONFIG" not in line
    assert not schema_problems(result.json)


@pytest.mark.parametrize("args", [["check"], ["check", "--context", "elsewhere"], ["check", "-A"]])
def test_an_unusable_cluster_has_no_placeholders_and_the_report_shape(
    args: list[str], tmp_path: Path
) -> None:
    result = run_cli(*args, "-o", "json", env={"EGDOCTOR_TEST_HOME": str(tmp_path)})
    assert result.exit_code == 3
    line = _one_line(result.stderr)
    (finding,) = result.json["findings"]
    for text in (line, finding["message"], finding["hint"]):
        assert not re.search(r"(^|[ (])-([ )]|$)", text), text  # a lone "-" standing for an unknown
    assert "kubectl get ns" in finding["hint"] or "kubectl --context" in finding["hint"]
    assert not schema_problems(result.json), schema_problems(result.json)
    assert result.json["summary"]["failOn"] == "error"
    assert result.json["scope"]["allNamespaces"] is ("-A" in args)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["check", "--no-such-flag"], "--no-such-flag"),
        (["check", "--expect-mode", "sideways"], "sideways"),
        (["check", "--cert-warn-days", "-3"], "--cert-warn-days"),
        (["explain", "EGD304", "extra"], "extra"),
        (["nosuchcommand"], "nosuchcommand"),
    ],
)
def test_usage_errors_are_one_line_in_egdoctors_style(args: list[str], says: str) -> None:
    result = run_cli(*args)
    assert result.exit_code == 2
    line = _one_line(result.stderr)
    assert says in line and "--help" in line
    assert "╭" not in result.stderr and "Value error" not in line


def test_explain_without_a_code_lists_every_code() -> None:
    from egdoctor.findings.codes import REGISTRY

    result = run_cli("explain", env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.stderr
    for code, spec in REGISTRY.items():
        assert code in result.stdout and spec.title in result.stdout
    assert "egdoctor explain CODE" in result.stdout


def test_explain_renders_the_page_for_the_terminal() -> None:
    result = run_cli("explain", "egd313", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert not [line for line in lines if line.startswith("#") or "**" in line], "raw Markdown"
    assert "What it means" in result.stdout and "How to fix" in result.stdout
    assert max(len(line.rstrip()) for line in lines if "://" not in line) <= 80
    page = next(line for line in lines if line.startswith("page: "))
    assert page.endswith("EGD313.md") and Path(page.removeprefix("page: ")).is_file()


def test_an_unknown_code_points_to_the_list_not_a_repository_path() -> None:
    result = run_cli("explain", "EGD999")
    assert result.exit_code == 2
    line = _one_line(result.stderr)
    assert "egdoctor explain" in line and "docs/codes" not in line
