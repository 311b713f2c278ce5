"""What the probe phase hands to the report: the rows of what was sent and what came back, the client IP
Envoy observed per Gateway, and the findings. Renderers import only this module of the probe package."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from egdoctor.findings.model import Finding

Verdict = Literal["ok", "bad", "info"]


@dataclass(frozen=True)
class ProbeRow:
    """One probe: what was sent to where, what came back, and what that proves."""

    gateway: tuple[str, str]
    address: str
    port: int | None
    listener: str | None
    sent: str
    outcome: str  # transport outcome (http, empty, reset, timeout, refused, tls_error, ...) or dns/skipped
    received: str  # the same in words: "200", "400 Bad Request", "empty reply", "NXDOMAIN"
    proves: str
    status: int | None = None
    observed_client_ip: str | None = None
    elapsed_s: float | None = None
    verdict: Verdict = "info"
    kind: str = ""  # which probe: plain, forged-proxy, xff-forged-lb, edge, edge-forged, tls, cert, dns
    tls: bool = False  # the exchange ran over TLS (an HTTPS listener)

    @property
    def type(self) -> str:
        """What was exchanged: dns (a lookup), cert (a served certificate judged), tls (a request over
        TLS) or http (a plain-text request)."""
        if self.kind == "dns":
            return "dns"
        if self.kind in ("tls", "cert"):
            return "cert"
        return "tls" if self.tls else "http"

    def to_json(self) -> dict[str, Any]:
        common: dict[str, Any] = {
            "kind": self.type,
            "gateway": f"{self.gateway[0]}/{self.gateway[1]}",
            "listener": self.listener,
            "sent": self.sent,
            "received": self.received,
            "proves": self.proves,
            "verdict": self.verdict,
            "elapsedSeconds": None if self.elapsed_s is None else round(self.elapsed_s, 3),
        }
        if self.type == "dns":
            return common
        common.update(address=self.address, port=self.port)
        if self.type == "cert":
            return common
        return {
            **common,
            "probe": self.kind,
            "outcome": self.outcome,
            "status": self.status,
            "observedClientIP": self.observed_client_ip,
        }


@dataclass(frozen=True)
class ProbeTarget:
    """An address the probe plan considered for a Gateway, and why it was refused (None: probed)."""

    gateway: tuple[str, str]
    address: str
    ports: tuple[int, ...]
    source: str  # "status.addresses", "--address", "DNS answer for NAME (edge proxy)"
    refused: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "gateway": f"{self.gateway[0]}/{self.gateway[1]}",
            "address": self.address,
            "ports": list(self.ports),
            "source": self.source,
            "probed": self.refused is None,
            "refused": self.refused,
        }


@dataclass(frozen=True)
class GatewayClientIP:
    """The client-IP verdict for one Gateway: what Envoy decided for an ordinary request from here."""

    gateway: tuple[str, str]
    mode: str
    observed: str | None  # the client IP Envoy observed for an ordinary request, if an observer saw it
    this_machine: str | None  # the local address of the probe socket
    expected: str | None  # --expect-client-ip, else this machine
    verified: bool | None  # True ✓, False ✗, None: not observable
    observer: str  # "access log", "route", "echo /path", "none"
    summary: str

    def to_json(self) -> dict[str, Any]:
        return {
            "gateway": f"{self.gateway[0]}/{self.gateway[1]}",
            "mode": self.mode,
            "observedClientIP": self.observed,
            "thisMachine": self.this_machine,
            "expectedClientIP": self.expected,
            "verified": self.verified,
            "observer": self.observer,
            "summary": self.summary,
        }


@dataclass(frozen=True)
class ProbeReport:
    rows: tuple[ProbeRow, ...] = ()
    gateways: tuple[GatewayClientIP, ...] = ()
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()  # skipped probes, observer fallbacks: never silent
    observer: str = "none"
    elapsed_s: float = 0.0
    run_id: str = ""
    skipped: bool = False  # the whole phase did not run (e.g. --from-file without --address)
    targets: tuple[ProbeTarget, ...] = ()  # the plan, shown before the results
    # Static findings a probe finding replaces because traffic confirmed them: (code, gateway key).
    confirms: tuple[tuple[str, tuple[str, str]], ...] = field(default=())

    def rows_for(self, key: tuple[str, str]) -> list[ProbeRow]:
        return [r for r in self.rows if r.gateway == key]

    def gateway(self, key: tuple[str, str]) -> GatewayClientIP | None:
        return next((g for g in self.gateways if g.gateway == key), None)

    def targets_for(self, key: tuple[str, str]) -> list[ProbeTarget]:
        return [t for t in self.targets if t.gateway == key]

    def to_json(self) -> dict[str, Any]:
        return {
            "probeTargets": [t.to_json() for t in self.targets],
            "probes": [r.to_json() for r in self.rows],
            "probeGateways": [g.to_json() for g in self.gateways],
            "probeNotes": list(self.notes),
            "probeObserver": self.observer,
            "probeElapsedSeconds": round(self.elapsed_s, 3),
            "probeRunId": self.run_id,
        }
