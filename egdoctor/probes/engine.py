"""The probe phase: from a diagnosis (objects already checked) and probe options to a `ProbeReport`.

One direction only: plan the targets (`plan`), resolve DNS (`dns_check`), set up an observer (`observe`),
send the bounded probes (`port_run`, `sender`: in parallel per address:port, each exchange bounded by the
probe timeout), collect what Envoy observed, then judge (`judge`). Nothing here renders; the report
modules read only `egdoctor.probes.model`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from egdoctor.checks.engine import Diagnosis
from egdoctor.findings.model import Finding
from egdoctor.pool import parallel_map
from egdoctor.probes.dns_check import DnsOutcome, check_names, make_resolver, resolve
from egdoctor.probes.judge import judge_gateway
from egdoctor.probes.model import GatewayClientIP, ProbeReport, ProbeRow
from egdoctor.probes.observe import choose_observer, observe
from egdoctor.probes.observers import Observer, RouteObserver, cleanup_guard
from egdoctor.probes.plan import ProbeOptions, build_targets, pick_edges
from egdoctor.probes.port_run import PortRun, run_port
from egdoctor.probes.sender import Sender

MAX_WORKERS = 8


def run_probes(
    diagnosis: Diagnosis, options: ProbeOptions, conn: Any = None, request_timeout: float = 10.0
) -> ProbeReport:
    """Run the probe phase. `conn` is the snapshot's `Connection` (None offline: observers that need the
    API are unavailable)."""
    start = time.monotonic()
    token = secrets.token_hex(5)
    notes: list[str] = []
    targets = build_targets(diagnosis, options)
    for gt in targets:
        notes.extend(f"Gateway {gt.key[0]}/{gt.key[1]}: {n}" for n in gt.notes)
    probe_targets = [gt for gt in targets if gt.ports]
    planned = [p for gt in targets for p in gt.planned]

    # DNS first: in XFF mode the names lead to the edge proxies the client path goes through.
    dns_out: dict[tuple[str, str], DnsOutcome] = {}
    edges: dict[tuple[str, str], list[tuple[str, str]]] = {}
    resolver_label = f"{options.resolver[0]}:{options.resolver[1]}" if options.resolver else ""
    try:
        resolver = make_resolver(options.resolver, options.timeout)
    except Exception as exc:  # no /etc/resolv.conf and no --resolver
        resolver = None
        notes.append(f"DNS not checked: no resolver ({type(exc).__name__}: {exc}); pass --resolver IP")
    if resolver is not None:
        # A Gateway the allow-list keeps out is not examined live at all, DNS included.
        jobs = [(gt, name, lv) for gt in targets if gt.addresses for name, lv in gt.names]
        answers = parallel_map(lambda j: resolve(j[1], resolver), jobs, MAX_WORKERS)
        for gt in targets:
            mine = [(name, lv, res) for (g, name, lv), res in zip(jobs, answers, strict=True) if g is gt]
            out = check_names(gt, mine, resolver_label)
            dns_out[gt.key] = out
            notes.extend(out.notes)
            answers_ = [(name, addr) for name, addr, _ in out.edges]
            edges[gt.key] = pick_edges(gt.key, answers_, options, planned, notes)

    observer, obs_notes = choose_observer(diagnosis, options, conn, request_timeout, probe_targets, token)
    notes.extend(obs_notes)
    sender = Sender(options, observer, token)
    runs: list[PortRun] = []
    try:
        with cleanup_guard():
            if isinstance(observer, RouteObserver):
                ok, why = observer.setup()
                if observer.version_note:
                    notes.append(observer.version_note)
                if not ok:
                    notes.append(f"--observe route: {why}; judging by connection behaviour only")
                    notes.extend(observer.close())
                    observer = Observer(token)
                    sender.observer = observer
                else:
                    sender.route_deadline = time.monotonic() + options.route_wait
            jobs2 = [
                (t, edges.get(gt.key, []) if t.client_ip.xff else [])
                for gt in probe_targets
                for t in gt.ports
            ]
            pool = ThreadPoolExecutor(MAX_WORKERS)
            try:
                futures = [pool.submit(run_port, sender, t, e, options) for t, e in jobs2]
                runs = [f.result() for f in futures]
            except BaseException:
                # Clean up first; the probes still in flight end on their own within the probe timeout.
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            pool.shutdown(wait=True)
            observe(observer, sender, runs, options)
    finally:
        notes.extend(observer.close())
    if sender.budget.exhausted:
        notes.append(f"probe budget of {options.max_probes} exhausted: some probes were not sent")

    rows: list[ProbeRow] = []
    findings: list[Finding] = []
    verdicts: list[GatewayClientIP] = []
    confirms: list[tuple[str, tuple[str, str]]] = []
    for gt in targets:
        dns_result = dns_out.get(gt.key)
        if dns_result is not None:
            rows.extend(dns_result.rows)
            findings.extend(dns_result.findings)
        gruns = [r for r in runs if r.target.key == gt.key]
        judged = judge_gateway(diagnosis, gt, gruns, observer, options)
        rows.extend(judged.rows)
        findings.extend(judged.findings)
        confirms.extend(judged.confirms)
        notes.extend(judged.notes)
        if judged.verdict is not None:
            verdicts.append(judged.verdict)
    return ProbeReport(
        rows=tuple(rows),
        gateways=tuple(verdicts),
        findings=tuple(findings),
        notes=tuple(dict.fromkeys(notes)),
        observer=observer.label,
        elapsed_s=time.monotonic() - start,
        run_id=token,
        confirms=tuple(dict.fromkeys(confirms)),
        targets=tuple(dict.fromkeys(planned)),
    )


def skipped_report(reason: str) -> ProbeReport:
    return ProbeReport(notes=(reason,), skipped=True)


def merge_findings(static: Sequence[Finding], probe: ProbeReport) -> tuple[Finding, ...]:
    """Static findings plus probe findings; a static finding that traffic confirmed gives way to the
    probe's version of it (same code, same Gateway), which carries the evidence."""
    confirmed = set(probe.confirms)
    kept = [f for f in static if not (f.gateway is not None and (f.code, f.gateway.key) in confirmed)]
    merged = kept + list(probe.findings)
    merged.sort(key=lambda f: (-f.severity.rank, f.code, str(f.subject or ""), f.message))
    return tuple(merged)
