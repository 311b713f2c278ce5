"""How probe results appear in the JSON report (the text report's are in terminal_probes.py)."""

from __future__ import annotations

from typing import Any

from egdoctor.model.topology import GatewayView
from egdoctor.probes.model import ProbeReport


def probe_json(probes: ProbeReport | None) -> dict[str, Any]:
    if probes is None:
        return {"probes": [], "probeNotes": ["probes not run (--no-probe)"]}
    return probes.to_json()


def gateway_probe_json(probes: ProbeReport | None, gv: GatewayView) -> dict[str, Any]:
    verdict = probes.gateway(gv.key) if probes is not None else None
    if verdict is None:
        return {"observedClientIP": None}
    return {"observedClientIP": verdict.observed, "clientIPVerified": verdict.verified}
