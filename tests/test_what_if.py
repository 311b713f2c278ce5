"""What-if (`--with-file`): manifests laid over the live snapshot of the healthy shared layout
(egdoctor_lab/scenarios/shared-direct-healthy.yaml) before they are applied, and what would change.

The manifests are in tests/what_if/. A changed object has no status yet: Envoy Gateway writes a route's
status.parents only once it has translated it (internal/gatewayapi/route.go in envoyproxy/gateway), so
egdoctor judges the spec alone, and its "never reconciled" finding (EGD206) on such an object is
expected, not news."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from egdoctor.cli import Output
from tests.conftest import lab_for, run_cli
from tests.report_schema import schema_problems

MANIFESTS = Path(__file__).parent / "what_if"


def _what_if(tmp_path: Path, *manifests: str, fmt: str = "json") -> Any:
    with lab_for("shared-direct-healthy", tmp_path / "lab") as lab:
        files = [a for m in manifests for a in ("--with-file", str(MANIFESTS / m))]
        args = ["--kubeconfig", str(lab.kubeconfig_path), "-n", "team-a", "--no-probe", *files]
        return run_cli("check", *args, "-o", fmt)


def _codes(findings: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (f["code"], f"{f['object']['kind']}/{f['object']['namespace']}/{f['object']['name']}")
        for f in findings
    ]


def test_a_route_edited_to_a_listener_that_does_not_exist_would_detach(tmp_path: Path) -> None:
    result = _what_if(tmp_path, "route-wrong-listener.yaml")
    assert result.exit_code == 1
    report = result.json
    assert schema_problems(report) == []
    what = report["whatIf"]
    assert what["objects"] == [
        {"kind": "HTTPRoute", "namespace": "team-a", "name": "web", "change": "replaced"}
    ]
    assert _codes(what["appear"]) == [("EGD201", "HTTPRoute/team-a/web")]
    assert "listener https" in what["appear"][0]["message"]
    assert what["goAway"] == []
    # the route has no status until it is applied: that is listed apart, not reported as a problem
    assert _codes(what["notReconciledYet"]) == [("EGD206", "HTTPRoute/team-a/web")]
    assert "EGD206" not in result.codes and "EGD201" in result.codes


def test_a_namespace_without_the_opt_in_label_would_detach_its_routes(tmp_path: Path) -> None:
    result = _what_if(tmp_path, "namespace-without-opt-in.yaml")
    assert result.exit_code == 1
    what = result.json["whatIf"]
    assert [c["change"] for c in what["objects"]] == ["replaced"]
    assert ("EGD203", "HTTPRoute/team-a/web") in _codes(what["appear"])


def test_an_unchanged_route_changes_nothing_and_passes(tmp_path: Path) -> None:
    # no namespace in the manifest: placed in -n's namespace, as `kubectl apply -n team-a` would
    result = _what_if(tmp_path, "route-fixed.yaml")
    assert result.exit_code == 0, result.stdout
    what = result.json["whatIf"]
    assert what["objects"][0]["namespace"] == "team-a"
    assert what["appear"] == [] and what["goAway"] == []


def test_findings_that_would_go_away(tmp_path: Path) -> None:
    # a dump of the broken route as the cluster has it, and the fix laid over it, offline
    broken = tmp_path / "cluster.yaml"
    healthy = (
        Path(__file__).parent.parent / "egdoctor_lab/scenarios/route-section-name-wrong.yaml"
    ).read_text()
    broken.write_text(healthy)
    result = run_cli("check", "--from-file", str(broken), "-n", "team-a", "--with-file",
                     str(MANIFESTS / "route-fixed.yaml"), "-o", "json")  # fmt: skip
    what = result.json["whatIf"]
    assert ("EGD202", "HTTPRoute/team-a/web") in _codes(what["goAway"])
    assert not [f for f in what["appear"] if f["object"]["name"] == "web"]


@pytest.mark.parametrize("fmt", [o.value for o in Output])
def test_every_format_says_what_would_appear(fmt: str, tmp_path: Path) -> None:
    result = _what_if(tmp_path, "route-wrong-listener.yaml", fmt=fmt)
    assert result.exit_code == 1, result.stderr
    mark = {"junit": "would appear: EGD201", "json": '"whatIf"', "yaml": "whatIf:", "sarif": '"whatIf"'}
    assert mark.get(fmt, "would appear") in result.stdout
    assert "EGD201" in result.stdout


def test_a_with_file_without_objects_is_a_usage_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n")
    dump = Path(__file__).parent.parent / "egdoctor_lab/scenarios/shared-direct-healthy.yaml"
    result = run_cli("check", "--from-file", str(dump), "--with-file", str(empty))
    assert result.exit_code == 2 and "--with-file" in result.stderr and "Traceback" not in result.stderr
