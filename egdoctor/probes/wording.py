"""Wording shared by the judges: one row of the probe table, the client-IP mode, and what a finding
adds when traffic contradicts the objects.
"""

from __future__ import annotations

from egdoctor.model.topology import ClientIP
from egdoctor.probes.model import ProbeRow
from egdoctor.probes.sender import Sent


def mode_text(cip: ClientIP) -> str:
    if cip.mode == "direct":
        return f"direct mode (PROXY {cip.lb_proxy})" if cip.lb_proxy in ("v1", "v2") else "direct mode"
    if cip.mode == "xff":
        hops = cip.xff_hops
        return f"XFF mode ({hops} trusted hop{'s' if hops != 1 else ''})" if hops is not None else "XFF mode"
    if cip.mode == "none":
        return "no client-IP handling"
    return f"mixed client-IP settings ({cip.describe()})"


def row(
    s: Sent,
    received: str,
    proves: str,
    verdict: str,
    observed: str | None = None,
    listener: str | None = None,
) -> ProbeRow:
    r = s.result
    return ProbeRow(
        gateway=s.target.key,
        address=s.address,
        port=s.target.port,
        listener=listener or s.target.listener.name,
        sent=s.sent,
        outcome=r.outcome if r is not None else "skipped",
        received=received,
        proves=proves,
        status=r.status if r is not None else None,
        observed_client_ip=observed,
        elapsed_s=r.elapsed_s if r is not None else None,
        verdict=verdict,  # type: ignore[arg-type]
        kind=s.kind,
        tls=s.target.protocol == "HTTPS",
    )


def confirm_note(code: str, static: set[str]) -> str:
    if code in static:
        return f" (confirms {code})"
    # The objects look right but the load balancer behaves otherwise: Octavia applies the pool protocol
    # when it creates the pool, so an annotation added later may never have reached it.
    return (
        " (the objects look consistent: the load balancer does not do what its Service annotation says; "
        "recreate the load balancer or check the Octavia pool protocol)"
    )
