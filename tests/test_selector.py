"""`-l/--selector`: the report covers the namespaces whose labels match, from a cluster or from files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import SCENARIOS, lab_for, run_cli

HEALTHY = SCENARIOS / "shared-direct-healthy.yaml"


@pytest.fixture
def dump(tmp_path: Path) -> str:
    from egdoctor_lab.scenario import load_scenario

    path = tmp_path / "dump.yaml"
    path.write_text(yaml.safe_dump_all([dict(o) for o in load_scenario(HEALTHY).objects]))
    return str(path)


@pytest.mark.parametrize(
    ("selector", "namespaces"),
    [
        ("shared-gateway-access=true", ["team-a", "team-b"]),
        ("kubernetes.io/metadata.name=team-b", ["team-b"]),
        ("shared-gateway-access,kubernetes.io/metadata.name!=team-a", ["team-b"]),
        ("!shared-gateway-access", ["envoy-gateway-system", "gateway"]),
    ],
)
def test_selector_chooses_the_namespaces_from_files(dump: str, selector: str, namespaces: list[str]) -> None:
    result = run_cli("check", "--from-file", dump, "-l", selector, "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert result.json["scope"]["namespaces"] == namespaces


def test_selector_on_a_cluster(tmp_path: Path) -> None:
    with lab_for(HEALTHY, tmp_path / "lab") as lab:
        args = ("check", "--kubeconfig", str(lab.kubeconfig_path), "--no-probe", "-o", "json")
        result = run_cli(*args, "-l", "kubernetes.io/metadata.name==team-a")
        nothing = run_cli(*args, "-l", "team=nobody")
    assert result.exit_code == 0, result.stderr
    assert result.json["scope"]["namespaces"] == ["team-a"]
    assert [g["name"] for g in result.json["gateways"]] == ["shared"]
    assert nothing.exit_code == 2 and "no namespace matches" in nothing.stderr and nothing.stdout == ""


@pytest.mark.parametrize(
    "args", [["-l", "env in (prod)"], ["-l", "a=b,"], ["-l", "!a=b"], ["-n", "team-a", "-l", "a=b"]]
)
def test_bad_selectors_are_usage_errors(dump: str, args: list[str]) -> None:
    result = run_cli("check", "--from-file", dump, *args)
    assert result.exit_code == 2 and "Traceback" not in result.stderr
