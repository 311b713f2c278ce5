"""A cap on what one list may bring in: a cluster with runaway objects (or a tenant creating them) must
not exhaust the engineer's memory, and hitting the cap must be a clear finding, not a silent cut."""

from __future__ import annotations

from pathlib import Path

import pytest

from egdoctor.checks.engine import run_checks
from egdoctor.checks.registry import Options
from egdoctor.snapshot import cluster
from tests.conftest import SCENARIOS, lab_for


def test_a_list_over_the_object_cap_becomes_egd005(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster, "MAX_OBJECTS_PER_LIST", 2)
    with lab_for(SCENARIOS / "shared-direct-healthy.yaml", tmp_path / "lab") as lab:
        conn = cluster.connect(str(lab.kubeconfig_path), None, 10.0)
        snapshot = cluster.ClusterReader(conn, 10.0).read(["Namespace", "Gateway", "HTTPRoute"], None)
    capped = [p for p in snapshot.problems if p.input == "Namespace"]
    assert capped and "read cap of 2 objects" in capped[0].message
    assert snapshot.of("Namespace") == ()  # a cut list is not passed off as the whole
    findings = run_checks(snapshot, Options()).findings
    assert any(f.code == "EGD005" and "read cap" in f.message for f in findings)
