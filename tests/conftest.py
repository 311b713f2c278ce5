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
    full_env.update(env or {})
    proc = subprocess.run(
        [*egdoctor_command(), *args], capture_output=True, text=True, env=full_env, timeout=timeout, check=False
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@contextmanager
def lab_for(scenario: str | Path, state_dir: Path) -> Iterator[Any]:
    from egdoctor_lab.apiserver import LabApiServer

    path = Path(scenario)
    if not path.exists():
        path = SCENARIOS / f"{scenario}.yaml"
    with LabApiServer.from_scenario(path, state_dir=state_dir) as lab:
        yield lab


@pytest.fixture
def lab(tmp_path: Path):
    """Factory: `with lab("shared-direct-healthy") as server:` starts the lab API for one scenario."""

    def start(scenario: str | Path) -> Any:
        return lab_for(scenario, tmp_path / "lab")

    return start
