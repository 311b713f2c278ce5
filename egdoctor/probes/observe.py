"""Which observer shows what Envoy decided for each probe, and collecting what it observed."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from egdoctor.checks.engine import Diagnosis
from egdoctor.model.eg_version import eg_version
from egdoctor.probes.observers import EchoObserver, LogObserver, Observer, RouteObserver
from egdoctor.probes.plan import GatewayTargets, PortTarget, ProbeOptions
from egdoctor.probes.port_run import PortRun, all_sent, host_is_name
from egdoctor.probes.sender import Sender


def choose_observer(
    diagnosis: Diagnosis,
    options: ProbeOptions,
    conn: Any,
    request_timeout: float,
    targets: Sequence[GatewayTargets],
    token: str,
) -> tuple[Observer, list[str]]:
    notes: list[str] = []
    mode = options.observe
    if mode == "none" or not targets:
        return Observer(token), notes
    if mode == "echo":
        return EchoObserver(token, options.echo_path or "/"), notes
    if conn is None:
        if mode in ("route", "logs"):
            notes.append(
                f"--observe {mode} needs a cluster connection (not available with --from-file): "
                "judging by connection behaviour only"
            )
        return Observer(token), notes
    from egdoctor.probes.kube import Kube

    kube = Kube(conn, min(request_timeout, 10.0))
    if mode == "route":
        namespace = options.namespace or conn.namespace
        hosts = {_route_host(h) for gt in targets for t in gt.ports for h in _hosts_of(t)}
        names = [] if None in hosts else sorted(h for h in hosts if h)
        return (
            RouteObserver(
                token,
                kube=kube,
                namespace=namespace,
                gateways=[gt.view for gt in targets],
                hostnames=names,
                wait=options.route_wait,
                eg_version=eg_version(diagnosis.snapshot),
            ),
            notes,
        )
    logs = LogObserver(token, kube=kube)
    ok, why = logs.find_pods(gt.view for gt in targets)
    if ok:
        return logs, notes
    if mode == "logs":
        notes.append(f"--observe logs: {why}; judging by connection behaviour only")
    else:
        notes.append(f"access log not readable ({why}): judging by connection behaviour only")
    return Observer(token), notes


def _hosts_of(target: PortTarget) -> list[str]:
    return [target.host] + [th.hostname for th in target.tls_hosts]


def _route_host(host: str) -> str | None:
    return host if host_is_name(host) else None


def observe(observer: Observer, sender: Sender, runs: Sequence[PortRun], options: ProbeOptions) -> None:
    items = [s for r in runs for s in all_sent(r) if s.probe is not None]
    if observer.immediate:
        for s in items:
            assert s.probe is not None and s.probe.result is not None
            s.observation = observer.from_response(s.probe, s.probe.result)
        return
    if isinstance(observer, LogObserver):
        from egdoctor.progress import current

        # Envoy flushes its access log every 10 s by default: the longest quiet stretch of a run
        with current().phase(
            f"waiting for Envoy's access log (flushed every 10 s; up to {observer.flush_wait:.0f}s)"
        ):
            found = observer.collect(
                [s.probe for s in items if s.probe is not None], time.monotonic() + observer.flush_wait
            )
        for s in items:
            assert s.probe is not None
            s.observation = found.get(s.probe.id)
