"""Every scenario's hand-written statuses are the ones Envoy Gateway computes, on every pinned release, or
the scenario says why not (spec.egStatus). This is what lets the stand-in lab's verdicts stand for EG's."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_drift_is_zero_on_every_pinned_release() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "egdoctor_lab", "drift"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    totals = [line for line in proc.stdout.splitlines() if line.startswith("drift (")]
    assert totals and all(" 0 unexplained differences" in line for line in totals), (
        proc.stdout[-4000:] + proc.stderr
    )
    assert proc.returncode == 0
