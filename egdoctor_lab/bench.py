"""`scripts/bench`: egdoctor against `kubectl get` of the same kinds, on one lab API with injected latency;
then the probe phase per observer on a healthy lab Gateway with a data path (`egdoctor_lab/bench_probes.py`).

Each command runs as its own process against the same in-process lab API server; wall time is the median
of several runs after one warm-up (kubectl's discovery cache and Python's bytecode are warm, as on a
user's machine), peak memory is the child's own maximum resident set (wait4), and the API request count
comes from the lab's request log.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from egdoctor_lab.apiserver import LabApiServer
from egdoctor_lab.bench_cluster import Size, namespace_name, objects
from egdoctor_lab.bench_probes import run_probe_section

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Measure:
    label: str
    wall_s: float  # median
    peak_mb: float
    requests: int
    exit_codes: tuple[int, ...]


def default_egdoctor() -> str:
    venv = ROOT / ".venv" / "bin" / "egdoctor"
    return str(venv) if venv.exists() else (shutil.which("egdoctor") or "egdoctor")


def ensure_kubectl() -> tuple[str | None, str]:
    """(path, note): Debian's kubectl package, installed with apt when missing and we may."""
    found = shutil.which("kubectl")
    if found:
        return found, ""
    if os.geteuid() == 0 and shutil.which("apt-get"):
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "check": False}
        subprocess.run(["apt-get", "update"], **quiet)  # type: ignore[call-overload]
        subprocess.run(["apt-get", "install", "-y", "kubectl"], **quiet)  # type: ignore[call-overload]
        found = shutil.which("kubectl")
        if found:
            return found, "installed kubectl with apt"
        return None, "kubectl could not be installed with apt (no kubectl package in the configured sources)"
    return None, "kubectl is not installed and this is not root with apt-get: no kubectl baseline"


def _kubectl_kinds() -> str:
    """The kinds egdoctor lists, as kubectl resource names (Secrets are never listed by egdoctor)."""
    from egdoctor.snapshot.kinds import KINDS

    names = {f"{s.plural}.{s.group}" if s.group else s.plural for s in KINDS.values() if s.name != "Secret"}
    return ",".join(sorted(names))


_TIME = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)


def _run_once(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB or NaN, exit code). The peak comes from GNU time run around the
    command: a child forked straight from this process would report this process's memory (the lab's
    objects) as its own high-water mark."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        wrapped = [_TIME, "-f", "%M", "-o", rss.name, *cmd] if _TIME else cmd
        started = time.monotonic()
        code = subprocess.run(
            wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        ).returncode
        elapsed = time.monotonic() - started
        text = rss.read().strip().splitlines()
    peak_kb = float(text[-1]) if _TIME and text and text[-1].isdigit() else float("nan")
    return elapsed, peak_kb / 1024.0, code


def _requests(lab: LabApiServer) -> int:
    return sum(1 for _ in lab.requests_log_path.open(encoding="utf-8"))


def measure(label: str, cmd: list[str], env: dict[str, str], runs: int, lab: LabApiServer | None) -> Measure:
    _run_once(cmd, env)  # warm-up: caches as a user has them
    walls, peaks, codes, counts = [], [], [], []
    for _ in range(runs):
        before = _requests(lab) if lab else 0
        wall, peak, code = _run_once(cmd, env)
        counts.append(_requests(lab) - before if lab else 0)
        walls.append(wall)
        peaks.append(peak)
        codes.append(code)
    return Measure(label, statistics.median(walls), max(peaks), max(counts), tuple(sorted(set(codes))))


def bench_size(
    egdoctor: str, size: Size, latency_ms: float, runs: int, kubectl: str | None, home: Path
) -> list[Measure]:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG",)}
    env["HOME"] = str(home)
    cluster = objects(size)
    settings = {"latencyMs": latency_ms, "context": {"namespace": namespace_name(0)}}
    with (
        tempfile.TemporaryDirectory(prefix="egdoctor-bench-") as state,
        LabApiServer(cluster, settings, state) as lab,
    ):
        kubeconfig = str(lab.kubeconfig_path)
        egd = [egdoctor, "check", "--kubeconfig", kubeconfig, "--no-probe", "-o", "json"]
        out = [
            measure(f"egdoctor -A ({len(cluster)} objects)", [*egd, "-A"], env, runs, lab),
            measure(f"egdoctor -n {namespace_name(0)}", [*egd, "-n", namespace_name(0)], env, runs, lab),
        ]
        if kubectl:
            cmd = [kubectl, "--kubeconfig", kubeconfig, "get", _kubectl_kinds(), "-A", "-o", "json"]
            out.append(measure("kubectl get <same kinds> -A -o json", cmd, env, runs, lab))
    return out


def _table(title: str, rows: list[Measure]) -> str:
    lines = [title, f"  {'command':44} {'wall (median)':>14} {'peak RSS':>10} {'requests':>9} {'exit':>6}"]
    for m in rows:
        exits = ",".join(str(c) for c in m.exit_codes)
        peak = f"{m.peak_mb:8.0f}MB" if m.peak_mb == m.peak_mb else f"{'n/a':>10}"  # NaN: no GNU time
        lines.append(f"  {m.label:44} {m.wall_s:13.2f}s {peak} {m.requests:9d} {exits:>6}")
    by_label = {m.label.split(" (")[0]: m for m in rows}
    kubectl = next((m for m in rows if m.label.startswith("kubectl")), None)
    everything = by_label.get("egdoctor -A")
    if kubectl and everything:
        lines.append(
            f"  ratio kubectl / egdoctor -A: {kubectl.wall_s / everything.wall_s:.2f}x "
            f"({'egdoctor faster' if kubectl.wall_s > everything.wall_s else 'kubectl faster'})"
        )
    return "\n".join(lines)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores{memory}, "
        f"Python {platform.python_version()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, no size sweep")
    parser.add_argument("--runs", type=int, default=None, help="runs per command (default 5, --quick 3)")
    parser.add_argument("--latency-ms", type=float, default=25.0, help="latency per API request (default 25)")
    parser.add_argument("--namespaces", type=int, default=300)
    parser.add_argument("--routes", type=int, default=1500)
    parser.add_argument("--certificates", type=int, default=100)
    parser.add_argument("--no-kubectl", action="store_true", help="skip the kubectl baseline")
    parser.add_argument(
        "--no-probes", action="store_true", help="skip the probe phase per observer (needs envoy and haproxy)"
    )
    parser.add_argument(
        "--egdoctor", default=default_egdoctor(), help="the egdoctor executable to measure (another build)"
    )
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.quick else 5)
    size = Size(args.namespaces, args.routes, args.certificates)
    kubectl, note = (None, "kubectl baseline skipped (--no-kubectl)") if args.no_kubectl else ensure_kubectl()
    print(f"machine: {machine()}")
    if kubectl:
        ask = [kubectl, "version", "--client"]
        version = subprocess.run(ask, capture_output=True, text=True, check=False)
        print(f"kubectl: {version.stdout.strip().splitlines()[0] if version.stdout.strip() else kubectl}")
    if note:
        print(f"note: {note}")
    print(f"latency {args.latency_ms:g} ms per API request, median of {runs} runs after one warm-up\n")
    with tempfile.TemporaryDirectory(prefix="egdoctor-bench-home-") as home:
        helps = []
        for _ in range(runs):
            helps.append(_run_once([args.egdoctor, "--help"], dict(os.environ))[0])
        print(f"egdoctor --help start-up: {statistics.median(helps):.2f}s\n")
        sizes = [("default", size)]
        if not args.quick:
            sizes += [("10x smaller", size.scaled(0.1)), ("10x larger", size.scaled(10))]
        for name, each in sizes:
            sweep_runs = runs if name == "default" else max(1, min(runs, 3))
            rows = bench_size(args.egdoctor, each, args.latency_ms, sweep_runs, kubectl, Path(home))
            print(_table(f"{name}: {each.label()}", rows) + "\n", flush=True)
        if not args.no_probes:
            run_probe_section(args.egdoctor, runs, Path(home))
    return 0


if __name__ == "__main__":
    sys.exit(main())
