"""`check --wait`: the object checks again, backing off, until nothing at or above --fail-on remains or
time is up, on a lab scenario whose shared Gateway becomes Programmed six seconds after the lab starts
(egdoctor_lab/scenarios/gateway-programmed-later.yaml: its spec.changes play the load balancer and Envoy
Gateway writing Programmed=True, internal/gatewayapi/status/gateway.go in envoyproxy/gateway)."""

from __future__ import annotations

import os
import pty
import subprocess
import time
from pathlib import Path

from tests.conftest import egdoctor_command, lab_for, run_cli

SCENARIO = "gateway-programmed-later"


def test_wait_turns_green_when_the_gateway_becomes_programmed(tmp_path: Path) -> None:
    with lab_for(SCENARIO, tmp_path / "lab") as lab:
        kubeconfig = str(lab.kubeconfig_path)
        before = run_cli("check", "--kubeconfig", kubeconfig, "-n", "team-a", "--no-probe", "-o", "json")
        assert before.exit_code == 1 and "EGD103" in before.codes  # the rollout has not finished yet
        started = time.monotonic()
        result = run_cli(
            "check", "--kubeconfig", kubeconfig, "-n", "team-a", "--no-probe", "--wait", "60s", "-o", "json"
        )
        took = time.monotonic() - started
    assert result.exit_code == 0, result.stderr
    assert result.json["findings"] == [] or all(f["severity"] == "info" for f in result.json["findings"])
    assert result.json["gateways"][0]["programmed"] is True
    rounds = [line for line in result.stderr.splitlines() if line.startswith("egdoctor: --wait:")]
    assert any("EGD103" in line and "checking again" in line for line in rounds), result.stderr
    assert "nothing at or above --fail-on remains" in rounds[-1]
    # gently: a handful of rounds over the seconds the rollout took, not a busy loop
    assert 2 <= len(rounds) <= 8, rounds
    assert took < 30


def test_wait_fails_with_the_remaining_findings_when_time_runs_out(tmp_path: Path) -> None:
    with lab_for(SCENARIO, tmp_path / "lab") as lab:
        started = time.monotonic()
        result = run_cli(
            "check", "--kubeconfig", str(lab.kubeconfig_path), "-n", "team-a", "--no-probe", "--wait", "2s",
            "-o", "json",
        )  # fmt: skip
        took = time.monotonic() - started
    assert result.exit_code == 1
    assert "EGD103" in result.codes
    assert "time is up" in result.stderr.splitlines()[-1] and "EGD103" in result.stderr.splitlines()[-1]
    assert 2 <= took < 6


def test_no_spinner_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    with lab_for(SCENARIO, tmp_path / "lab") as lab:
        result = run_cli("check", "--kubeconfig", str(lab.kubeconfig_path), "-n", "team-a", "--no-probe",
                         "--wait", "1500ms")  # fmt: skip
    assert "\x1b" not in result.stderr and "⠋" not in result.stderr
    assert all(line.startswith("egdoctor: ") for line in result.stderr.splitlines())


def test_a_spinner_names_the_phase_on_a_terminal(tmp_path: Path) -> None:
    with lab_for(SCENARIO, tmp_path / "lab") as lab:
        leader, follower = pty.openpty()
        env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "NO_COLOR")}
        env.update(HOME="/nonexistent-home", TERM="xterm", COLUMNS="120")
        args = [
            "check",
            "--kubeconfig",
            str(lab.kubeconfig_path),
            "-n",
            "team-a",
            "--no-probe",
            "--wait",
            "3s",
        ]
        proc = subprocess.run(
            [*egdoctor_command(), *args, "-o", "json"],
            stdout=subprocess.PIPE,
            stderr=follower,
            env=env,
            timeout=60,
            check=False,
        )
        os.close(follower)
        seen = b""
        try:
            while chunk := os.read(leader, 65536):
                seen += chunk
        except OSError:  # the terminal is closed once its last writer is gone
            pass
        os.close(leader)
    terminal = seen.decode(errors="replace")
    assert proc.returncode == 1
    assert "waiting for the cluster" in terminal
    assert any(frame in terminal for frame in "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")
    assert b"\x1b" not in proc.stdout  # the report on stdout stays pure


def test_wait_is_refused_offline(tmp_path: Path) -> None:
    dump = tmp_path / "dump.yaml"
    dump.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
    result = run_cli("check", "--from-file", str(dump), "--wait", "10s")
    assert result.exit_code == 2 and "--wait needs a cluster" in result.stderr


def test_a_scenario_change_must_say_when_and_what() -> None:
    import pytest

    from egdoctor_lab.scenario import LabSettings, ScenarioError

    with pytest.raises(ScenarioError, match="afterSeconds"):
        LabSettings.from_mapping({"changes": [{"object": {"kind": "Gateway"}}]})
    with pytest.raises(ScenarioError, match="object"):
        LabSettings.from_mapping({"changes": [{"afterSeconds": 1}]})
    settings = LabSettings.from_mapping({"changes": [{"afterSeconds": 2, "object": {"kind": "Gateway"}}]})
    assert settings.changes[0].after_seconds == 2.0
