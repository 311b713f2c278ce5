"""Judging one Gateway from its port runs: the discriminator, X-Forwarded-For and certificate rows per
port, then the client-IP verdict.
"""

from __future__ import annotations

from collections.abc import Sequence

from egdoctor.checks.engine import Diagnosis
from egdoctor.probes.discriminator import in_ranges, judge_pair, kind_of
from egdoctor.probes.judge_client_ip import client_ip_verdict
from egdoctor.probes.judge_discriminator import discriminator_rows
from egdoctor.probes.judge_tls import tls_rows
from egdoctor.probes.judge_xff import xff_rows
from egdoctor.probes.judged import GatewayFindings, Judged
from egdoctor.probes.observers import Observer
from egdoctor.probes.plan import GatewayTargets, ProbeOptions
from egdoctor.probes.port_run import PortRun
from egdoctor.probes.sender import Sent


def judge_gateway(
    diagnosis: Diagnosis,
    gt: GatewayTargets,
    runs: Sequence[PortRun],
    observer: Observer,
    options: ProbeOptions,
) -> Judged:
    j = Judged()
    if not runs:
        return j
    gf = GatewayFindings(gt, diagnosis.snapshot)
    static = {f.code for f in diagnosis.findings if f.gateway is not None and f.gateway.key == gt.key}
    svc = gt.view.envoy_service
    ranges = (
        tuple(str(r) for r in (svc.spec.get("loadBalancerSourceRanges") or ())) if svc is not None else ()
    )
    timeout = options.timeout
    ordinary: list[tuple[Sent, str]] = []  # (probe whose observation is what a real client gets, how)
    proved: list[str] = []
    wrong_hops = False

    for run in runs:
        t = run.target
        where = f"{t.address}:{t.port}"
        lname = t.listener.name
        cip = t.client_ip
        https = t.protocol == "HTTPS"
        plain, forged = run.plain, run.forged
        if plain is None or plain.result is None:
            j.notes.append(f"{where}: not probed ({run.skipped or 'probe budget exhausted'})")
            continue
        pr = plain.result
        excluded = in_ranges(plain.local, ranges) is False
        fk = kind_of(forged.result, https) if forged is not None and forged.result is not None else None
        state = judge_pair(
            kind_of(pr, https), fk, excluded, https, cip.lb_sends_proxy, cip.proxy_protocol != "off"
        )
        discriminator_rows(j, gf, run, state, ranges, timeout, where, lname, proved, static)
        if state.state in ("accepts", "forgeable") and not cip.xff:
            ordinary.append((plain, f"to {where}"))
        if cip.xff:
            wrong_hops |= xff_rows(j, gf, run, state, timeout, where, lname, options, ordinary, proved)
        if https:
            tls_rows(j, gf, run, state, diagnosis, timeout, where, options)
        if run.skipped:
            j.notes.append(f"Gateway {t.key[0]}/{t.key[1]}: {run.skipped}")

    client_ip_verdict(j, gf, gt, runs, ordinary, observer, options, proved, wrong_hops)
    j.findings.extend(gf.findings())
    return j
