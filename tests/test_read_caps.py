"""A cap on what one list may bring in: a cluster with runaway objects (or a tenant creating them) must
not exhaust the engineer's memory, and hitting the cap must be a clear finding, not a silent cut."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from egdoctor.checks.engine import run_checks
from egdoctor.checks.registry import Options
from egdoctor.snapshot import cluster
from tests.conftest import SCENARIOS, lab_for, run_cli


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


def _bench_lab(size: Any, state: Path) -> Any:
    from egdoctor_lab.apiserver import LabApiServer
    from egdoctor_lab.bench_cluster import namespace_name, objects

    return LabApiServer(objects(size), {"context": {"namespace": namespace_name(0)}}, str(state))


def test_a_list_over_the_byte_cap_is_cut_off_while_it_streams_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One answer larger than the byte cap is not read to its end (a single page used to be read whole
    whatever its size): the list becomes EGD005 and nothing of it is passed off as the whole."""
    from egdoctor_lab.bench_cluster import Size

    monkeypatch.setattr(cluster, "MAX_BYTES_PER_LIST", 20_000)
    with _bench_lab(Size(4, 200, 1), tmp_path) as lab:
        conn = cluster.connect(str(lab.kubeconfig_path), None, 10.0)
        snapshot = cluster.ClusterReader(conn, 10.0).read(["Namespace", "Gateway", "HTTPRoute"], None)
    capped = [p for p in snapshot.problems if p.input == "HTTPRoute"]
    assert capped and "read cap" in capped[0].message, snapshot.problems
    assert snapshot.of("HTTPRoute") == ()
    assert snapshot.of("Namespace") and snapshot.of("Gateway")  # small lists are unaffected


def _requests(lab: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(lab.requests_log_path).read_text().splitlines() if line]


@pytest.mark.parametrize("scope", [["-A"], ["-n", "app-0000"]])
def test_the_request_count_does_not_grow_with_the_cluster(tmp_path: Path, scope: list[str]) -> None:
    """Ten times the objects (600 routes, Services and EndpointSlices in one list, more than kubectl's
    pages of 500) cost the same requests: every list that fits the read cap is one request."""
    from egdoctor_lab.bench_cluster import Size

    counts = []
    for size in (Size(6, 60, 2), Size(60, 600, 20)):
        with _bench_lab(size, tmp_path / str(size.routes)) as lab:
            result = run_cli(
                "check", "--kubeconfig", str(lab.kubeconfig_path), "--no-probe", "-o", "json", *scope
            )
            log = _requests(lab)
        assert result.exit_code == 0, result.stderr
        assert all("continue=" not in r["query"] for r in log), "a list was paged"
        counts.append(len(log))
    assert counts[0] == counts[1], counts
