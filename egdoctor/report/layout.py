"""Where everything goes in the text report, decided once: each finding under the object it belongs to
(its consequences under it), each route once per Gateway, each probe row under the listener it probed,
and every object's mark derived from what is attached to it (marks.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from egdoctor.findings.model import Finding, ObjectRef, Severity
from egdoctor.model.topology import GatewayView, ListenerView
from egdoctor.probes.model import GatewayClientIP, ProbeRow
from egdoctor.report.marks import Mark, finding_listeners, finding_mark, row_listeners, row_mark, worst
from egdoctor.report.tls_view import TlsRow, listener_rows
from egdoctor.report.view import Report
from egdoctor.snapshot.kinds import ROUTE_KINDS

# Shown as the client-IP line of its Gateway already: printing it again would say the same thing twice.
CLIENT_IP_LINE_CODES = frozenset({"EGD607"})


@dataclass
class Placed:
    finding: Finding
    consequences: list[Finding] = field(default_factory=list)

    @property
    def mark(self) -> Mark:
        return worst([finding_mark(self.finding), *(finding_mark(c) for c in self.consequences)])


@dataclass
class ListenerBlock:
    view: ListenerView
    tls: list[tuple[TlsRow, Mark]] = field(default_factory=list)
    rows: list[ProbeRow] = field(default_factory=list)
    findings: list[Placed] = field(default_factory=list)
    # findings that concern this listener too but are shown under another one: (finding, that listener)
    elsewhere: list[tuple[Finding, str]] = field(default_factory=list)

    @property
    def mark(self) -> Mark:
        return worst(
            [m for _, m in self.tls]
            + [row_mark(r) for r in self.rows]
            + [p.mark for p in self.findings]
            + [finding_mark(f) for f, _ in self.elsewhere]
        )


@dataclass
class RouteBlock:
    ref: ObjectRef
    status: object
    listeners: list[str] = field(default_factory=list)
    findings: list[Placed] = field(default_factory=list)

    @property
    def mark(self) -> Mark:
        return worst(p.mark for p in self.findings)


@dataclass
class GatewayBlock:
    view: GatewayView
    findings: list[Placed] = field(default_factory=list)
    dns: list[ProbeRow] = field(default_factory=list)
    rows: list[ProbeRow] = field(default_factory=list)  # probe rows no shown listener claims
    client_ip: GatewayClientIP | None = None
    listeners: list[ListenerBlock] = field(default_factory=list)
    routes: list[RouteBlock] = field(default_factory=list)

    @property
    def client_ip_mark(self) -> Mark:
        if self.client_ip is None:
            return "ok"
        verified = self.client_ip.verified
        return "ok" if verified is True else "bad" if verified is False else "warn"

    @property
    def mark(self) -> Mark:
        return worst(
            [p.mark for p in self.findings]
            + [row_mark(r) for r in self.dns + self.rows]
            + [self.client_ip_mark]
            + [b.mark for b in self.listeners]
            + [b.mark for b in self.routes]
        )


@dataclass
class Layout:
    gateways: list[GatewayBlock]
    other: list[Placed]


class _Placer:
    def __init__(self, report: Report) -> None:
        self.findings = report.findings
        roots = report.root_causes
        self.consequences: dict[int, list[Finding]] = {}
        for effect, cause in sorted(roots.items()):
            self.consequences.setdefault(cause, []).append(self.findings[effect])
        self.free = [i for i in range(len(self.findings)) if i not in roots]
        self.taken: set[int] = set()

    def take(self, pred: object) -> list[Placed]:
        out = []
        for i in self.free:
            if i not in self.taken and pred(self.findings[i]):  # type: ignore[operator]
                self.taken.add(i)
                out.append(Placed(self.findings[i], self.consequences.get(i, [])))
        return out


def _is_route(f: Finding) -> bool:
    return f.subject is not None and f.subject.kind in ROUTE_KINDS


def build_layout(report: Report) -> Layout:
    placer = _Placer(report)
    blocks = [_gateway_block(report, placer, gv) for gv in report.gateways()]
    # a route finding about another Gateway of the same route still belongs to the route
    for block in blocks:
        for rb in block.routes:
            rb.findings += placer.take(lambda f, ref=rb.ref: f.subject == ref)
    return Layout(blocks, placer.take(lambda f: True))


def _gateway_block(report: Report, placer: _Placer, gv: GatewayView) -> GatewayBlock:
    key = gv.key
    probes = report.probes if report.probes is not None and not report.probes.skipped else None
    shown = report.listeners(gv)
    block = GatewayBlock(gv, client_ip=probes.gateway(key) if probes is not None else None)
    block.findings = placer.take(
        lambda f: (
            f.gateway is not None and f.gateway.key == key and f.gateway.listener is None and not _is_route(f)
        )
    )
    if block.client_ip is not None and block.client_ip.observed is not None:
        placer.take(
            lambda f: f.code in CLIENT_IP_LINE_CODES and f.gateway is not None and f.gateway.key == key
        )
    by_name = {lv.name: ListenerBlock(lv) for lv in shown}

    def home(f: Finding) -> str | None:
        """The shown listener a finding is printed under: the first it concerns."""
        return (
            None if _is_route(f) else next((n for n in finding_listeners(f, gv, shown) if n in by_name), None)
        )

    for lv in shown:
        lb = by_name[lv.name]
        lb.findings = placer.take(lambda f, name=lv.name: home(f) == name)
        for placed in lb.findings:
            for other in finding_listeners(placed.finding, gv, shown)[1:]:
                if other in by_name and other != lv.name:
                    by_name[other].elsewhere.append((placed.finding, lv.name))
        tls_bad = any(
            p.finding.code.startswith("EGD40") and p.finding.severity is not Severity.INFO
            for p in lb.findings
        )
        # a TLS row never contradicts the TLS findings printed beside it
        lb.tls = [(row, "ok" if row.ok() and not tls_bad else "bad") for row in listener_rows(report, gv, lv)]
    for row in probes.rows_for(key) if probes is not None else []:
        owner = next((n for n in row_listeners(row, shown) if n in by_name), None)
        if row.kind == "dns":
            block.dns.append(row)
        elif owner is not None:
            by_name[owner].rows.append(row)
        else:
            block.rows.append(row)
    block.listeners = [by_name[lv.name] for lv in shown]
    block.routes = _route_blocks(report, shown)
    for rb in block.routes:
        rb.findings = placer.take(
            lambda f, ref=rb.ref: f.subject == ref and (f.gateway is None or f.gateway.key == key)
        )
    return block


def _route_blocks(report: Report, shown: list[ListenerView]) -> list[RouteBlock]:
    """Each route in scope once, with every shown listener it attaches to."""
    snap = report.diagnosis.snapshot
    routes: dict[ObjectRef, RouteBlock] = {}
    for lv in shown:
        for att in lv.attachments:
            route = att.route
            if not snap.in_scope(route.namespace):
                continue
            rb = routes.setdefault(route.ref, RouteBlock(route.ref, att.status))
            if lv.name not in rb.listeners:
                rb.listeners.append(lv.name)
    return list(routes.values())
