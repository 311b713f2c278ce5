"""Shared test helpers: run the installed egdoctor CLI as a user would, against the lab."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "egdoctor_lab" / "scenarios"


def egdoctor_command() -> list[str]:
    """The installed console script next to this interpreter (what `pip install` put on PATH)."""
    candidate = Path(sys.executable).parent / "egdoctor"
    if candidate.exists():
        return [str(candidate)]
    found = shutil.which("egdoctor")
    if not found:
        pytest.fail("the egdoctor console script is not installed (pip install -e .)")
    return [found]


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict[str, Any]:
        try:
            return json.loads(self.stdout)
        except ValueError:
            pytest.fail(f"stdout is not JSON (exit {self.exit_code}):\n{self.stdout}\nstderr:\n{self.stderr}")

    @property
    def codes(self) -> list[str]:
        return [f["code"] for f in self.json["findings"]]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> CliResult:
    full_env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "NO_COLOR")}
    full_env["HOME"] = full_env.get("EGDOCTOR_TEST_HOME", "/nonexistent-home")
    # Probes may only ever reach the lab's loopback addresses, never a scenario's documentation addresses.
    full_env["EGDOCTOR_PROBE_ALLOW"] = "127.0.0.0/8"
    full_env.update(env or {})
    proc = subprocess.run(
        [*egdoctor_command(), *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def has_datapath(scenario: str | Path) -> bool:
    from egdoctor_lab.scenario import load_scenario
    from egdoctor_lab.translate import has_datapath as settings_have_datapath

    return settings_have_datapath(load_scenario(_scenario_path(scenario)).settings)


def _scenario_path(scenario: str | Path) -> Path:
    path = Path(scenario)
    return path if path.exists() else SCENARIOS / f"{scenario}.yaml"


@contextmanager
def lab_for(scenario: str | Path, state_dir: Path, eg: str | None = None) -> Iterator[Any]:
    """The API stand-in, plus the real data path (LabCluster) when the scenario has `spec.datapath`;
    with ``eg`` (a pinned Envoy Gateway release) EG's translator writes the statuses and Envoy's
    configuration."""
    from egdoctor_lab.apiserver import LabApiServer

    path = _scenario_path(scenario)
    if has_datapath(path) or eg is not None:
        from egdoctor_lab.cluster import LabCluster

        with LabCluster.from_scenario(path, state_dir, eg=eg) as cluster:
            yield cluster
        return
    with LabApiServer.from_scenario(path, state_dir=state_dir) as lab:
        yield lab


def probe_args(lab: Any) -> list[str]:
    """What a user of the lab passes: its DNS server and the CA of its listener certificates."""
    args: list[str] = []
    dns = getattr(lab, "dns_address", None)
    if dns is not None:
        args += ["--resolver", f"{dns[0]}:{dns[1]}"]
    ca = getattr(lab, "lab_ca_path", None)
    if ca is not None:
        args += ["--ca-file", str(ca)]
    return args


@pytest.fixture
def lab(tmp_path: Path):
    """Factory: `with lab("shared-direct-healthy") as server:` starts the lab API for one scenario."""

    def start(scenario: str | Path) -> Any:
        return lab_for(scenario, tmp_path / "lab")

    return start
