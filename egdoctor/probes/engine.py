"""The probe phase: from a diagnosis (objects already checked) and probe options to a `ProbeReport`.

One direction only: plan the targets, resolve DNS, set up an observer, send the bounded probes (in
parallel per address:port, each exchange bounded by the probe timeout), collect what Envoy observed,
then judge. Nothing here renders; the report modules read only `egdoctor.probes.model`.
"""

from __future__ import annotations

import ipaddress
import itertools
import secrets
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from egdoctor.checks.engine import Diagnosis
from egdoctor.checks.fix_hints import lb_status_command, source_ranges_fix
from egdoctor.findings.codes import make_finding
from egdoctor.findings.model import Finding, GatewayRef, ObjectRef
from egdoctor.model.topology import ClientIP
from egdoctor.pool import parallel_map
from egdoctor.probes import proxy_protocol as pp
from egdoctor.probes.discriminator import PortState, describe, in_ranges, judge_pair, kind_of, marker_for
from egdoctor.probes.dns_check import DnsOutcome, check_names, make_resolver, resolve
from egdoctor.probes.model import GatewayClientIP, ProbeReport, ProbeRow
from egdoctor.probes.observers import (
    EchoObserver,
    LogObserver,
    Observation,
    Observer,
    RouteObserver,
    SentProbe,
    cleanup_guard,
)
from egdoctor.probes.plan import (
    GatewayTargets,
    PortTarget,
    ProbeOptions,
    TlsHost,
    allowed,
    build_targets,
    forged_chain,
    join_words,
    ordinal,
    pick_edges,
)
from egdoctor.probes.served_cert import judge, secret_certs, verify_code_from
from egdoctor.probes.transport import ExchangeResult, TlsOptions, exchange
from egdoctor.probes.xff import EdgeReading, appends, chain_length, position_in, read_edge
from egdoctor.snapshot.model import Snapshot

USER_AGENT = "egdoctor-probe"
MAX_WORKERS = 8
ROUTE_RETRY_STEP = 0.2


# -- sending --------------------------------------------------------------------------------------------


@dataclass
class _Budget:
    limit: int
    used: int = 0
    exhausted: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> bool:
        with self.lock:
            if self.used >= self.limit:
                self.exhausted = True
                return False
            self.used += 1
            return True


@dataclass
class Sent:
    """One probe that went out (or was skipped), with its observation once known."""

    kind: str
    target: PortTarget
    address: str
    sent: str
    probe: SentProbe | None
    tls: bool = False
    marker: str | None = None
    chain: tuple[str, ...] = ()
    edge: str | None = None
    host: str | None = None
    tls_host: TlsHost | None = None
    observation: Observation | None = None

    @property
    def result(self) -> ExchangeResult | None:
        return self.probe.result if self.probe is not None else None

    @property
    def local(self) -> str | None:
        r = self.result
        if r is not None and r.local_address:
            return r.local_address[0]
        return source_address_for(self.address) if r is not None else None


def source_address_for(address: str) -> str | None:
    """The local address the kernel picks toward `address`, for probes reset before connect() returned.
    Connecting a UDP socket only selects the route; no packet leaves."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((address, 9))
            return str(sock.getsockname()[0])
    except OSError:
        return None


class _Sender:
    def __init__(self, options: ProbeOptions, observer: Observer, token: str) -> None:
        self.options = options
        self.observer = observer
        self.token = token
        self.budget = _Budget(options.max_probes)
        self.counter = itertools.count(1)
        self.lock = threading.Lock()
        self.probes: list[SentProbe] = []
        self.route_deadline = 0.0  # until then a 404 on the probe path means "route not served yet"

    def send(
        self,
        kind: str,
        target: PortTarget,
        address: str,
        sent: str,
        *,
        host: str,
        tls: TlsOptions | None = None,
        prefix: bytes = b"",
        headers: Sequence[tuple[str, str]] = (),
        marker: str | None = None,
        chain: Sequence[str] = (),
        edge: str | None = None,
        tls_host: TlsHost | None = None,
    ) -> Sent:
        item = Sent(
            kind, target, address, sent, None, tls is not None, marker, tuple(chain), edge, host, tls_host
        )
        if not allowed(address, self.options):
            return item
        if not self.budget.take():
            return item
        with self.lock:
            n = next(self.counter)
        pid = str(n)
        path = self.observer.path_for(pid)
        ua = f"{USER_AGENT}/{self.token}-{pid}"
        default_port = 443 if tls is not None else 80
        host_header = host if target.port == default_port else f"{host}:{target.port}"
        result = self._exchange(address, target.port, path, host_header, headers, prefix, tls, ua)
        # Accepted status can precede Envoy serving the route (EG writes the status and pushes xDS
        # independently): until then the unique path answers 404, or another route of the same host
        # (an application's catch-all PathPrefix /) answers it.
        for _ in range(1000):
            if not (time.monotonic() < self.route_deadline and self._not_served_yet(result)):
                break
            time.sleep(ROUTE_RETRY_STEP)
            result = self._exchange(address, target.port, path, host_header, headers, prefix, tls, ua)
        if self.route_deadline and self.observer.is_ours(result):
            # One xDS push programs every listener: from now on a 404 means "not attached here".
            self.route_deadline = 0.0
        probe = SentProbe(
            pid,
            path,
            ua,
            target.key,
            target.client_ip,
            result,
            expects_log=result.outcome == "http" and not (result.status == 400 and tls is None),
        )
        item.probe = probe
        with self.lock:
            self.probes.append(probe)
        return item

    def _not_served_yet(self, result: ExchangeResult) -> bool:
        if result.outcome != "http" or result.status is None:
            return False
        return result.status == 404 or (result.status < 400 and not self.observer.is_ours(result))

    def _exchange(
        self,
        address: str,
        port: int,
        path: str,
        host_header: str,
        headers: Sequence[tuple[str, str]],
        prefix: bytes,
        tls: TlsOptions | None,
        ua: str,
    ) -> ExchangeResult:
        try:
            return exchange(
                address,
                port,
                path=path,
                host_header=host_header,
                headers=headers,
                prefix=prefix,
                tls=tls,
                timeout=self.options.timeout,
                user_agent=ua,
            )
        except OSError as exc:
            # ssl.wrap_socket reads a byte to check the socket first and lets a reset escape from there.
            return ExchangeResult(
                outcome="reset",
                phase="tls" if tls is not None else "receive",
                target=(address, port),
                local_address=None,
                user_agent=ua,
                error=f"{type(exc).__name__}: {exc}",
            )


# -- the run ----------------------------------------------------------------------------------------------


@dataclass
class _PortRun:
    target: PortTarget
    plain: Sent | None = None
    forged: Sent | None = None
    xff_lb: Sent | None = None
    edges: list[tuple[Sent, Sent]] = field(default_factory=list)
    tls: list[Sent] = field(default_factory=list)
    tls_prefix: str = ""  # why the certificate checks sent a PROXY header of their own
    skipped: str = ""


def _host_is_name(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


def _tls_options(host: str, options: ProbeOptions, verify: bool) -> TlsOptions:
    server_name = host if _host_is_name(host) else None
    return TlsOptions(
        server_name=server_name, ca_file=options.ca_file, verify=verify, capture_cert_on_failure=verify
    )


def _run_port(
    sender: _Sender, target: PortTarget, edges: Sequence[tuple[str, str]], options: ProbeOptions
) -> _PortRun:
    run = _PortRun(target)
    https = target.protocol == "HTTPS"
    host = target.host
    address = target.address
    first_tls = target.tls_hosts[0] if https and target.tls_hosts else None
    if https:
        tls_name = first_tls.hostname if first_tls else host
        run.plain = sender.send(
            "plain",
            target,
            address,
            f"TLS (SNI {tls_name}) + GET",
            host=tls_name,
            tls=_tls_options(tls_name, options, verify=True),
            tls_host=first_tls,
        )
    else:
        run.plain = sender.send("plain", target, address, f"plain GET Host {host}", host=host)
    plain_result = run.plain.result
    if plain_result is None:
        run.skipped = "probe budget exhausted"
        return run
    plain_kind = kind_of(plain_result, https)
    if plain_kind == "unreachable":
        # Nothing answered within the bound: more probes would only multiply the wait.
        run.skipped = (
            f"{address}:{target.port}: {describe(plain_result, options.timeout)}; other probes to it skipped"
        )
        return run

    # One fixed marker per port, so that a report (and a test) can name the address it forged.
    marker = marker_for(address, target.port)
    src_port = 40000 + target.port % 20000
    header = pp.encode_v2(marker, address, src_port, target.port)
    if https:
        tls_name = first_tls.hostname if first_tls else host
        run.forged = sender.send(
            "forged-proxy",
            target,
            address,
            f"forged PROXY v2 (src {marker}) + TLS (SNI {tls_name}) + GET",
            host=tls_name,
            tls=_tls_options(tls_name, options, verify=False),
            prefix=header,
            marker=marker,
        )
    else:
        run.forged = sender.send(
            "forged-proxy",
            target,
            address,
            f"forged PROXY v2 (src {marker}) + GET",
            host=host,
            prefix=header,
            marker=marker,
        )

    cip = target.client_ip
    if cip.xff:
        chain = forged_chain(chain_length(cip))
        xff_header = [("X-Forwarded-For", ", ".join(chain))]
        tls_opts = _tls_options(host, options, verify=False) if https else None
        run.xff_lb = sender.send(
            "xff-forged-lb",
            target,
            address,
            f"GET + forged X-Forwarded-For {', '.join(chain)} straight to the LB",
            host=host,
            tls=tls_opts,
            headers=xff_header,
            chain=chain,
        )
        for edge_host, edge_addr in edges:
            tls_edge = _tls_options(edge_host, options, verify=False) if https else None
            a = sender.send(
                "edge",
                target,
                edge_addr,
                f"GET via edge {edge_addr} Host {edge_host}",
                host=edge_host,
                tls=tls_edge,
                edge=edge_addr,
            )
            b = sender.send(
                "edge-forged",
                target,
                edge_addr,
                f"GET + forged X-Forwarded-For {', '.join(chain)} via edge {edge_addr}",
                host=edge_host,
                tls=tls_edge,
                headers=xff_header,
                chain=chain,
                edge=edge_addr,
            )
            run.edges.append((a, b))

    if https and target.tls_hosts:
        prefix = b""
        forged_result = run.forged.result if run.forged else None
        if (
            plain_kind == "dropped"
            and forged_result is not None
            and kind_of(forged_result, True) == "answered"
        ):
            # Envoy needs a PROXY header the LB does not add: send an honest LOCAL one (Envoy keeps the real
            # peer, haproxy doc/proxy-protocol.txt) so that the certificate can still be checked.
            prefix = pp.encode_v2_local()
            run.tls_prefix = "PROXY v2 LOCAL"
        hosts = list(target.tls_hosts) if prefix else list(target.tls_hosts[1:])
        if not prefix:
            run.tls.append(run.plain)
        for th in hosts:
            run.tls.append(
                sender.send(
                    "tls",
                    target,
                    address,
                    (f"{run.tls_prefix} + " if prefix else "") + f"TLS (SNI {th.hostname}) + GET",
                    host=th.hostname,
                    tls=_tls_options(th.hostname, options, verify=True),
                    prefix=prefix,
                    tls_host=th,
                )
            )
    return run


# -- public entry ---------------------------------------------------------------------------------------


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

    observer, obs_notes = _choose_observer(diagnosis, options, conn, request_timeout, probe_targets, token)
    notes.extend(obs_notes)
    sender = _Sender(options, observer, token)
    runs: list[_PortRun] = []
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
                futures = [pool.submit(_run_port, sender, t, e, options) for t, e in jobs2]
                runs = [f.result() for f in futures]
            except BaseException:
                # Clean up first; the probes still in flight end on their own within the probe timeout.
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            pool.shutdown(wait=True)
            _observe(observer, sender, runs, options)
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
        judged = _judge_gateway(diagnosis, gt, gruns, observer, options)
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


# -- observers ------------------------------------------------------------------------------------------


def _choose_observer(
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
    return host if _host_is_name(host) else None


def _observe(observer: Observer, sender: _Sender, runs: Sequence[_PortRun], options: ProbeOptions) -> None:
    items = [s for r in runs for s in _all_sent(r) if s.probe is not None]
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


def _all_sent(run: _PortRun) -> list[Sent]:
    out = [s for s in (run.plain, run.forged, run.xff_lb) if s is not None]
    for a, b in run.edges:
        out += [a, b]
    out += [s for s in run.tls if s is not run.plain]
    return out


# -- judging --------------------------------------------------------------------------------------------


@dataclass
class _Judged:
    rows: list[ProbeRow] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    confirms: list[tuple[str, tuple[str, str]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    verdict: GatewayClientIP | None = None


def _norm_ip(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return value
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def _same_client(observed: str | None, expected: str | None, explicit: bool, target: str) -> bool | None:
    """True/False, or None when this machine sits behind NAT and nothing better was given."""
    observed, expected = _norm_ip(observed), _norm_ip(expected)
    if observed is None or expected is None:
        return None
    if observed == expected:
        return True
    if explicit:
        return False
    try:
        exp, obs, tgt = (
            ipaddress.ip_address(expected),
            ipaddress.ip_address(observed),
            ipaddress.ip_address(target),
        )
    except ValueError:
        return False
    if not exp.is_global and tgt.is_global and obs.is_global:
        return None
    return False


def mode_text(cip: ClientIP) -> str:
    if cip.mode == "direct":
        return f"direct mode (PROXY {cip.lb_proxy})" if cip.lb_proxy in ("v1", "v2") else "direct mode"
    if cip.mode == "xff":
        hops = cip.xff_hops
        return f"XFF mode ({hops} trusted hop{'s' if hops != 1 else ''})" if hops is not None else "XFF mode"
    if cip.mode == "none":
        return "no client-IP handling"
    return f"mixed client-IP settings ({cip.describe()})"


class _GatewayFindings:
    """Findings of one Gateway, at most one per code, each naming every address:port it concerns."""

    def __init__(self, gt: GatewayTargets, snapshot: Snapshot | None = None) -> None:
        self.gt = gt
        self.subject = ObjectRef("Gateway", gt.key[0], gt.key[1])
        # exact commands for the hints that name the load balancer or the EnvoyProxy behind it
        self.hint_params = {
            "lb_status": lb_status_command(gt.view.envoy_service),
            "source_ranges_fix": source_ranges_fix(snapshot, gt.view.obj),
        }
        self.items: dict[str, tuple[GatewayRef, dict[str, Any], list[str], dict[str, Any]]] = {}
        self.order: list[str] = []

    def add(
        self,
        code: str,
        listener: str | None,
        where: str,
        evidence: Mapping[str, Any] | None = None,
        **params: Any,
    ) -> None:
        if code in self.items:
            self.items[code][2].append(where)
            return
        self.order.append(code)
        self.items[code] = (
            GatewayRef(self.gt.key[0], self.gt.key[1], listener),
            params,
            [where],
            dict(evidence or {}),
        )

    def findings(self) -> list[Finding]:
        out = []
        for code in self.order:
            gref, params, wheres, evidence = self.items[code]
            params = dict(params)
            also = [w for w in dict.fromkeys(wheres[1:]) if w != wheres[0]]
            if also and "message" in params:
                params["message"] = params["message"] + f" (also on {join_words(also)})"
            elif also and "outcome" in params:
                params["outcome"] = params["outcome"] + f"; {join_words(also)} does not answer either"
            evidence.setdefault("where", list(dict.fromkeys(wheres)))
            params = {**self.hint_params, **params}
            out.append(make_finding(code, self.subject, gref, evidence, **params))
        return out


def _row(
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


def _observed(s: Sent | None) -> str | None:
    return _norm_ip(s.observation.remote) if s is not None and s.observation is not None else None


def _judge_gateway(
    diagnosis: Diagnosis,
    gt: GatewayTargets,
    runs: Sequence[_PortRun],
    observer: Observer,
    options: ProbeOptions,
) -> _Judged:
    j = _Judged()
    if not runs:
        return j
    gf = _GatewayFindings(gt, diagnosis.snapshot)
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
        _discriminator_rows(j, gf, run, state, ranges, timeout, where, lname, proved, static)
        if state.state in ("accepts", "forgeable") and not cip.xff:
            ordinary.append((plain, f"to {where}"))
        if cip.xff:
            wrong_hops |= _xff_rows(j, gf, run, state, timeout, where, lname, options, ordinary, proved)
        if https:
            _tls_rows(j, gf, run, state, diagnosis, timeout, where, options)
        if run.skipped:
            j.notes.append(f"Gateway {t.key[0]}/{t.key[1]}: {run.skipped}")

    _client_ip_verdict(j, gf, gt, runs, ordinary, observer, options, proved, wrong_hops)
    j.findings.extend(gf.findings())
    return j


def _confirm_note(code: str, static: set[str]) -> str:
    if code in static:
        return f" (confirms {code})"
    # The objects look right but the load balancer behaves otherwise: Octavia applies the pool protocol
    # when it creates the pool, so an annotation added later may never have reached it.
    return (
        " (the objects look consistent: the load balancer does not do what its Service annotation says; "
        "recreate the load balancer or check the Octavia pool protocol)"
    )


def _discriminator_rows(
    j: _Judged,
    gf: _GatewayFindings,
    run: _PortRun,
    state: PortState,
    ranges: tuple[str, ...],
    timeout: float,
    where: str,
    lname: str,
    proved: list[str],
    static: set[str],
) -> None:
    plain, forged = run.plain, run.forged
    assert plain is not None and plain.result is not None
    cip = run.target.client_ip
    https = run.target.protocol == "HTTPS"
    pr = plain.result
    got = describe(pr, timeout)
    obs = _observed(plain)
    st = state.state
    ms = f" (ttfb {pr.ttfb_s * 1000:.0f} ms)" if pr.ttfb_s is not None else ""
    if st == "refused-by-ranges":
        j.rows.append(
            _row(
                plain,
                got,
                f"the load balancer refuses this machine ({plain.local}), which is outside "
                f"loadBalancerSourceRanges {', '.join(ranges)}",
                "ok" if cip.xff else "info",
            )
        )
        proved.append("the load balancer admits only its source ranges")
    elif st == "unreachable":
        j.rows.append(_row(plain, got, "the Gateway address does not answer", "bad"))
        gf.add(
            "EGD601",
            lname,
            where,
            {"outcome": pr.outcome, "error": pr.error},
            target=f"{where} (listener {lname})",
            outcome=got,
        )
    elif st == "silent":
        j.rows.append(_row(plain, got, "no usable answer to any request", "bad"))
        gf.add(
            "EGD601",
            lname,
            where,
            {"outcome": pr.outcome, "error": pr.error},
            target=f"{where} (listener {lname})",
            outcome=f"{got}, with and without a PROXY header (no healthy Envoy behind the load balancer?)",
        )
    elif st == "pp-unexpected":
        j.rows.append(
            _row(
                plain,
                got + ms,
                "the load balancer puts a PROXY header in front and Envoy does not "
                "expect one" + (" (the TLS handshake breaks)" if https else ""),
                "bad",
            )
        )
        version = cip.lb_proxy if cip.lb_proxy in ("v1", "v2") else "v2"
        confirms = _confirm_note("EGD305", static)
        if https:
            msg = (
                f"TLS handshakes on {where} fail with and without a PROXY header while the load balancer "
                f"Service asks Octavia for PROXY {version}: Envoy reads the PROXY header as the start of the "
                f"handshake{confirms}"
            )
        else:
            msg = (
                f"a plain request to {where} gets HTTP 400 from Envoy: the load balancer puts a PROXY header "
                "in front of every connection and Envoy does not expect one, so every client gets "
                f"400{confirms}"
            )
        gf.add(
            "EGD602",
            lname,
            where,
            {"plain": pr.outcome, "status": pr.status},
            message=msg,
            fix="add a ClientTrafficPolicy with proxyProtocol: {optional: false} targeting the Gateway "
            "(direct mode), or remove loadbalancer.openstack.org/proxy-protocol from the Envoy Service "
            "(XFF mode)",
        )
        proved.append("Envoy rejects the load balancer's PROXY header")
    elif st == "pp-missing":
        j.rows.append(
            _row(
                plain,
                got,
                "Envoy expects a PROXY header and the load balancer does not add one: "
                "ordinary clients are dropped",
                "bad",
            )
        )
        how = (
            "an empty reply"
            if pr.outcome == "empty"
            else ("a reset" if pr.outcome == "reset" else "a failed handshake")
        )
        gf.add(
            "EGD603",
            lname,
            where,
            {"plain": pr.outcome},
            message=(
                f"a plain request to {where} gets {how} while the same request behind a PROXY header is "
                "answered: Envoy expects PROXY protocol and the load balancer does not send it, so every "
                f"real client is dropped{_confirm_note('EGD304', static)}"
            ),
            fix='set loadbalancer.openstack.org/proxy-protocol: "v2" on the Envoy Service (EnvoyProxy '
            "envoyService.annotations; the load balancer is recreated, see EGD314)",
        )
        proved.append("Envoy expects PROXY protocol that the load balancer does not send")
    elif st in ("accepts", "forgeable"):
        if cip.xff:
            proves = "Envoy answers requests that come straight to the load balancer"
        elif cip.proxy_protocol != "off" and cip.lb_sends_proxy:
            proves = "the load balancer's connection is accepted: Envoy parses its PROXY header"
        else:
            proves = "Envoy answers plain requests"
        if obs is not None:
            proves += f"; Envoy took {obs} as the client"
        j.rows.append(_row(plain, got + ms, proves, "ok" if not cip.xff else "info", obs))
    else:
        j.rows.append(_row(plain, got, "inconclusive", "info", obs))

    if forged is None or forged.result is None:
        return
    fr = forged.result
    fgot = describe(fr, timeout)
    fobs = _observed(forged)
    if st == "refused-by-ranges":
        j.rows.append(_row(forged, fgot, "refused as well", "ok" if cip.xff else "info"))
    elif state.forged == "answered":
        taken = f": Envoy took the forged {fobs} as the client IP" if fobs else ""
        j.rows.append(
            _row(
                forged,
                fgot,
                "a client-made PROXY header is honoured: any client can forge its IP",
                "bad",
                fobs,
            )
        )
        if cip.proxy_protocol == "optional" and st == "forgeable":
            fix = (
                "set proxyProtocol.optional: false in the ClientTrafficPolicy (with the load balancer "
                "sending PROXY v2, a client's own header then arrives second and is rejected)"
            )
        else:
            fix = (
                'make the load balancer send PROXY v2 (loadbalancer.openstack.org/proxy-protocol: "v2"): '
                "its header then comes first and a client's own header is rejected"
            )
        gf.add(
            "EGD604",
            run.target.listener.name,
            where,
            {"marker": forged.marker, "observed": fobs},
            message=(
                f"a PROXY v2 header this machine sent with the made-up source {forged.marker} was accepted "
                f"on {where}{taken}: any client that reaches the load balancer can forge its IP"
            ),
            fix=fix,
        )
        proved.append("a client-made PROXY header is honoured")
    elif state.forged == "rejected" or (
        https and state.forged == "dropped" and st in ("accepts", "forgeable")
    ):
        j.rows.append(_row(forged, fgot, "a client cannot forge its IP with its own PROXY header", "ok"))
        if st in ("accepts", "forgeable"):
            proved.append("a client cannot forge its IP with a PROXY header")
    else:
        j.rows.append(_row(forged, fgot, "as expected after the plain request", "info"))


def _xff_rows(
    j: _Judged,
    gf: _GatewayFindings,
    run: _PortRun,
    state: PortState,
    timeout: float,
    where: str,
    lname: str,
    options: ProbeOptions,
    ordinary: list[tuple[Sent, str]],
    proved: list[str],
) -> bool:
    """Rows for the XFF probes; returns True when a wrong hop count was shown."""
    cip = run.target.client_ip
    hops = cip.xff_hops
    configured = f"numTrustedHops {hops}" if hops is not None else "trustedCIDRs"
    wrong = False
    svc = gf.gt.view.envoy_service
    service = f"{svc.namespace}/{svc.name}" if svc is not None else "(unknown)"
    s = run.xff_lb
    if s is not None and s.result is not None:
        got = describe(s.result, timeout)
        obs = _observed(s)
        k = kind_of(s.result, run.target.protocol == "HTTPS")
        if state.state == "refused-by-ranges" or (k != "answered" and state.state == "refused-by-ranges"):
            j.rows.append(_row(s, got, "nobody outside the source ranges can bypass the edge proxy", "ok"))
            proved.append("the edge proxy cannot be bypassed from this machine")
        elif k != "answered":
            j.rows.append(_row(s, got, "no answer", "info"))
        elif obs is None:
            j.rows.append(
                _row(
                    s,
                    got,
                    "the load balancer is reachable from here; which element Envoy believed is "
                    "not observable",
                    "info",
                )
            )
        else:
            pos = position_in(s.chain, obs)
            if pos is not None:
                j.rows.append(
                    _row(
                        s,
                        got,
                        f"Envoy believed the forged {obs} ({ordinal(pos)} from the right): "
                        "anyone can bypass the edge proxy and pick their IP",
                        "bad",
                        obs,
                    )
                )
                if cip.proxy_protocol != "off":
                    # PROXY protocol and XFF trust on one listener (EGD309): there is no edge proxy to
                    # protect, so the traffic proof belongs to EGD605, and the fix is the CTP, not the LB
                    gf.add(
                        "EGD605",
                        lname,
                        where,
                        {"confirmedBy": "probe", "forgedChain": list(s.chain), "observed": obs},
                        message=(
                            f"a forged X-Forwarded-For {', '.join(s.chain)} sent straight to {where} made "
                            f"Envoy take {obs} as the client IP: the listener trusts X-Forwarded-For "
                            f"({configured}) on top of PROXY protocol, so any client picks its IP"
                        ),
                        fix="in direct mode remove clientIPDetection from the ClientTrafficPolicy (EGD309)",
                    )
                    proved.append("a forged X-Forwarded-For is believed on top of the PROXY header")
                    return True
                gf.add(
                    "EGD313",
                    lname,
                    where,
                    {"confirmedBy": "probe", "forgedChain": list(s.chain), "observed": obs},
                    target=f"listener {lname} of Gateway {gf.gt.key[0]}/{gf.gt.key[1]}",
                    trusts=f"X-Forwarded-For ({configured})",
                    service=service,
                    why=(
                        f"confirmed by traffic: a forged X-Forwarded-For {', '.join(s.chain)} sent from this "
                        f"machine straight to {where} made Envoy take {obs} as the client IP"
                    ),
                )
                j.confirms.append(("EGD313", gf.gt.key))
                proved.append("a forged X-Forwarded-For sent straight to the load balancer is believed")
                if hops is not None and pos != hops:
                    wrong = True
                    gf.add(
                        "EGD605",
                        lname,
                        where,
                        {"observed": obs, "position": pos, "configured": hops},
                        message=(
                            f"a forged X-Forwarded-For {', '.join(s.chain)} sent straight to {where} made "
                            f"Envoy take {obs}, the {ordinal(pos)} entry from the right, while "
                            f"numTrustedHops is {hops}"
                        ),
                        fix="check which ClientTrafficPolicy is in effect on the listener (EGD303)",
                    )
            else:
                j.rows.append(_row(s, got, f"Envoy ignored the forged chain and took {obs}", "info", obs))
                if hops:
                    wrong = True
                    gf.add(
                        "EGD605",
                        lname,
                        where,
                        {"observed": obs, "configured": hops},
                        message=(
                            f"Envoy on {where} ignored the X-Forwarded-For chain and took {obs} although "
                            f"numTrustedHops is {hops}: the XFF setting is not in effect"
                        ),
                        fix="check which ClientTrafficPolicy is in effect on the listener (EGD303)",
                    )

    appended = appends(cip)
    for a, b in run.edges:
        edge = a.edge
        if a.result is not None:
            got = describe(a.result, timeout)
            obs = _observed(a)
            me = a.local
            if a.result.outcome == "refused":
                j.rows.append(_row(a, got, f"the edge proxy does not serve port {run.target.port}", "info"))
            elif kind_of(a.result, run.target.protocol == "HTTPS") != "answered":
                j.rows.append(_row(a, got, f"the edge proxy {edge} does not pass requests through", "bad"))
                gf.add(
                    "EGD601",
                    lname,
                    f"edge {edge}:{run.target.port}",
                    {"outcome": a.result.outcome},
                    target=f"edge proxy {edge}:{run.target.port} ({a.host})",
                    outcome=got,
                )
            else:
                ordinary.append((a, f"through edge proxy {edge} ({a.host})"))
                if obs is None:
                    j.rows.append(_row(a, got, "the path through the edge proxy works", "info"))
                elif _norm_ip(obs) == _norm_ip(me):
                    j.rows.append(_row(a, got, "Envoy took this machine's address as the client", "ok", obs))
                else:
                    j.rows.append(_row(a, got, f"Envoy took {obs}, not this machine ({me})", "bad", obs))
        if b.result is None or kind_of(b.result, run.target.protocol == "HTTPS") != "answered":
            if b.result is not None and b.result.outcome != "refused":
                j.rows.append(_row(b, describe(b.result, timeout), "no answer", "info"))
            continue
        got = describe(b.result, timeout)
        obs = _observed(b)
        reading: EdgeReading = read_edge(
            obs, _norm_ip(b.local), b.chain, b.observation.xff if b.observation else None, appended
        )
        measured = reading.measured
        if reading.verdict == "right":
            proves = f"Envoy skipped the forged entries and took this machine's address: {configured} matches"
            j.rows.append(_row(b, got, proves, "ok", obs))
            proved.append("numTrustedHops matches the proxies in front")
            continue
        if reading.verdict == "unknown":
            j.rows.append(_row(b, got, "which element Envoy believed is not observable", "info"))
            continue
        wrong = True
        if reading.verdict == "too-high":
            why = (
                f"Envoy took the forged {obs}: numTrustedHops {hops} trusts more proxies than there are, so "
                "clients can forge their IP"
            )
        else:
            why = (
                f"Envoy took {obs}, a proxy's address: numTrustedHops {hops} trusts fewer proxies than "
                "there are, so every client looks like that proxy"
            )
        j.rows.append(_row(b, got, why, "bad", obs))
        chain_note = (
            f"; the chain shows {measured} prox{'y' if measured == 1 else 'ies'} in front" if measured else ""
        )
        gf.add(
            "EGD605",
            lname,
            f"edge {edge}",
            {"observed": obs, "configured": hops, "measured": measured, "edge": edge},
            message=(
                f"through edge proxy {edge} ({b.host}) with a forged X-Forwarded-For {', '.join(b.chain)}, "
                f"{why}{chain_note}"
            ),
            fix=(
                f"set clientIPDetection.xForwardedFor.numTrustedHops: {measured}"
                if measured
                else "set numTrustedHops to the number of proxies in front of the load balancer"
            ),
        )
        if measured is not None and hops is not None and measured != hops:
            ctp = cip.ctp
            effect = (
                "clients can forge their IP"
                if measured < hops
                else "the proxy's address is taken as the client"
            )
            gf.add(
                "EGD308",
                lname,
                f"edge {edge}",
                {"confirmedBy": "probe", "measured": measured, "configured": hops},
                hops=hops,
                target=f"listener {lname} of Gateway {gf.gt.key[0]}/{gf.gt.key[1]}",
                expected=measured,
                source=f" (measured by a probe through edge proxy {edge})",
                effect=effect,
                ctp=f"{ctp.namespace}/{ctp.name}" if ctp is not None else "(none)",
            )
            j.confirms.append(("EGD308", gf.gt.key))
    return wrong


def _tls_rows(
    j: _Judged,
    gf: _GatewayFindings,
    run: _PortRun,
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
                _row(
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
            _row(
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
                    _row(
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


def _add_407(gf: _GatewayFindings, th: TlsHost, where: str, problem: str) -> None:
    gf.add(
        "EGD407",
        th.listener.name,
        f"{where} SNI {th.hostname}",
        {"hostname": th.hostname, "problem": problem},
        message=f"the certificate Envoy serves for {th.hostname} on {where} {problem}",
        fix="check the listener's certificateRefs Secret and its cert-manager Certificate "
        "(EGD401-EGD403); Envoy serves what the Secret held when Envoy Gateway last read it",
    )


def _client_ip_verdict(
    j: _Judged,
    gf: _GatewayFindings,
    gt: GatewayTargets,
    runs: Sequence[_PortRun],
    ordinary: list[tuple[Sent, str]],
    observer: Observer,
    options: ProbeOptions,
    proved: list[str],
    wrong_hops: bool,
) -> None:
    key = gt.key
    mode = gt.view.mode
    first_run = runs[0]
    cip = first_run.target.client_ip
    this_machine = next((s.local for s, _ in ordinary if s.local), None) or next(
        (r.plain.local for r in runs if r.plain is not None and r.plain.local), None
    )
    explicit = options.expect_client_ip is not None
    observed_item = next(((s, how) for s, how in ordinary if _observed(s) is not None), None)
    observed = _observed(observed_item[0]) if observed_item else None
    expected = options.expect_client_ip or (observed_item[0].local if observed_item else this_machine)
    label = observer.label
    gref_listener = first_run.target.listener.name

    if observed_item is not None:
        s, how = observed_item
        same = _same_client(observed, expected, explicit, s.address)
        text = mode_text(s.target.client_ip)
        whose = "the address given with --expect-client-ip" if explicit else "this machine's address"
        lname = s.target.listener.name
        evidence = {"observed": observed, "expected": expected, "path": how}
        if same is True:
            summary = f"Envoy observed client IP {observed} ({whose}: {expected}), as expected"
            verified: bool | None = True
            if not wrong_hops:
                gf.add(
                    "EGD607",
                    lname,
                    how,
                    evidence,
                    message=(
                        f"{text}: for a request from this machine {how} Envoy observed client IP "
                        f"{observed}, {whose} ({expected})"
                    ),
                    fix="nothing to do",
                )
        elif same is None:
            summary = (
                f"Envoy observed client IP {observed} (this machine: {expected}, behind NAT?): pass "
                "--expect-client-ip to verify"
            )
            verified = None
            gf.add(
                "EGD607",
                lname,
                how,
                evidence,
                message=(
                    f"{text}: for a request from this machine {how} Envoy observed client IP {observed}; "
                    f"the local address {expected} is private, so {observed} is probably its public (NAT) "
                    "address"
                ),
                fix="pass --expect-client-ip with this machine's public address to verify",
            )
        else:
            summary = f"Envoy observed client IP {observed} ({whose}: {expected}), not the expected one"
            verified = False
            if not wrong_hops:
                direct = _norm_ip(s.observation.direct) if s.observation else None
                if direct is not None and direct == observed:
                    why = f"{observed} is the TCP peer, i.e. the load balancer's member-side address"
                else:
                    why = f"{observed} is most likely the load balancer's or a node's address"
                if s.target.client_ip.mode == "none":
                    fix = (
                        "add a ClientTrafficPolicy for the Gateway: direct mode (PROXY v2 on the load "
                        "balancer + proxyProtocol) or XFF mode (numTrustedHops behind a CDN/WAF)"
                    )
                else:
                    fix = "align the ClientTrafficPolicy with what the load balancer sends (EGD3xx findings)"
                gf.add(
                    "EGD606",
                    lname,
                    how,
                    evidence,
                    message=(
                        f"{text}: for a request from this machine {how} Envoy observed client IP "
                        f"{observed}, not {whose} ({expected}): {why}; the real client IP is lost"
                    ),
                    fix=fix,
                )
        j.verdict = GatewayClientIP(key, mode, observed, this_machine, expected, verified, label, summary)
        return

    if cip.xff and not any(s.edge for s, _ in ordinary):
        summary = (
            "XFF mode: no DNS name of the Gateway leads to an edge proxy, so the path real clients take was "
            "not probed (pass --resolver, or check the CDN's DNS)"
        )
        j.verdict = GatewayClientIP(key, mode, None, this_machine, expected, None, label, summary)
        return
    if not ordinary:
        summary = "no ordinary request was answered: the client IP cannot be observed"
    elif observer.name == "none":
        why = "--observe none" if options.observe == "none" else "no observer was usable"
        gf.add(
            "EGD608",
            gref_listener,
            "gateway",
            {"proved": proved},
            message=(
                f"the client IP Envoy decides on was not observed ({why}); connection behaviour proved: "
                f"{join_words(list(dict.fromkeys(proved))) or 'that Envoy answers'}"
            ),
            fix=(
                "run with --observe route (creates and deletes a temporary HTTPRoute in "
                f"{options.namespace or 'the current namespace'}), allow reading pods/log of the Envoy pods "
                "(--observe logs), or point --observe echo:PATH at an endpoint that echoes request headers"
            ),
        )
        summary = "client IP not observed: connection behaviour only (EGD608)"
    else:
        summary = f"client IP not observed: the {label} showed nothing for the probes"
    j.verdict = GatewayClientIP(key, mode, None, this_machine, expected, None, label, summary)
