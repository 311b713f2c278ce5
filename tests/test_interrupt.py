"""Ctrl-C ends egdoctor within half a second wherever it lands: one line, exit 130, never a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from egdoctor_lab.datapath import missing_binaries
from tests.conftest import SCENARIOS, egdoctor_command, lab_for, probe_args

BLACKHOLE = SCENARIOS / "probe-lb-blackhole.yaml"
BOUND = 0.5

pytestmark = pytest.mark.skipif(bool(missing_binaries()), reason="the lab data path needs HAProxy and Envoy")


def _interrupt_after(cmd: list[str], delay: float) -> tuple[int, str, float]:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "NO_COLOR")}
    env.update(HOME="/nonexistent-home", EGDOCTOR_PROBE_ALLOW="127.0.0.0/8")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        time.sleep(delay)
        assert proc.poll() is None, proc.communicate()
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        return proc.returncode, stderr, time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# 0.3 s: the cluster is being read or the checks run; 1.5 s: a probe waits on the black-holed LB
@pytest.mark.parametrize("delay", [0.3, 1.5])
def test_ctrl_c_ends_at_once_with_one_line(tmp_path: Path, delay: float) -> None:
    with lab_for(BLACKHOLE, tmp_path) as lab:
        cmd = [
            *egdoctor_command(),
            "check",
            "--kubeconfig",
            str(lab.kubeconfig_path),
            *probe_args(lab),
            "-n",
            "team-a",
            "--probe-timeout",
            "8s",
        ]
        code, stderr, took = _interrupt_after(cmd, delay)
    assert code == 130, stderr
    assert stderr.splitlines() == ["egdoctor: interrupted"], stderr
    assert took < BOUND, f"took {took:.2f}s to stop"
