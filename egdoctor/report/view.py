"""What every renderer shows, computed once from a diagnosis: the report's own data model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from egdoctor.checks.engine import Diagnosis
from egdoctor.findings.model import Finding, Severity
from egdoctor.findings.suppress import Suppressed
from egdoctor.model.topology import GatewayView, ListenerView
from egdoctor.probes.model import ProbeReport
from egdoctor.report.causes import root_causes
from egdoctor.what_if import WhatIf


@dataclass(frozen=True)
class Report:
    diagnosis: Diagnosis
    findings: tuple[Finding, ...]
    fail_on: Severity | None
    extra: Mapping[str, Any] = field(default_factory=dict)  # later phases (probes) add their sections
    probes: ProbeReport | None = None
    checks_run: tuple[str, ...] = ()  # the ids of the object checks that were asked to run
    # --suppress and the egdoctor.io/suppress annotation: not shown, not counted toward the exit code
    suppressed: tuple[Suppressed, ...] = ()
    # below --min-severity: not shown, but still counted toward the exit code (that is --fail-on's job)
    hidden: tuple[Finding, ...] = ()
    allow_incomplete: bool = False  # --allow-incomplete: judge a partial read on what it found
    what_if: WhatIf | None = None  # --with-file: what laying the manifests over the cluster would change

    @cached_property
    def root_causes(self) -> Mapping[int, int]:
        """Index of each finding that is a consequence of another -> index of its root cause."""
        return root_causes(self.findings)

    @property
    def causes(self) -> list[Finding]:
        """The findings that are no consequence of another, most severe first: what to fix."""
        return [f for i, f in enumerate(self.findings) if i not in self.root_causes]

    @property
    def counts(self) -> dict[str, int]:
        """Per severity, each problem once: a consequence counts with its cause."""
        out = {s.value: 0 for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)}
        for f in self.causes:
            out[f.severity.value] += 1
        return out

    @property
    def exit_code(self) -> int:
        if self.diagnosis.could_not_run:
            return 3
        if self.incomplete:
            return 3
        if self.fail_on is None:
            return 0
        threshold = self.fail_on.rank
        return 1 if any(f.severity.rank >= threshold for f in (*self.findings, *self.hidden)) else 0

    @property
    def incomplete(self) -> str | None:
        """Why this run must not pass: API errors left checks unrun and the user did not accept that."""
        return None if self.allow_incomplete else self.diagnosis.incomplete

    def gateways(self) -> list[GatewayView]:
        topo = self.diagnosis.topology
        return [topo.gateways[k] for k in self.diagnosis.relevant_gateways if k in topo.gateways]

    def listeners(self, gv: GatewayView) -> list[ListenerView]:
        snap = self.diagnosis.snapshot
        if snap.namespaces is None or gv.key[0] in snap.namespaces:
            return list(gv.listeners)
        return [
            lv for lv in gv.listeners if any(a.route.namespace in snap.namespaces for a in lv.attachments)
        ]


def mode_label(gv: GatewayView) -> str:
    mode = gv.mode
    if mode == "direct":
        versions = {lv.client_ip.lb_proxy for lv in gv.listeners}
        return (
            "direct (PROXY " + "/".join(sorted(v for v in versions if v in ("v1", "v2"))) + ")"
            if versions
            & {
                "v1",
                "v2",
            }
            else "direct"
        )
    if mode == "xff":
        hops = sorted({lv.client_ip.xff_hops for lv in gv.listeners if lv.client_ip.xff_hops is not None})
        return (
            f"xff ({', '.join(str(h) for h in hops)} trusted hop{'s' if hops != [1] else ''})"
            if hops
            else "xff"
        )
    return mode
