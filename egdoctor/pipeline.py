"""One diagnosis run: read the cluster (or load files) -> run the checks -> send the probes -> build the
report. Every entry point (`check`, `probe`, and later ones) describes what it wants in a
`DiagnosisRequest` and calls `diagnose`; the command line only parses options and renders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from egdoctor.heap import settled_heap

if TYPE_CHECKING:
    from egdoctor.bundle.read import Bundle
    from egdoctor.checks.engine import Diagnosis
    from egdoctor.checks.registry import Options
    from egdoctor.findings.model import Severity
    from egdoctor.findings.suppress import SuppressRule
    from egdoctor.probes.model import ProbeReport
    from egdoctor.probes.plan import ProbeOptions
    from egdoctor.report.view import Report
    from egdoctor.snapshot.cluster import ClusterUnavailable, Connection
    from egdoctor.snapshot.model import Snapshot


@dataclass(frozen=True)
class DiagnosisRequest:
    options: Options
    namespace: str | None = None
    all_namespaces: bool = False
    kubeconfig: str | None = None
    context: str | None = None
    request_timeout: float = 10.0
    from_files: tuple[str, ...] = ()
    probe_options: ProbeOptions | None = None  # None: no probes (--no-probe)
    probes_only: bool = False  # `egdoctor probe`: object checks other than access problems are not run
    selector: str | None = None  # -l: the namespaces whose labels match (with every namespace read)
    fail_on: Severity | None = None
    min_severity: Severity | None = None  # findings below it are not shown (the exit code still counts them)
    suppress: tuple[SuppressRule, ...] = ()
    allow_incomplete: bool = False  # API errors left checks unrun: judge what was read (exit 0/1, not 3)
    from_bundle: str | None = None  # a support bundle: its objects, and its probe results as recorded
    with_files: tuple[str, ...] = ()  # what-if: manifests laid over what was read, as if applied


class RequestRefused(Exception):
    """The request cannot be answered as asked (a usage error: exit 2); the message says why."""


@dataclass
class Unavailable(Exception):
    """The API server could not be used (EGD001); `scope` is what was asked, as far as it is known."""

    cause: ClusterUnavailable
    scope: frozenset[str] | None = field(default=None)


def diagnose(request: DiagnosisRequest) -> Report:
    if request.with_files:
        return _what_if(request)
    return _run(request)[0]


def _what_if(request: DiagnosisRequest) -> Report:
    """The report on the snapshot with the manifests laid over it, carrying what would change."""
    from dataclasses import replace

    from egdoctor.checks.engine import required_inputs
    from egdoctor.checks.registry import all_checks
    from egdoctor.progress import current
    from egdoctor.what_if import WhatIfError, compare, overlay

    with current().phase(
        "reading the cluster" if not (request.from_files or request.from_bundle) else "reading"
    ):
        read = _read(request, required_inputs(all_checks().values()))
    before, _ = _run(replace(request, with_files=(), probe_options=None), read)
    namespace = request.namespace or (read.conn.namespace if read.conn is not None else "default")
    try:
        snapshot, changes = overlay(read.snapshot, request.with_files, namespace)
    except WhatIfError as exc:
        raise RequestRefused(str(exc)) from None
    after, _ = _run(request, replace(read, snapshot=snapshot))
    what = compare(request.with_files, changes, before.findings, after.findings)
    # "not reconciled yet" on an object not applied yet is no finding about it: listed, not judged
    expected = {id(f) for f in what.not_reconciled_yet}
    findings = tuple(f for f in after.findings if id(f) not in expected)
    return replace(after, findings=findings, what_if=what)


# --wait polls gently: the first round again after this long, then each wait doubles up to the cap
WAIT_FIRST_STEP, WAIT_STEP_CAP = 1.0, 10.0


def diagnose_until_clean(request: DiagnosisRequest, wait_seconds: float) -> Report:
    """`--wait`: the object checks again and again, backing off, until nothing at or above --fail-on
    remains (a rollout has become Programmed) or the time is up; then one full run, probes included,
    is the report. Each round is a progress line on stderr."""
    import time
    from dataclasses import replace

    from egdoctor.progress import current

    progress = current()
    start = time.monotonic()
    objects_only = replace(request, probe_options=None)
    step = WAIT_FIRST_STEP
    report: Report | None = None
    while True:
        try:
            report = diagnose(objects_only)
        except Unavailable as exc:
            # an API server that stops answering part-way (a control-plane rollout) is waited for too;
            # one that never answered is EGD001 at once
            elapsed = time.monotonic() - start
            if report is None or elapsed >= wait_seconds:
                raise
            pause = min(step, wait_seconds - elapsed)
            progress.line(
                f"--wait: the API server did not answer ({exc.cause.reason}); again in {pause:.0f}s"
            )
            time.sleep(pause)
            step = min(step * 2, WAIT_STEP_CAP)
            continue
        elapsed = time.monotonic() - start
        if report.exit_code == 0:
            progress.line(f"--wait: nothing at or above --fail-on remains after {elapsed:.0f}s")
            break
        left = wait_seconds - elapsed
        remaining = _blocking_summary(report)
        if left <= 0:
            progress.line(f"--wait: time is up after {elapsed:.0f}s; {remaining} still there")
            break
        pause = min(step, left)
        progress.line(f"--wait: {remaining}; checking again in {pause:.0f}s ({left:.0f}s left)")
        with progress.phase(f"waiting for the cluster: {remaining}"):
            time.sleep(pause)
        step = min(step * 2, WAIT_STEP_CAP)
    return report if request.probe_options is None else diagnose(request)


def _blocking_summary(report: Report) -> str:
    """What keeps the run from passing, in a few words: `2 findings (EGD103, EGD202)`."""
    if report.incomplete or report.diagnosis.could_not_run:
        return "the run is incomplete"
    threshold = report.fail_on.rank if report.fail_on is not None else 99
    codes = [f.code for f in (*report.findings, *report.hidden) if f.severity.rank >= threshold]
    named = ", ".join(dict.fromkeys(codes))
    return f"{len(codes)} finding{'s' if len(codes) != 1 else ''} ({named})"


def collect(request: DiagnosisRequest, path: str) -> Report:
    """Run the diagnosis as `check` would and write what it read and observed to a support bundle."""
    from egdoctor.bundle.write import bundle_members, write_bundle
    from egdoctor.snapshot.cluster import ClusterReader

    report, conn = _run(request)
    version = ClusterReader(conn, request.request_timeout).server_version() if conn is not None else None
    members = bundle_members(
        report.diagnosis.snapshot, report.probes, request.options, version, request.options.now
    )
    try:
        write_bundle(path, members)
    except OSError as exc:
        raise RequestRefused(f"-o {path}: {exc.strerror or exc}") from None
    return report


@dataclass(frozen=True)
class _Input:
    snapshot: Snapshot
    conn: Connection | None = None
    recorded: Bundle | None = None  # --from-bundle


def _run(request: DiagnosisRequest, read: _Input | None = None) -> tuple[Report, Connection | None]:
    from dataclasses import replace

    from egdoctor.checks.engine import required_inputs, run_checks
    from egdoctor.checks.registry import all_checks
    from egdoctor.progress import current
    from egdoctor.report.view import Report

    checks = all_checks()
    where = "the bundle" if request.from_bundle else "the files" if request.from_files else "the cluster"
    if read is None:
        with current().phase(f"reading {where}"):
            read = _read(request, required_inputs(checks.values()))
    snapshot, options = read.snapshot, request.options
    if read.recorded is not None:
        # certificates expire: judge them at the time the bundle was recorded, as the live run did
        options = replace(options, now=read.recorded.created)
    if request.selector is not None:
        snapshot = _select_namespaces(snapshot, request.selector)
    _refuse_absent_namespaces(snapshot)
    asked = {} if request.probes_only else checks
    diagnosis = run_checks(snapshot, options, asked)
    probe_report = _probe_phase(diagnosis, request, read)
    findings = diagnosis.findings
    if probe_report is not None:
        from egdoctor.probes.engine import merge_findings

        findings = merge_findings(findings, probe_report)
    from egdoctor.fixes.plan import with_fixes

    findings = with_fixes(findings, snapshot, options)
    report = Report(
        diagnosis,
        findings,
        request.fail_on,
        probes=probe_report,
        checks_run=tuple(asked),
        allow_incomplete=request.allow_incomplete,
    )
    return _filtered(report, request), read.conn


def _filtered(report: Report, request: DiagnosisRequest) -> Report:
    """Suppressed findings leave the report (listed as such); findings below --min-severity are hidden."""
    from dataclasses import replace

    from egdoctor.findings.suppress import annotated_codes, split_suppressed

    snapshot = report.diagnosis.snapshot
    annotations = {
        o.ref: codes
        for objs in snapshot.objects.values()
        for o in objs
        if (codes := annotated_codes(o.annotations))
    }
    kept, suppressed = split_suppressed(report.findings, request.suppress, annotations)
    floor = request.min_severity.rank if request.min_severity is not None else -1
    shown = tuple(f for f in kept if f.severity.rank >= floor)
    hidden = tuple(f for f in kept if f.severity.rank < floor)
    if not suppressed and not hidden:
        return report
    return replace(report, findings=shown, suppressed=tuple(suppressed), hidden=hidden)


def _read(request: DiagnosisRequest, inputs: set[str]) -> _Input:
    with settled_heap():
        return _read_input(request, inputs)


def _read_input(request: DiagnosisRequest, inputs: set[str]) -> _Input:
    namespace = request.namespace
    if request.from_bundle:
        return _read_bundle(request.from_bundle, namespace)
    if request.from_files:
        from egdoctor.snapshot.files import InputError, load_files

        scope = None if request.all_namespaces or namespace is None else frozenset({namespace})
        try:
            return _Input(load_files(list(request.from_files), scope))
        except InputError as exc:
            raise RequestRefused(str(exc)) from None
    from egdoctor.snapshot.cluster import ClusterReader, ClusterUnavailable, connect

    scope = frozenset({namespace}) if namespace else None
    try:
        conn = connect(request.kubeconfig, request.context, request.request_timeout)
        scope = None if request.all_namespaces else frozenset({namespace or conn.namespace})
        return _Input(ClusterReader(conn, request.request_timeout).read(inputs, scope), conn)
    except ClusterUnavailable as exc:
        raise Unavailable(exc, scope) from None


def _read_bundle(path: str, namespace: str | None) -> _Input:
    """A bundle's recorded scope, or one namespace of it (-n)."""
    from dataclasses import replace

    from egdoctor.bundle.read import BundleError, read_bundle

    try:
        bundle = read_bundle(path)
    except BundleError as exc:
        raise RequestRefused(str(exc)) from None
    snapshot = bundle.snapshot
    if namespace is not None:
        if snapshot.namespaces is not None and namespace not in snapshot.namespaces:
            recorded = ", ".join(sorted(snapshot.namespaces)) or "none"
            raise RequestRefused(f"-n {namespace}: the bundle was collected for namespace(s) {recorded}")
        snapshot = replace(snapshot, namespaces=frozenset({namespace}))
    return _Input(snapshot, None, bundle)


def _select_namespaces(snapshot: Snapshot, selector: str) -> Snapshot:
    """Narrow a snapshot of every namespace to those whose labels match the selector."""
    from dataclasses import replace

    from egdoctor.label_selector import parse_selector

    try:
        matches = parse_selector(selector)
    except ValueError as exc:
        raise RequestRefused(str(exc)) from None
    if snapshot.source.mode == "cluster" and (
        "Namespace" not in snapshot.fetched or snapshot.problems_for("Namespace")
    ):
        raise RequestRefused(f"-l {selector}: the namespaces could not be listed to match their labels")
    chosen = frozenset(o.name for o in snapshot.of("Namespace") if matches(o.labels))
    if not chosen:
        raise RequestRefused(f"no namespace matches -l {selector}")
    return replace(snapshot, namespaces=chosen)


def _refuse_absent_namespaces(snapshot: Snapshot) -> None:
    from egdoctor.snapshot.scope import absent_namespaces

    absent = absent_namespaces(snapshot)
    if not absent:
        return
    if snapshot.source.mode == "files":
        raise RequestRefused(f"namespace {absent[0]} not found: the --from-file input holds no object in it")
    raise RequestRefused(
        f"namespace {absent[0]} not found in context {snapshot.source.context} "
        "(`kubectl get namespaces` lists them)"
    )


def _probe_phase(diagnosis: Diagnosis, request: DiagnosisRequest, read: _Input) -> ProbeReport | None:
    probe_options = request.probe_options
    if probe_options is None:
        return None
    from egdoctor.probes.engine import run_probes, skipped_report

    if request.with_files:
        return skipped_report("probes skipped: --with-file describes objects that are not applied yet")
    if read.recorded is not None:
        if read.recorded.probes is None:
            return skipped_report(
                "probes skipped: the bundle holds no probe results (collected with --no-probe)"
            )
        return read.recorded.probes
    if request.from_files and not probe_options.addresses:
        return skipped_report(
            "probes skipped: --from-file has no live Gateway to probe (give --address IP to probe one)"
        )
    from egdoctor.progress import current

    with current().phase("probing the Gateways"):
        return run_probes(diagnosis, probe_options, read.conn, request.request_timeout)
