"""An API server in trouble, through the installed CLI: what egdoctor retries, what it re-reads, and that a
read the API cut short never passes as green. The lab's request log shows what really went over the wire."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import SCENARIOS, lab_for, run_cli

_OBJECTS = SCENARIOS / "route-backend-not-found.yaml"


def _scenario(tmp_path: Path, spec: dict[str, Any]) -> Path:
    """route-backend-not-found's objects under a LabScenario with `spec` (faults, pageCap)."""
    documents = [d for d in yaml.safe_load_all(_OBJECTS.read_text()) if d and d.get("kind") != "LabScenario"]
    settings = {
        "apiVersion": "lab.egdoctor.io/v1",
        "kind": "LabScenario",
        "metadata": {"name": "api-fault"},
        "spec": {"context": {"namespace": "team-a"}, **spec},
    }
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump_all([settings, *documents]))
    return path


def _requests(lab: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(lab.requests_log_path).read_text().splitlines() if line]


def test_throttling_and_an_expired_continue_token_are_retried_and_relisted(tmp_path: Path) -> None:
    with lab_for(SCENARIOS / "api-throttled-continue-expired.yaml", tmp_path / "lab") as lab:
        result = run_cli("check", "--kubeconfig", str(lab.kubeconfig_path), "-A", "--no-probe", "-o", "json")
        log = _requests(lab)
    assert result.exit_code == 1, result.stderr
    assert "EGD204" in result.codes and "EGD005" not in result.codes
    assert sum(1 for r in log if r["status"] == 429) == 3
    routes = [r for r in log if r.get("resource") == "httproutes"]
    expired = next(i for i, r in enumerate(routes) if r["status"] == 410)
    assert "continue=" in routes[expired]["query"]
    assert "continue=" not in routes[expired + 1]["query"], "the list did not start again after the 410"
    # every route of the fresh list was read: three pages of one route each
    assert [r["status"] for r in routes[expired + 1 :]] == [200, 200, 200]


def test_503_with_retry_after_is_retried_and_the_run_is_complete(tmp_path: Path) -> None:
    fault = {"verb": "list", "resource": "gateways", "code": 503, "retryAfter": 0, "times": 2}
    with lab_for(_scenario(tmp_path, {"faults": [fault]}), tmp_path / "lab") as lab:
        result = run_cli(
            "check", "--kubeconfig", str(lab.kubeconfig_path), "-n", "team-a", "--no-probe", "-o", "json"
        )
        log = _requests(lab)
    assert result.exit_code == 1, result.stderr
    assert "EGD005" not in result.codes
    gateway_lists = [r["status"] for r in log if r.get("resource") == "gateways"]
    assert gateway_lists[:3] == [503, 503, 200]


def test_a_503_without_retry_after_is_not_retried(tmp_path: Path) -> None:
    fault = {"verb": "list", "resource": "gateways", "code": 503, "times": 1}
    with lab_for(_scenario(tmp_path, {"faults": [fault]}), tmp_path / "lab") as lab:
        result = run_cli(
            "check", "--kubeconfig", str(lab.kubeconfig_path), "-n", "team-a", "--no-probe", "-o", "json"
        )
        log = _requests(lab)
    failed = next(r for r in log if r.get("resource") == "gateways")
    assert failed["status"] == 503
    assert [r["status"] for r in log if r["path"] == failed["path"]] == [503], (
        "a 503 without Retry-After was retried"
    )
    assert result.exit_code == 3
    assert "the run is incomplete" in result.stderr


def test_a_throttle_longer_than_the_request_timeout_is_not_waited_out(tmp_path: Path) -> None:
    fault = {"verb": "list", "resource": "httproutes", "code": 429, "retryAfter": 30}
    with lab_for(_scenario(tmp_path, {"faults": [fault]}), tmp_path / "lab") as lab:
        started = time.monotonic()
        result = run_cli(
            "check", "--kubeconfig", str(lab.kubeconfig_path), "-n", "team-a", "--no-probe",
            "--request-timeout", "2s", "-o", "json",
        )  # fmt: skip
        elapsed = time.monotonic() - started
    assert elapsed < 15, f"took {elapsed:.1f}s"
    assert result.exit_code == 3, result.stderr
    messages = [f["message"] for f in result.json["findings"] if f["code"] == "EGD005"]
    assert any("HTTP 429 Too Many Requests" in m for m in messages), messages
    # the broken routes were never read: nothing may look like a pass, and nothing claims they are fine
    assert "EGD204" not in result.codes
    assert result.json["summary"]["exitCode"] == 3


def test_broken_discovery_is_egd001_in_one_line(tmp_path: Path) -> None:
    fault = {"verb": "get", "resource": "discovery", "body": "invalid-json"}
    with lab_for(_scenario(tmp_path, {"faults": [fault]}), tmp_path / "lab") as lab:
        kubeconfig = str(lab.kubeconfig_path)
        as_json = run_cli("check", "--kubeconfig", kubeconfig, "-n", "team-a", "--no-probe", "-o", "json")
        as_text = run_cli("check", "--kubeconfig", kubeconfig, "-n", "team-a", "--no-probe")
    assert as_json.exit_code == 3 and as_json.codes == ["EGD001"]
    want = "discovery failed: GET /api/v1: HTTP 200 with a body that is not valid JSON"
    assert want in as_json.json["findings"][0]["message"]
    assert as_text.exit_code == 3
    assert want in as_text.stderr and "Traceback" not in as_text.stderr
    assert len(as_text.stderr.strip().splitlines()) == 1, as_text.stderr


def test_a_truncated_discovery_answer_is_named_not_urllib3s_words(tmp_path: Path) -> None:
    fault = {"verb": "get", "resource": "discovery", "body": "truncated"}
    with lab_for(_scenario(tmp_path, {"faults": [fault]}), tmp_path / "lab") as lab:
        result = run_cli("check", "--kubeconfig", str(lab.kubeconfig_path), "-n", "team-a", "--no-probe")
    assert result.exit_code == 3
    assert "the answer was cut off: the connection closed after" in result.stderr, result.stderr
    assert "IncompleteRead" not in result.stderr and "Traceback" not in result.stderr
