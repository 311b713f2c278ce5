"""The probe phase of `scripts/bench`: `egdoctor check` with probes, per observer, on a healthy lab Gateway.

Each scenario is brought up with its data path (the API stand-in plus real HAProxy, real Envoy and the
echo backend, all on loopback), then `egdoctor check -n NS -o json` runs as its own process once per
observer: wall time is the median of several runs after one warm-up, and the probe phase's own duration
is the report's `probeElapsedSeconds` (the engine's clock from planning to judging), not a difference of
wall times.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from egdoctor_lab.scenario import SCENARIO_DIR

# (what it exercises, scenario): the healthy rows of the probe matrix that have a data path.
SCENARIOS = (
    ("direct mode, PROXY v2", "probe-direct-v2-strict"),
    ("XFF mode, one edge proxy", "probe-xff-edge1-hops1"),
)
# Every --observe value; the lab's backend echoes request headers on any path no route takes.
OBSERVERS = ("auto", "logs", "route", "echo:/echo", "none")
NO_PROBE = "--no-probe"
PROBE_TIMEOUT_S = 3.0  # egdoctor's default --probe-timeout, which the bench leaves as it is
RUN_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ProbeFigures:
    """What one report says about its probe phase."""

    phase_s: float | None  # probeElapsedSeconds; None with --no-probe or when the JSON is unreadable
    requests: int | None  # HTTP and TLS requests sent (plain, with PROXY headers, with XFF chains)
    lookups: int | None  # DNS rows
    observer: str  # the observer the report says it used (an explicit one may have fallen back)


@dataclass(frozen=True)
class ProbeMeasure:
    label: str  # the --observe value, or --no-probe
    wall_s: float  # median
    phase_s: float | None  # median of probeElapsedSeconds
    phase_max_s: float | None
    figures: ProbeFigures  # of the last run (the counts do not change between runs)
    exit_codes: tuple[int, ...]


def probe_figures(stdout: str) -> ProbeFigures:
    """The probe phase's figures from `egdoctor check -o json` output; unreadable output gives Nones."""
    try:
        report = json.loads(stdout)
    except ValueError:
        return ProbeFigures(None, None, None, "unreadable report")
    if not isinstance(report, dict):
        return ProbeFigures(None, None, None, "unreadable report")
    phase = report.get("probeElapsedSeconds")
    rows = report.get("probes")
    observer = report.get("probeObserver")
    if not isinstance(rows, list):
        return ProbeFigures(None, None, None, str(observer or "-"))
    # A probe the budget or the allow-list kept back has no row (a note says so): every request row went out.
    exchanges = [r for r in rows if isinstance(r, dict) and r.get("kind") in ("http", "tls")]
    lookups = [r for r in rows if isinstance(r, dict) and r.get("kind") == "dns"]
    return ProbeFigures(
        float(phase) if isinstance(phase, int | float) else None,
        len(exchanges),
        len(lookups),
        str(observer or "-"),
    )


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, int, ProbeFigures]:
    started = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=RUN_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return time.monotonic() - started, -1, ProbeFigures(None, None, None, "timed out")
    return time.monotonic() - started, proc.returncode, probe_figures(proc.stdout)


def measure_observer(label: str, cmd: list[str], env: dict[str, str], runs: int) -> ProbeMeasure:
    _run(cmd, env)  # warm-up: bytecode caches, and Envoy's first connections
    walls: list[float] = []
    phases: list[float] = []
    codes: set[int] = set()
    figures = ProbeFigures(None, None, None, "-")
    for _ in range(runs):
        wall, code, figures = _run(cmd, env)
        walls.append(wall)
        codes.add(code)
        if figures.phase_s is not None:
            phases.append(figures.phase_s)
    return ProbeMeasure(
        label,
        statistics.median(walls),
        statistics.median(phases) if phases else None,
        max(phases) if phases else None,
        figures,
        tuple(sorted(codes)),
    )


def _probe_args(lab: Any) -> list[str]:
    """What a user of the lab passes: its DNS server and the CA of its listener certificates."""
    args = ["--kubeconfig", str(lab.kubeconfig_path)]
    if lab.dns_address is not None:
        args += ["--resolver", f"{lab.dns_address[0]}:{lab.dns_address[1]}"]
    if lab.lab_ca_path is not None:
        args += ["--ca-file", str(lab.lab_ca_path)]
    return args


def bench_scenario(egdoctor: str, scenario: str, runs: int, home: Path) -> tuple[str, list[ProbeMeasure]]:
    """(namespace, one measure per observer then --no-probe) for one scenario, on a lab of its own."""
    from egdoctor_lab.cluster import LabCluster

    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "NO_COLOR")}
    env["HOME"] = str(home)
    # The lab's Gateways live on 127.0.0.0/8; never let a probe leave it.
    env["EGDOCTOR_PROBE_ALLOW"] = "127.0.0.0/8"
    with (
        tempfile.TemporaryDirectory(prefix="egdoctor-bench-lab-") as state,
        LabCluster.from_scenario(SCENARIO_DIR / f"{scenario}.yaml", state) as lab,
    ):
        namespace = lab.scenario.settings.get("context", {}).get("namespace", "default")
        base = [egdoctor, "check", "-n", namespace, "-o", "json", *_probe_args(lab)]
        out = [measure_observer(o, [*base, "--observe", o], env, runs) for o in OBSERVERS]
        out.append(measure_observer(NO_PROBE, [*base, NO_PROBE], env, runs))
    return namespace, out


def _seconds(value: float | None) -> str:
    return f"{value:.2f}s" if value is not None else "-"


def _count(value: int | None) -> str:
    return str(value) if value is not None else "-"


def _observer_used(label: str) -> str:
    """The report's observer label, without the temporary route's random name."""
    return "temporary HTTPRoute" if label.startswith("route ") else label


def probe_table(title: str, rows: list[ProbeMeasure]) -> str:
    head = (
        f"  {'--observe':11} {'observer used':22} {'wall (median)':>13} {'over --no-probe':>15} "
        f"{'probe phase':>11} {'phase max':>9} {'requests':>8} {'dns':>4} {'exit':>5}"
    )
    lines = [title, head]
    baseline = next((m.wall_s for m in rows if m.label == NO_PROBE), None)
    for m in rows:
        f = m.figures
        probed = m.label != NO_PROBE
        used = _observer_used(f.observer) if probed else "-"
        over = f"{m.wall_s - baseline:+.2f}s" if probed and baseline is not None else "-"
        exits = ",".join(str(c) for c in m.exit_codes)
        lines.append(
            f"  {m.label:11} {used[:22]:22} {m.wall_s:12.2f}s {over:>15} {_seconds(m.phase_s):>11} "
            f"{_seconds(m.phase_max_s):>9} {_count(f.requests):>8} {_count(f.lookups):>4} {exits:>5}"
        )
    return "\n".join(lines)


def bound_line() -> str:
    per_port = 2 * PROBE_TIMEOUT_S
    return (
        f"documented bound: each probe within --probe-timeout ({PROBE_TIMEOUT_S:g}s, the default), the\n"
        f"  probe phase within two probes' worth per port ({per_port:g}s; docs/testing.md); the\n"
        "  scenario tests hold a lab probe phase to 8s (tests/test_scenarios.py)"
    )


def run_probe_section(egdoctor: str, runs: int, home: Path) -> None:
    """Print the probe section, or why it cannot run here."""
    from egdoctor_lab.datapath import missing_binaries

    print("probe phase on a healthy lab Gateway, per observer", flush=True)
    missing = missing_binaries()
    if missing:
        print(f"  skipped: the lab's data path needs {'; '.join(missing)}\n")
        return
    print(
        f"  `egdoctor check -n NS -o json --observe O`, median of {runs} run{'s' if runs != 1 else ''} after "
        "one warm-up;\n  probe phase: the report's probeElapsedSeconds (median, max); requests: HTTP/TLS\n"
        "  requests sent (plain, PROXY, XFF); dns: lookups; --no-probe: the same command without probes"
    )
    print(f"  {bound_line()}\n", flush=True)
    for what, scenario in SCENARIOS:
        namespace, rows = bench_scenario(egdoctor, scenario, runs, home)
        print(probe_table(f"{what}: {scenario}, -n {namespace}", rows) + "\n", flush=True)
