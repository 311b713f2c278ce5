"""`scripts/bench`'s probe section reads its figures from the report egdoctor's own model writes."""

from __future__ import annotations

import json

from egdoctor.probes.model import ProbeReport, ProbeRow
from egdoctor_lab.bench_probes import probe_figures

GATEWAY = ("gateway", "shared")


def _row(kind: str, tls: bool = False) -> ProbeRow:
    return ProbeRow(GATEWAY, "127.0.0.5", 80, "http", "GET /", "http", "200", "", kind=kind, tls=tls)


def _stdout(report: ProbeReport) -> str:
    return json.dumps({"findings": [], **report.to_json()})


def test_requests_lookups_and_phase_come_from_the_report() -> None:
    rows = (_row("dns"), _row("plain"), _row("forged-proxy"), _row("plain", tls=True), _row("cert"))
    report = ProbeReport(rows=rows, observer="access log", elapsed_s=0.4321)
    figures = probe_figures(_stdout(report))
    assert figures.requests == 3  # the plain, PROXY and TLS requests; not the lookup, not the certificate
    assert figures.lookups == 1
    assert figures.phase_s == round(0.4321, 3)
    assert figures.observer == "access log"


def test_a_run_without_probes_or_json_has_no_figures() -> None:
    assert probe_figures("egdoctor: cannot reach the cluster").phase_s is None
    skipped = probe_figures(json.dumps({"findings": [], "probes": [], "probeElapsedSeconds": None}))
    assert (skipped.phase_s, skipped.requests, skipped.lookups) == (None, 0, 0)
