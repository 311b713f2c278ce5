"""Conventions users of kubectl plugins and CI tools expect: --version, python -m, grouped help."""

from __future__ import annotations

import re
import subprocess
import sys

from egdoctor import __version__
from tests.conftest import run_cli


def test_version_flag_and_command_agree() -> None:
    flag = run_cli("--version")
    assert flag.exit_code == 0 and flag.stdout.strip() == f"egdoctor {__version__}"
    assert run_cli("version").stdout == flag.stdout


def test_python_dash_m_runs_the_same_command_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "egdoctor", "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and proc.stdout.strip() == f"egdoctor {__version__}"
    bad = subprocess.run(
        [sys.executable, "-m", "egdoctor", "check", "--no-such-flag"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_check_help_groups_options_in_panels_with_examples() -> None:
    result = run_cli("check", "--help", env={"COLUMNS": "120"})
    assert result.exit_code == 0
    panels = re.findall(r"╭─ (\w+) ─", result.stdout)
    assert panels == ["Options", "Cluster", "Diagnosis", "Probes", "Output"], panels
    # each option sits in its panel
    text = result.stdout
    order = [
        text.index(s) for s in ("╭─ Cluster", "--kubeconfig", "╭─ Diagnosis", "--expect-mode", "╭─ Probes")
    ]
    order += [text.index(s) for s in ("--probe-allow", "╭─ Output", "--suppress")]
    assert order == sorted(order)
    assert "Examples" in text and "egdoctor check -n myapp" in text
    assert "Exit codes" in text
    probe = run_cli("probe", "--help", env={"COLUMNS": "120"})
    assert "egdoctor probe -n myapp" in probe.stdout and "--no-probe" not in probe.stdout
