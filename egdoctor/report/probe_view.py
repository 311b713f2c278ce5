"""How probe results appear in the JSON report (the text report's are in terminal_probes.py)."""

from __future__ import annotations

from typing import Any

from egdoctor.model.topology import GatewayView
from egdoctor.probes.model import ProbeReport


def probe_json(probes: ProbeReport | None, why: str = "probes not run (--no-probe)") -> dict[str, Any]:
    """The same keys whether probes ran or not (--no-probe: no rows, one note, no observer)."""
    if probes is None:
        probes = ProbeReport(notes=(why,), skipped=True)
    out = probes.to_json()
    if probes.skipped:
        out.update(probeObserver=None, probeElapsedSeconds=None, probeRunId=None)
    return out


def gateway_probe_json(probes: ProbeReport | None, gv: GatewayView) -> dict[str, Any]:
    verdict = probes.gateway(gv.key) if probes is not None else None
    if verdict is None:
        return {"observedClientIP": None, "clientIPVerified": None}
    return {"observedClientIP": verdict.observed, "clientIPVerified": verdict.verified}
