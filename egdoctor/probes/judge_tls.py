"""Rows and findings of the served certificates: one TLS handshake per name, judged against the
listener's Secret.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from egdoctor.checks.engine import Diagnosis
from egdoctor.probes.discriminator import PortState, describe
from egdoctor.probes.judged import GatewayFindings, Judged
from egdoctor.probes.plan import ProbeOptions, TlsHost
from egdoctor.probes.port_run import PortRun
from egdoctor.probes.served_cert import judge, secret_certs, verify_code_from
from egdoctor.probes.transport import ExchangeResult
from egdoctor.probes.wording import row


def tls_rows(
    j: Judged,
    gf: GatewayFindings,
    run: PortRun,
    state: PortState,
    diagnosis: Diagnosis,
    timeout: float,
    where: str,
    options: ProbeOptions,
) -> None:
    trust = f"--ca-file {options.ca_file}" if options.ca_file else "the system trust store"
    if not run.tls:
        if state.state in ("pp-unexpected", "silent", "unreachable"):
            j.notes.append(f"served certificates on {where} not checked: no TLS handshake completes")
        return
    any_ok = any(
        s.result is not None and s.result.tls is not None and s.result.tls.peer_cert_der for s in run.tls
    )

    def served_verdict(r: ExchangeResult, th: Any) -> Any:
        """What the served certificate proves, judged once per exchange against the Secret's."""
        served = r.tls.peer_cert_der if r.tls is not None else None
        verify_error = r.tls.verify_error if r.tls is not None else None
        return judge(
            served,
            verify_error,
            verify_code_from(verify_error),
            th.hostname,
            secret_certs(diagnosis.snapshot, th.listener),
            trust,
        )

    for s in run.tls:
        if s.result is None or s.tls_host is None:
            continue
        r, th = s.result, s.tls_host
        verdict = served_verdict(r, th)
        if s is run.plain:
            continue  # its row is the discriminator's; add the certificate verdict as its own line below
        if not verdict.served:
            j.rows.append(
                row(
                    s,
                    describe(r, timeout),
                    "no certificate presented for this name",
                    "bad" if any_ok else "info",
                    listener=th.listener.name,
                )
            )
            if any_ok:
                gf.add(
                    "EGD407",
                    th.listener.name,
                    f"{where} SNI {th.hostname}",
                    {"hostname": th.hostname},
                    message=(
                        f"Envoy presents no certificate for SNI {th.hostname} on {where} (TLS handshake "
                        f"failed: {describe(r, timeout)}) while other names on the port work"
                    ),
                    fix=f"check that listener {th.listener.name} is Programmed and its hostname covers "
                    f"{th.hostname}",
                )
            continue
        j.rows.append(
            row(
                s,
                describe(r, timeout),
                verdict.detail,
                "ok" if verdict.ok else "bad",
                listener=th.listener.name,
            )
        )
        if not verdict.ok:
            _add_407(gf, th, where, verdict.problem)
    first = run.tls[0] if run.tls and run.tls[0] is run.plain else None
    if first is not None and first.result is not None and first.tls_host is not None:
        r, th = first.result, first.tls_host
        verdict = served_verdict(r, th)
        if not verdict.served:
            if state.state != "refused-by-ranges":
                j.notes.append(f"served certificates on {where} not checked: no TLS handshake completes")
        else:
            j.rows.append(
                replace(
                    row(
                        first,
                        "trusted and as its Secret holds" if verdict.ok else verdict.problem,
                        verdict.detail,
                        "ok" if verdict.ok else "bad",
                        listener=th.listener.name,
                    ),
                    kind="cert",
                    outcome="certificate",
                    status=None,
                    sent=f"served certificate for SNI {th.hostname}",
                )
            )
            if not verdict.ok:
                _add_407(gf, th, where, verdict.problem)


def _add_407(gf: GatewayFindings, th: TlsHost, where: str, problem: str) -> None:
    gf.add(
        "EGD407",
        th.listener.name,
        f"{where} SNI {th.hostname}",
        {"hostname": th.hostname, "problem": problem},
        message=f"the certificate Envoy serves for {th.hostname} on {where} {problem}",
        fix="check the listener's certificateRefs Secret and its cert-manager Certificate "
        "(EGD401-EGD403); Envoy serves what the Secret held when Envoy Gateway last read it",
    )
