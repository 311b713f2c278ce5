"""The `egdoctor` command line. Heavy modules (the Kubernetes client, checks, renderers) load inside the
commands so that `egdoctor --help` stays instant."""

from __future__ import annotations

import functools
import inspect
import re
import sys
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import typer

from egdoctor import __version__

if TYPE_CHECKING:  # the probe modules load only when probes run
    from egdoctor.findings.model import Severity
    from egdoctor.snapshot.cluster import ClusterUnavailable

app = typer.Typer(
    name="egdoctor",
    help="Diagnose Envoy Gateway ingress: Gateways, routes, client-IP mode (PROXY protocol / "
    "X-Forwarded-For), load balancer and certificates.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"egdoctor {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _top_level(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Diagnose Envoy Gateway ingress: Gateways, routes, client-IP mode (PROXY protocol /
    X-Forwarded-For), load balancer and certificates."""


# `check --help` groups its options in these panels
CLUSTER, DIAGNOSIS, PROBES, OUTPUT = "Cluster", "Diagnosis", "Probes", "Output"


class Output(str, Enum):
    text = "text"
    json = "json"
    yaml = "yaml"
    junit = "junit"
    sarif = "sarif"
    markdown = "markdown"


class FailOn(str, Enum):
    error = "error"
    warning = "warning"
    info = "info"
    none = "none"


class MinSeverity(str, Enum):
    error = "error"
    warning = "warning"
    info = "info"


class Mode(str, Enum):
    direct = "direct"
    xff = "xff"


def _say(message: str) -> None:
    """One line on stderr; messages carry server and object text, so they pass the terminal sanitiser."""
    from egdoctor.report.safe_text import MESSAGE_LIMIT, clean

    sys.stderr.write(f"egdoctor: {clean(message, MESSAGE_LIMIT)}\n")


def _usage_error(message: str) -> typer.Exit:
    _say(message)
    return typer.Exit(EXIT_USAGE)


def parse_duration(text: str) -> float:
    """kubectl-style durations: `10`, `10s`, `500ms`, `1m`."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*", text)
    if not match:
        raise ValueError(f"invalid duration {text!r} (use e.g. 10s, 500ms, 1m)")
    value = float(match.group(1))
    unit = match.group(2) or "s"
    seconds = value / 1000 if unit == "ms" else value * 60 if unit == "m" else value
    if seconds <= 0:
        raise ValueError("duration must be positive")
    return seconds


@app.command()
def explain(
    code: Annotated[
        str | None, typer.Argument(help="A finding code, e.g. EGD304 (without one: list the codes).")
    ] = None,
) -> None:
    """Explain a finding code: what it means, why it matters, how to fix it."""
    from egdoctor.report.explain import list_codes, show_code

    if code is None:
        list_codes()
    elif not show_code(code):
        raise _usage_error(f"unknown code {code!r} (codes look like EGD304; `egdoctor explain` lists them)")


class CatalogueOutput(str, Enum):
    text = "text"
    json = "json"


@app.command()
def checks(
    output: Annotated[
        CatalogueOutput, typer.Option("-o", "--output", help="Output format.")
    ] = CatalogueOutput.text,
) -> None:
    """List every check with the kinds it reads and the codes it reports, and every code."""
    from egdoctor.report.checks_list import render_checks

    render_checks(output.value)


@app.command()
def version() -> None:
    """Print the egdoctor version."""
    typer.echo(f"egdoctor {__version__}")


CHECK_EXAMPLES = """[bold]Examples[/]

  egdoctor check -n myapp                         [dim]# what affects myapp's traffic, probes included[/]

  egdoctor check -A --no-probe --min-severity warning  [dim]# every namespace, objects only[/]

  egdoctor check -n myapp -o junit > egdoctor.xml      [dim]# a CI test report (also sarif, markdown, yaml)[/]

  egdoctor check -f dump.yaml --suppress EGD310        [dim]# offline, on kubectl get -o yaml output[/]

  egdoctor check -n myapp --with-file route.yaml     [dim]# what would change if route.yaml were applied[/]

  egdoctor check -n myapp --wait 2m -o junit         [dim]# CI: wait for the rollout, then report[/]

Read-only: nothing in the cluster is changed (except a temporary HTTPRoute with --observe route).
Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it, 2 usage error,
3 the diagnosis could not run, 130 interrupted."""


@app.command(epilog=CHECK_EXAMPLES)
def check(
    namespace: Annotated[
        str | None,
        typer.Option(
            "-n",
            "--namespace",
            help="Namespace to diagnose (default: the context's).",
            rich_help_panel=CLUSTER,
        ),
    ] = None,
    all_namespaces: Annotated[
        bool,
        typer.Option("-A", "--all-namespaces", help="Diagnose every namespace.", rich_help_panel=CLUSTER),
    ] = False,
    selector: Annotated[
        str | None,
        typer.Option(
            "-l",
            "--selector",
            help="Diagnose the namespaces whose labels match (e.g. team=shop,env!=dev); implies -A.",
            rich_help_panel=CLUSTER,
        ),
    ] = None,
    kubeconfig: Annotated[
        str | None, typer.Option("--kubeconfig", help="Path to the kubeconfig file.", rich_help_panel=CLUSTER)
    ] = None,
    context: Annotated[
        str | None, typer.Option("--context", help="The kubeconfig context to use.", rich_help_panel=CLUSTER)
    ] = None,
    request_timeout: Annotated[
        str,
        typer.Option(
            "--request-timeout",
            help="Timeout of each API request (e.g. 10s, 500ms).",
            rich_help_panel=CLUSTER,
        ),
    ] = "10s",
    from_file: Annotated[
        list[str] | None,
        typer.Option(
            "--from-file",
            "-f",
            help="Diagnose objects from YAML/JSON files or directories instead "
            "of a cluster (repeatable; `kubectl get -o yaml` output works).",
            rich_help_panel=CLUSTER,
        ),
    ] = None,
    from_bundle: Annotated[
        str | None,
        typer.Option(
            "--from-bundle",
            help="Diagnose a support bundle written by `egdoctor collect`, offline (its probe results "
            "are shown as recorded evidence).",
            rich_help_panel=CLUSTER,
        ),
    ] = None,
    with_file: Annotated[
        list[str] | None,
        typer.Option(
            "--with-file",
            help="What if: lay these manifests over what is read (replacing objects of the same kind, "
            "namespace and name, adding new ones) and report the findings that would appear and go away "
            "(repeatable; files or directories).",
            rich_help_panel=DIAGNOSIS,
        ),
    ] = None,
    gateway_class: Annotated[
        str,
        typer.Option("--gateway-class", help="The Envoy Gateway GatewayClass.", rich_help_panel=DIAGNOSIS),
    ] = "eg",
    namespace_label: Annotated[
        str,
        typer.Option(
            "--namespace-label",
            help="The opt-in label app namespaces carry (key=value).",
            rich_help_panel=DIAGNOSIS,
        ),
    ] = "shared-gateway-access=true",
    expect_mode: Annotated[
        Mode | None,
        typer.Option(
            "--expect-mode", help="The client-IP mode you intend: direct or xff.", rich_help_panel=DIAGNOSIS
        ),
    ] = None,
    expect_hops: Annotated[
        int | None,
        typer.Option(
            "--expect-hops", min=0, help="XFF mode: the number of trusted proxies.", rich_help_panel=DIAGNOSIS
        ),
    ] = None,
    cert_warn_days: Annotated[
        int,
        typer.Option(
            "--cert-warn-days",
            min=0,
            help="Warn about certificates expiring within N days.",
            rich_help_panel=DIAGNOSIS,
        ),
    ] = 14,
    no_probe: Annotated[
        bool,
        typer.Option(
            "--no-probe", help="Check objects only: send no traffic to the Gateways.", rich_help_panel=PROBES
        ),
    ] = False,
    probe_timeout: Annotated[
        str,
        typer.Option(
            "--probe-timeout",
            help="Bound of each probe (connect, TLS, answer), e.g. 3s.",
            rich_help_panel=PROBES,
        ),
    ] = "3s",
    observe: Annotated[
        str,
        typer.Option(
            "--observe",
            help="How to see the client IP Envoy decides on: auto (access "
            "log when readable), route (temporary HTTPRoute; writes to the cluster), logs, "
            "echo:PATH, none.",
            rich_help_panel=PROBES,
        ),
    ] = "auto",
    address: Annotated[
        list[str] | None,
        typer.Option(
            "--address",
            help="Probe this IP instead of the Gateway's status "
            "addresses (repeatable; also enables probes with --from-file).",
            rich_help_panel=PROBES,
        ),
    ] = None,
    resolver: Annotated[
        str | None,
        typer.Option(
            "--resolver",
            help="DNS server for the hostname checks, IP[:PORT] (default: the system's).",
            rich_help_panel=PROBES,
        ),
    ] = None,
    expect_client_ip: Annotated[
        str | None,
        typer.Option(
            "--expect-client-ip",
            help="The client IP Envoy should see for this machine "
            "(default: the probe socket's local address).",
            rich_help_panel=PROBES,
        ),
    ] = None,
    ca_file: Annotated[
        str | None,
        typer.Option(
            "--ca-file",
            help="CA bundle to verify served certificates (default: system trust).",
            rich_help_panel=PROBES,
        ),
    ] = None,
    probe_allow: Annotated[
        str | None,
        typer.Option(
            "--probe-allow",
            help="Never send probes outside these CIDRs (comma-"
            "separated; default: $EGDOCTOR_PROBE_ALLOW, else no restriction).",
            rich_help_panel=PROBES,
        ),
    ] = None,
    output: Annotated[
        Output, typer.Option("-o", "--output", help="Output format.", rich_help_panel=OUTPUT)
    ] = Output.text,
    fail_on: Annotated[
        FailOn,
        typer.Option(
            "--fail-on",
            help="Exit 1 when a finding at or above this severity exists.",
            rich_help_panel=OUTPUT,
        ),
    ] = FailOn.error,
    min_severity: Annotated[
        MinSeverity,
        typer.Option(
            "--min-severity",
            help="Show only findings at or above this severity (the exit code follows --fail-on).",
            rich_help_panel=OUTPUT,
        ),
    ] = MinSeverity.info,
    suppress: Annotated[
        list[str] | None,
        typer.Option(
            "--suppress",
            help="Silence a code: CODE, or CODE=KIND/NAMESPACE/NAME on one object (repeatable; objects can "
            "also carry the annotation egdoctor.io/suppress: CODE,CODE).",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    show_all: Annotated[
        bool,
        typer.Option(
            "--show-all",
            help="List healthy namespaces, listeners and routes too (the text report of -A, or of many "
            "routes, otherwise shows only what has findings and counts the rest).",
            rich_help_panel=OUTPUT,
        ),
    ] = False,
    fix_plan: Annotated[
        bool,
        typer.Option(
            "--fix-plan",
            help="Print the deterministic fixes as one shell script to review instead of the report "
            "(egdoctor never runs it).",
            rich_help_panel=OUTPUT,
        ),
    ] = False,
    probes_only: Annotated[bool, typer.Option("--probes-only", hidden=True)] = False,
    collect_to: Annotated[str | None, typer.Option("--collect-to", hidden=True)] = None,
    color: Annotated[
        bool | None,
        typer.Option(
            "--color/--no-color",
            help="Force colour on or off (default: on a TTY, off when NO_COLOR is set).",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", help="On an internal error, print the traceback too.", rich_help_panel=OUTPUT
        ),
    ] = False,
    wait: Annotated[
        str | None,
        typer.Option(
            "--wait",
            help="Check the objects again (gently, backing off) until nothing at or above --fail-on "
            "remains or this time is up (e.g. 2m), then report; progress on stderr.",
            rich_help_panel=DIAGNOSIS,
        ),
    ] = None,
    allow_incomplete: Annotated[
        bool,
        typer.Option(
            "--allow-incomplete",
            help="When API errors leave checks unrun, judge the findings read (exit 0/1) instead of exit 3.",
            rich_help_panel=DIAGNOSIS,
        ),
    ] = False,
) -> None:
    """Diagnose Gateways, routes, client-IP mode and policies for a namespace (or all)."""
    try:
        timeout = parse_duration(request_timeout)
    except ValueError as exc:
        raise _usage_error(f"--request-timeout: {exc}") from None
    if namespace is not None and all_namespaces:
        raise _usage_error("-n/--namespace and -A/--all-namespaces cannot be used together")
    if namespace is not None and selector is not None:
        raise _usage_error("-n/--namespace and -l/--selector cannot be used together")
    if from_bundle is not None and from_file:
        raise _usage_error("--from-bundle and --from-file cannot be used together")
    wait_seconds = None
    if wait is not None and with_file:
        raise _usage_error("--wait and --with-file cannot be used together (the manifests are not applied)")
    if wait is not None:
        if from_bundle is not None or from_file:
            raise _usage_error("--wait needs a cluster: files and bundles do not change")
        try:
            wait_seconds = parse_duration(wait)
        except ValueError as exc:
            raise _usage_error(f"--wait: {exc}") from None
    all_namespaces = all_namespaces or selector is not None
    if "=" not in namespace_label or not namespace_label.split("=", 1)[0]:
        raise _usage_error(f"--namespace-label {namespace_label!r}: use key=value")
    label_key, label_value = namespace_label.split("=", 1)
    if namespace is not None and not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", namespace):
        raise _usage_error(f"-n {namespace!r} is not a valid namespace name")
    probe_options = None
    if not no_probe:
        from egdoctor.probes.plan import OptionError, build_options

        try:
            probe_options = build_options(
                timeout=parse_duration(probe_timeout),
                observe=observe,
                addresses=address,
                resolver=resolver,
                expect_client_ip=expect_client_ip,
                ca_file=ca_file,
                probe_allow=probe_allow,
                expect_hops=expect_hops,
                namespace=namespace,
            )
        except ValueError as exc:  # OptionError names its option; parse_duration's does not
            message = str(exc) if isinstance(exc, OptionError) else f"--probe-timeout: {exc}"
            raise _usage_error(message) from None

    from egdoctor.checks.registry import Options
    from egdoctor.findings.model import Severity
    from egdoctor.findings.suppress import parse_rule
    from egdoctor.pipeline import (
        DiagnosisRequest,
        RequestRefused,
        Unavailable,
        diagnose,
        diagnose_until_clean,
    )

    threshold = None if fail_on is FailOn.none else Severity(fail_on.value)
    try:
        suppress_rules = tuple(parse_rule(rule) for rule in suppress or ())
    except ValueError as exc:
        raise _usage_error(str(exc)) from None
    request = DiagnosisRequest(
        options=Options(
            gateway_class=gateway_class,
            namespace_label=(label_key, label_value),
            expect_mode=expect_mode.value if expect_mode else None,
            expect_hops=expect_hops,
            cert_warn_days=cert_warn_days,
        ),
        namespace=namespace,
        all_namespaces=all_namespaces,
        selector=selector,
        kubeconfig=kubeconfig,
        context=context,
        request_timeout=timeout,
        from_files=tuple(from_file or ()),
        probe_options=probe_options,
        probes_only=probes_only,
        fail_on=threshold,
        min_severity=Severity(min_severity.value),
        suppress=suppress_rules,
        allow_incomplete=allow_incomplete,
        from_bundle=from_bundle,
        with_files=tuple(with_file or ()),
    )
    if collect_to is not None:
        _collect(request, collect_to, output)
    try:
        report = diagnose(request) if wait_seconds is None else diagnose_until_clean(request, wait_seconds)
    except RequestRefused as exc:
        raise _usage_error(str(exc)) from None
    except Unavailable as exc:
        _unavailable(exc.cause, output, exc.scope, all_namespaces, threshold)
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    if fix_plan:
        from egdoctor.fixes.script import fix_plan as plan_script

        sys.stdout.write(plan_script(report))
    else:
        _render(report, output, color, show_all)
    if report.diagnosis.could_not_run:
        _say(f"the diagnosis could not run: {report.diagnosis.could_not_run}")
    elif report.incomplete:
        _say(f"the run is incomplete: {report.incomplete} (exit 3; --allow-incomplete accepts it)")
    raise typer.Exit(report.exit_code)


PROBE_EXAMPLES = """[bold]Examples[/]

  egdoctor probe -n myapp                          [dim]# the client IP Envoy sees for myapp's hostnames[/]

  egdoctor probe -n myapp --address 192.0.2.10     [dim]# probe this load balancer address instead[/]

  egdoctor probe -n myapp --observe route          [dim]# observe through a temporary HTTPRoute[/]

Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it, 2 usage error,
3 the diagnosis could not run, 130 interrupted."""


@app.command("probe", epilog=PROBE_EXAMPLES)
@functools.wraps(check)
def probe(**kwargs: object) -> None:
    check(**{**kwargs, "probes_only": True, "no_probe": False})  # type: ignore[arg-type]


# `probe` takes check's options minus the two that make no sense for it.
_check_signature = inspect.signature(check, eval_str=True)  # typer reads evaluated Annotated metadata
probe.__signature__ = _check_signature.replace(  # type: ignore[attr-defined]
    parameters=[
        p
        for p in _check_signature.parameters.values()
        if p.name not in ("no_probe", "probes_only", "collect_to")
    ]
)
probe.__doc__ = """Only the live probes: the client IP Envoy observes, PROXY/XFF behaviour, DNS and served
certificates. Objects are still read for addresses, hostnames and mode; static findings other than access
problems are not reported."""


COLLECT_EXAMPLES = """[bold]Examples[/]

  egdoctor collect -n myapp -o myapp.tar.gz        [dim]# what egdoctor reads and observes for myapp[/]

  egdoctor collect -A --no-probe -o cluster.tar.gz [dim]# every namespace, objects only[/]

  egdoctor check --from-bundle myapp.tar.gz        [dim]# the same diagnosis, offline, anywhere[/]

The bundle holds every object egdoctor read, what could not be read, the probe observations and a
manifest. Secrets keep only their certificate (tls.crt) and key names; IP addresses are kept.
Exit codes: 0 bundle written, 2 usage error, 3 the cluster could not be read, 130 interrupted."""

_NOT_FOR_COLLECT = (
    "output",
    "fail_on",
    "min_severity",
    "suppress",
    "show_all",
    "probes_only",
    "color",
    "from_file",
    "from_bundle",
    "collect_to",
    "allow_incomplete",
    "wait",
    "with_file",
    "fix_plan",
)


@app.command("collect", epilog=COLLECT_EXAMPLES)
def collect(bundle: str, **kwargs: object) -> None:
    check(**{**kwargs, "collect_to": bundle})  # type: ignore[arg-type]


_bundle_option = inspect.Parameter(
    "bundle",
    inspect.Parameter.KEYWORD_ONLY,
    annotation=Annotated[
        str,
        typer.Option(
            "-o",
            "--output",
            help="The bundle file to write (e.g. ticket-1234.tar.gz).",
            rich_help_panel=OUTPUT,
        ),
    ],
)
collect.__signature__ = _check_signature.replace(  # type: ignore[attr-defined]
    parameters=[
        _bundle_option,
        *(
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for p in _check_signature.parameters.values()
            if p.name not in _NOT_FOR_COLLECT
        ),
    ]
)
collect.__doc__ = """Write a support bundle: every object egdoctor reads for the namespace(s), what it could
not read, the probe observations and a manifest. `egdoctor check --from-bundle FILE` diagnoses it offline."""


def _collect(request: object, path: str, output: Output) -> None:
    from egdoctor.pipeline import DiagnosisRequest, RequestRefused, Unavailable, collect

    assert isinstance(request, DiagnosisRequest)
    try:
        report = collect(request, path)
    except RequestRefused as exc:
        raise _usage_error(str(exc)) from None
    except Unavailable as exc:
        _unavailable(exc.cause, output, exc.scope, request.all_namespaces, None)
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    snap = report.diagnosis.snapshot
    objects = sum(len(objs) for objs in snap.objects.values())
    probes = report.probes
    probed = "no probes" if probes is None or probes.skipped else f"{len(probes.rows)} probe results"
    problems = f", {len(snap.problems)} lists not read" if snap.problems else ""
    _say(f"wrote {path}: {objects} objects, {probed}{problems}; {len(report.findings)} findings")
    raise typer.Exit(EXIT_OK)


def _render(report: object, output: Output, color: bool | None, show_all: bool) -> None:
    from egdoctor.report.formats import render
    from egdoctor.report.view import Report

    assert isinstance(report, Report)
    render(report, output.value, color, show_all)


def _unavailable(
    exc: ClusterUnavailable,
    output: Output,
    scope: frozenset[str] | None,
    every: bool,
    fail_on: Severity | None,
) -> None:
    from egdoctor.findings.codes import make_finding

    where = (f" {exc.server}" if exc.server else "") + (f" (context {exc.context})" if exc.context else "")
    kubectl = f"kubectl --context {exc.context}" if exc.context else "kubectl"
    finding = make_finding(
        "EGD001",
        where=where,
        kubectl=kubectl,
        reason=exc.reason,
        evidence={"server": exc.server or None, "context": exc.context or None},
    )
    _say(f"{finding.code} {finding.message}")
    from egdoctor.report.formats import render_unavailable
    from egdoctor.report.json_out import unavailable_json

    document = unavailable_json(finding, exc.server, exc.context, scope, every, fail_on)
    render_unavailable(document, f"{finding.code} {finding.message}", output.value)


def main() -> None:
    import logging

    # Libraries log through the root logger (the kubernetes client prints exec-plugin output, which may
    # hold a token): egdoctor speaks only through its report and its one-line errors.
    logging.getLogger().addHandler(logging.NullHandler())
    from egdoctor.interrupt import EXIT_INTERRUPTED, exit_on_interrupt
    from egdoctor.progress import activate, for_stderr

    activate(for_stderr())
    with exit_on_interrupt():
        try:
            # typer turns a KeyboardInterrupt into exit code 130 silently; exit_on_interrupt says it
            code = app(standalone_mode=False)
        except _CLICK_EXCEPTION as exc:  # option and argument errors, worded like egdoctor's own
            _say(usage_message(exc))
            sys.exit(EXIT_USAGE)
        except typer.Abort:
            _say("aborted")
            sys.exit(1)
        except Exception as exc:
            # Whatever a cluster or a file holds, egdoctor ends with one line and "could not run", never
            # with a traceback and never with 1, which pipelines read as "findings".
            _internal_error(exc)
            sys.exit(EXIT_UNAVAILABLE)
        if code == EXIT_INTERRUPTED:
            raise KeyboardInterrupt
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def _internal_error(exc: Exception) -> None:
    if "--debug" in sys.argv[1:]:
        import traceback

        traceback.print_exc()
    _say(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")


# typer re-exports click's BadParameter (a UsageError, a ClickException) but not the bases; whichever
# click typer carries, its exceptions derive from ClickException.
_CLICK_EXCEPTION: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


def usage_message(exc: Exception) -> str:
    """One line: what was wrong, and where the options are listed."""
    ctx = getattr(exc, "ctx", None)
    where = ctx.command_path if ctx is not None else "egdoctor"
    if type(exc).__name__ == "NoArgsIsHelpError":
        return f"no command given (`{where} --help` lists them)"
    format_message = getattr(exc, "format_message", None)
    text = format_message() if callable(format_message) else str(exc)
    text = " ".join(str(text).replace("Value error, ", "").split()).rstrip(".")
    return f"{text} (`{where} --help` lists the options)"


if __name__ == "__main__":
    main()
