"""Command line for the lab: the API server stand-in and, for scenarios with ``spec.datapath``, the data path.

``up`` starts a scenario in the background and returns once the server answers; ``down`` stops it and
everything it started; ``serve`` runs in the foreground (``up`` spawns it); ``status`` and ``list`` are
for people. Everything a running lab owns lives in its state directory (default ``.lab/``):
``kubeconfig``, ``ca.pem``, ``requests.log``, ``server.log``, ``lab.json``, ``lab.pid``, and with a data
path ``listener-ca.pem`` and ``datapath/`` (HAProxy and Envoy configs and logs, access logs, ``pids.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from egdoctor_lab.eg.build import BuildError, envoy_binary, translator_binary
from egdoctor_lab.eg.releases import NEWEST, UnknownRelease, release
from egdoctor_lab.eg.translate import TranslateError
from egdoctor_lab.scenario import ScenarioError, builtin_scenarios, load_scenario

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
STOP_GRACE = 15.0  # the server stops HAProxy and Envoy (bounded waits of their own) before it exits
STATE_FILE = "lab.json"
PID_FILE = "lab.pid"
SERVER_LOG = "server.log"
CLUSTER_HELP = (
    "standin: the lab's API server serves the scenario as written; real: etcd, a real kube-apiserver, "
    "Envoy Gateway's controller and the lab as kubelet and cloud controller (Linux, root; built with Go "
    "on first use)"
)


def default_state_dir() -> Path:
    base = PACKAGE_ROOT if (PACKAGE_ROOT / "pyproject.toml").is_file() else Path.cwd()
    return base / ".lab"


def _state_dir(arg: str | None) -> Path:
    return (Path(arg).expanduser() if arg else default_state_dir()).resolve()


def _fail(message: str, code: int) -> int:
    print(f"lab: {message}", file=sys.stderr)
    return code


def _read_state(state_dir: Path) -> dict[str, Any] | None:
    try:
        state = json.loads((state_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _read_pid(state_dir: Path) -> int | None:
    state = _read_state(state_dir)
    if state and isinstance(state.get("pid"), int):
        return int(state["pid"])
    try:
        return int((state_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has exited; it only waits for a parent that may never reap it.
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _is_lab_process(pid: int) -> bool:
    """Guard against a recycled pid: only signal a process that is a lab server."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not Path("/proc/self/cmdline").exists():
        return True  # no procfs to check against; trust our own pid file
    try:
        argv = cmdline.read_bytes().split(b"\0")
    except OSError:
        return False
    return b"egdoctor_lab" in argv and b"serve" in argv


def _clean_state_files(state_dir: Path, pid: int | None = None) -> None:
    if pid is not None and _read_pid(state_dir) not in (None, pid):
        return  # a newer lab owns the state directory now
    for name in (STATE_FILE, PID_FILE):
        with contextlib.suppress(FileNotFoundError):
            (state_dir / name).unlink()


def _probe(state: dict[str, Any], timeout: float = 2.0) -> bool:
    try:
        context = ssl.create_default_context(cafile=state["ca"])
        with urllib.request.urlopen(f"{state['url']}/readyz", timeout=timeout, context=context) as response:
            return bool(response.status == 200)
    except (OSError, KeyError, ssl.SSLError, urllib.error.URLError):
        return False


def _stop(state_dir: Path, pid: int, grace: float = STOP_GRACE) -> bool:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def _reap_datapath(state_dir: Path) -> list[int]:
    """Stop data-path children a server that was killed left behind, by the PIDs it recorded.

    A PID is only signalled while its command line still names this state directory, so a recycled PID
    is never hit.
    """
    recorded: dict[str, Any] = {}
    # the stand-in's data path, and the real cluster's parts (control plane, EG, kubelet's pods, amphora)
    for pid_file in [
        state_dir / "datapath" / "pids.json",
        *sorted((state_dir / "real").glob("**/pids.json")),
    ]:
        try:
            found = json.loads(pid_file.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(found, dict):
            recorded.update({f"{pid_file.parent.name}/{k}": v for k, v in found.items()})
    stopped = []
    for pid in (v for v in recorded.values() if isinstance(v, int)):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(state_dir) not in argv or not _alive(pid):
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 3.0
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        stopped.append(pid)
    return stopped


def _running_pid(state_dir: Path) -> int | None:
    pid = _read_pid(state_dir)
    if pid is not None and _alive(pid) and _is_lab_process(pid):
        return pid
    return None


# -- commands ---------------------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from egdoctor_lab.cluster import LabCluster
    from egdoctor_lab.datapath import LabError

    state_dir = _state_dir(args.state_dir)
    if args.cluster == "real":
        return _serve_real(args, state_dir)
    try:
        scenario = load_scenario(args.scenario)
        lab = LabCluster.from_scenario(scenario, state_dir, port=args.port, eg=args.eg)
    except (ScenarioError, UnknownRelease) as exc:
        return _fail(str(exc), 2)

    stop = _stop_on_signals()
    pid = os.getpid()
    try:
        with lab:
            state = {
                **lab.info(),
                "state_dir": str(state_dir),
                "pid": pid,
                "scenario_path": str(scenario.path),
                "requests_log": str(lab.api.requests_log_path),
            }
            _write_atomic(state_dir / PID_FILE, f"{pid}\n")
            _write_atomic(state_dir / STATE_FILE, json.dumps(state, indent=2) + "\n")
            print(f"lab: serving scenario {scenario.name!r} at {lab.url} (pid {pid})", flush=True)
            print(f"lab: kubeconfig {lab.kubeconfig_path}", flush=True)
            for key, gw in state["gateways"].items():
                print(
                    f"lab: Gateway {key}: LB {gw['lb']}, entry {gw['entry']}, ports {gw['ports']}", flush=True
                )
            if state["dns"]:
                print(f"lab: DNS {state['dns']}", flush=True)
            for line in lab.api.skipped:
                print(f"lab: not served: {line}", flush=True)
            for line in state.get("notes") or []:
                print(f"lab: note: {line}", flush=True)
            while not stop.wait(0.5):
                pass
    except ScenarioError as exc:
        return _fail(str(exc), 2)
    except (LabError, BuildError, TranslateError) as exc:
        return _fail(str(exc), 1)
    finally:
        _clean_state_files(state_dir, pid)
    print("lab: stopped", flush=True)
    return 0


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT: `lab down` and Ctrl-C end `serve` the same way."""
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop


def _serve_real(args: argparse.Namespace, state_dir: Path) -> int:
    """``serve --cluster real``: etcd, kube-apiserver, the EG controller and the lab's node until stopped."""
    from egdoctor_lab.realcluster.lab import RealCluster

    try:
        scenario = load_scenario(args.scenario)
        rel = release(args.eg or NEWEST)
    except (ScenarioError, UnknownRelease) as exc:
        return _fail(str(exc), 2)
    stop = _stop_on_signals()
    pid = os.getpid()
    cluster = RealCluster(scenario, state_dir, rel)
    try:
        with cluster:
            state = {
                **cluster.info(),
                "state_dir": str(state_dir),
                "pid": pid,
                "scenario_path": str(scenario.path),
            }
            _write_atomic(state_dir / PID_FILE, f"{pid}\n")
            _write_atomic(state_dir / STATE_FILE, json.dumps(state, indent=2) + "\n")
            print(f"lab: real cluster for {scenario.name!r} at {cluster.control.url} (pid {pid})", flush=True)
            print(f"lab: timings {json.dumps(cluster.timings)}", flush=True)
            while not stop.wait(0.5):
                pass
    except Exception as exc:
        return _fail(f"real cluster: {type(exc).__name__}: {exc}", 1)
    finally:
        _clean_state_files(state_dir, pid)
    print("lab: stopped", flush=True)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from egdoctor_lab.apiserver import LabApiServer
    from egdoctor_lab.translate import datapath_settings

    state_dir = _state_dir(args.state_dir)
    try:
        scenario = load_scenario(args.scenario)
        # Surfaces object-level and spec.datapath problems before anything is spawned.
        LabApiServer.from_scenario(scenario)
        datapath_settings(scenario.settings)
        wanted = args.eg or (str(scenario.settings["eg"]) if scenario.settings.get("eg") else None)
        rel = release(wanted) if wanted else None
    except (ScenarioError, UnknownRelease) as exc:
        return _fail(str(exc), 2)
    if args.cluster == "real":
        from egdoctor_lab.realcluster.build import envoy_gateway_binary, kube_binaries

        rel = rel or release(NEWEST)
        try:
            kube_binaries()
            envoy_gateway_binary(rel)
            envoy_binary(rel)
        except BuildError as exc:
            return _fail(str(exc), 1)
    elif rel is not None:
        # Built here, in the foreground with its progress on stderr, so the server starts at once.
        try:
            translator_binary(rel)
            envoy_binary(rel)
        except BuildError as exc:
            return _fail(str(exc), 1)

    previous = _running_pid(state_dir)
    if previous is not None:
        _stop(state_dir, previous)
        print(f"lab: stopped the previous lab (pid {previous})", file=sys.stderr)
    state_dir.mkdir(parents=True, exist_ok=True)
    _clean_state_files(state_dir)

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH")) if p)
    command = [
        sys.executable,
        "-m",
        "egdoctor_lab",
        "serve",
        str(scenario.path),
        "--state-dir",
        str(state_dir),
    ]
    if args.port:
        command += ["--port", str(args.port)]
    if rel is not None:
        command += ["--eg", rel.version]
    if args.cluster == "real":
        command += ["--cluster", "real"]
    with open(state_dir / SERVER_LOG, "wb") as log:
        # A new session keeps the server alive when the terminal that ran `up` goes away.
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    timeout = args.timeout if args.timeout is not None else (300.0 if args.cluster == "real" else 30.0)
    deadline = time.monotonic() + timeout
    state: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (state_dir / SERVER_LOG).read_text(errors="replace").strip().splitlines()[-5:]
            detail = f": {' | '.join(tail)}" if tail else ""
            return _fail(f"the lab server exited with code {proc.returncode}{detail}", 1)
        state = _read_state(state_dir)
        if state and state.get("pid") == proc.pid and (state.get("cluster") == "real" or _probe(state)):
            break
        time.sleep(0.05)
    else:
        proc.kill()
        proc.wait()
        return _fail(f"the lab server did not answer within {timeout:g}s (see {state_dir / SERVER_LOG})", 1)

    assert state is not None
    if args.json:
        keys = ("kubeconfig", "url", "state_dir", "pid", "scenario", "dns", "gateways", "caFile", "eg")
        if state.get("cluster") == "real":
            keys += ("cluster", "kubeconfigs", "versions", "loadBalancers", "timings")
        print(json.dumps({k: state.get(k) for k in keys}))
    else:
        print(f"lab up: scenario {scenario.name!r} at {state['url']} (pid {proc.pid})")
        if state.get("cluster") == "real" and rel is not None:
            print(
                f"real cluster: Envoy Gateway {rel.version}'s controller writes statuses, Envoy runs its xDS"
            )
        elif rel is not None:
            print(
                f"Envoy Gateway {rel.version} (its translator writes the statuses and Envoy's configuration)"
            )
        print(f"kubeconfig: {state['kubeconfig']}")
        print(f"  export KUBECONFIG={state['kubeconfig']}")
        for who, path in (state.get("kubeconfigs") or {}).items():
            print(f"  {who}: {path}")
        if state.get("versions"):
            print("versions: " + ", ".join(f"{k} {v}" for k, v in state["versions"].items()))
        for key, lb in (state.get("loadBalancers") or {}).items():
            print(f"load balancer {key} (Gateway {lb['gateway']}): {lb['lb']}, ports {lb['ports']}")
        for key, gw in (state.get("gateways") or {}).items():
            edges = f", edges {', '.join(gw['edges'])}" if gw.get("edges") else ""
            print(f"Gateway {key}: LB {gw['lb']}{edges}, ports {gw['ports']}")
        if state.get("dns"):
            print(f"DNS server: {state['dns']}")
        if state.get("caFile"):
            print(f"listener CA: {state['caFile']}")
    return 0


def cmd_eg_build(args: argparse.Namespace) -> int:
    """Build every pinned release's tools now (what the EG tier of the tests and --eg need)."""
    from egdoctor_lab.eg.build import egctl_binary
    from egdoctor_lab.eg.releases import RELEASES

    try:
        releases = list(RELEASES.values()) if args.eg in (None, "all") else [release(args.eg)]
    except UnknownRelease as exc:
        return _fail(str(exc), 2)
    started = time.monotonic()
    try:
        for rel in releases:
            tools = [translator_binary(rel), envoy_binary(rel)]
            if rel.egctl_builds and not args.no_egctl:
                tools.append(egctl_binary(rel))
            print(f"EG {rel.version}: " + ", ".join(str(t) for t in tools))
    except BuildError as exc:
        return _fail(str(exc), 1)
    print(f"eg-build: ready in {time.monotonic() - started:.0f} s")
    return 0


def cmd_real_build(args: argparse.Namespace) -> int:
    """Build what ``--cluster real`` runs: kube-apiserver, etcd, envoy-gateway and Envoy (cached)."""
    from egdoctor_lab.realcluster.build import envoy_gateway_binary, kube_binaries

    try:
        rel = release(args.eg or NEWEST)
    except UnknownRelease as exc:
        return _fail(str(exc), 2)
    started = time.monotonic()
    try:
        tools = [*kube_binaries().values(), envoy_gateway_binary(rel), envoy_binary(rel)]
    except BuildError as exc:
        return _fail(str(exc), 1)
    print(f"real cluster ({rel.version}): " + ", ".join(str(t) for t in tools))
    print(f"real-build: ready in {time.monotonic() - started:.0f} s")
    return 0


def cmd_drift(args: argparse.Namespace) -> int:
    from egdoctor_lab.certs import CertificateFactory, fill_certificates
    from egdoctor_lab.eg.drift import scenario_drift
    from egdoctor_lab.eg.releases import RELEASES
    from egdoctor_lab.eg.statuses import explanations, kept_objects
    from egdoctor_lab.eg.translate import run_translator

    try:
        releases = list(RELEASES.values()) if args.eg in (None, "all") else [release(args.eg)]
        paths = args.scenarios or [str(p) for p in builtin_scenarios()]
        scenarios = [load_scenario(p) for p in paths]
    except (ScenarioError, UnknownRelease) as exc:
        return _fail(str(exc), 2)
    factory = CertificateFactory()
    inputs = []
    for scenario in scenarios:
        objects = [dict(o) for o in scenario.objects]
        fill_certificates(objects, factory)
        inputs.append(objects)
    worst = 0
    for rel in releases:
        unexplained = 0
        touched = set()
        try:
            translator_binary(rel)  # built once, before the workers start
            with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
                translations = list(pool.map(run_translator, [rel] * len(inputs), inputs))
        except (BuildError, TranslateError) as exc:
            return _fail(str(exc), 1)
        for scenario, objects, translation in zip(scenarios, inputs, translations, strict=True):
            diffs = scenario_drift(
                objects,
                translation,
                kept_objects(scenario.settings),
                explanations(scenario.settings),
                rel.version,
            )
            for diff in diffs:
                if not diff.explained:
                    unexplained += 1
                    touched.add(scenario.name)
                if args.all or not diff.explained:
                    print(f"{rel.version} {scenario.name}: {diff.line()}")
        print(f"drift ({rel.version}): {unexplained} unexplained differences in {len(touched)} scenarios")
        worst = max(worst, unexplained)
    return 1 if worst else 0


def cmd_down(args: argparse.Namespace) -> int:
    state_dir = _state_dir(args.state_dir)
    pid = _running_pid(state_dir)
    if pid is None:
        _clean_state_files(state_dir)
        _reap_datapath(state_dir)
        message = f"no lab running (state dir {state_dir})"
        print(json.dumps({"stopped": False, "state_dir": str(state_dir)}) if args.json else f"lab: {message}")
        return 0
    stopped = _stop(state_dir, pid)
    _reap_datapath(state_dir)
    if not stopped:
        return _fail(f"lab (pid {pid}) did not stop", 1)
    _clean_state_files(state_dir, pid)
    if args.json:
        print(json.dumps({"stopped": True, "pid": pid, "state_dir": str(state_dir)}))
    else:
        print(f"lab: stopped (pid {pid})")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    state_dir = _state_dir(args.state_dir)
    pid = _running_pid(state_dir)
    state = _read_state(state_dir) if pid is not None else None
    if args.json:
        print(json.dumps({"running": pid is not None, "state_dir": str(state_dir), **(state or {})}))
    elif state is None:
        print(f"lab: not running (state dir {state_dir})")
    else:
        print(f"lab: scenario {state.get('scenario')!r} at {state.get('url')} (pid {pid})")
        print(f"kubeconfig: {state.get('kubeconfig')}")
    return 0 if pid is not None else 3


def cmd_list(args: argparse.Namespace) -> int:
    for path in builtin_scenarios(include_internal=args.all):
        try:
            description = load_scenario(path).description
        except ScenarioError as exc:
            description = f"(invalid: {exc})"
        print(f"{path.stem:40} {description}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """A scenario's objects as `kubectl get -o yaml` prints them: the kind of dump customers send."""
    import yaml

    try:
        objects = [dict(o) for o in load_scenario(args.scenario).objects]
    except ScenarioError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 2
    text = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": objects}, sort_keys=False)
    if args.output and args.output != "-":
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lab", description="egdoctor lab: a Kubernetes API server stand-in and the data path behind it"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    state_help = f"state directory (default {default_state_dir()})"
    eg_help = (
        f"run a pinned Envoy Gateway release (or 'newest', now {NEWEST}): its translator writes the "
        "statuses and Envoy runs its configuration (built with Go on first use)"
    )

    up = sub.add_parser("up", help="start a scenario in the background and print how to reach it")
    up.add_argument("scenario", help="scenario file, or the name of a built-in scenario")
    up.add_argument(
        "--json",
        action="store_true",
        help="print kubeconfig, url, state_dir, pid, scenario, dns, gateways and caFile as JSON",
    )
    up.add_argument("--state-dir", help=state_help)
    up.add_argument("--eg", metavar="VERSION", help=eg_help)
    up.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    up.add_argument(
        "--timeout",
        type=float,
        help="seconds to wait for the lab to answer (default 30, 300 with --cluster real)",
    )
    up.add_argument("--cluster", choices=("standin", "real"), default="standin", help=CLUSTER_HELP)
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="stop the lab started with `up`")
    down.add_argument("--state-dir", help=state_help)
    down.add_argument("--json", action="store_true")
    down.set_defaults(func=cmd_down)

    status = sub.add_parser("status", help="show whether a lab is running (exit 3 when not)")
    status.add_argument("--state-dir", help=state_help)
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    serve = sub.add_parser("serve", help="run a scenario in the foreground until interrupted")
    serve.add_argument("scenario", help="scenario file, or the name of a built-in scenario")
    serve.add_argument("--state-dir", help=state_help)
    serve.add_argument("--eg", metavar="VERSION", help=eg_help)
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--cluster", choices=("standin", "real"), default="standin", help=CLUSTER_HELP)
    serve.set_defaults(func=cmd_serve)

    eg_build = sub.add_parser(
        "eg-build", help="build the pinned Envoy Gateway releases' translator, egctl and Envoy (cached)"
    )
    eg_build.add_argument("--eg", metavar="VERSION", help="one pinned release (default: all of them)")
    eg_build.add_argument("--no-egctl", action="store_true", help="skip egctl (only tests compare with it)")
    eg_build.set_defaults(func=cmd_eg_build)

    real_build = sub.add_parser(
        "real-build",
        help="build what --cluster real runs: kube-apiserver, etcd, envoy-gateway, Envoy (cached)",
    )
    real_build.add_argument("--eg", metavar="VERSION", help=f"the EG release (default: newest, {NEWEST})")
    real_build.set_defaults(func=cmd_real_build)

    drift = sub.add_parser(
        "drift", help="compare the scenarios' statuses with the ones Envoy Gateway's translator computes"
    )
    drift.add_argument("scenarios", nargs="*", help="scenario files or names (default: every built-in one)")
    drift.add_argument("--eg", metavar="VERSION", help="one pinned release (default: all of them)")
    drift.add_argument("--all", action="store_true", help="also print the explained differences")
    drift.set_defaults(func=cmd_drift)

    export = sub.add_parser(
        "export", help="write a scenario's objects as a kubectl-style List (for --from-file)"
    )
    export.add_argument("scenario", help="scenario file, or the name of a built-in scenario")
    export.add_argument("-o", "--output", help="file to write (default: stdout)")
    export.set_defaults(func=cmd_export)

    listing = sub.add_parser("list", help="list built-in scenarios")
    listing.add_argument("--all", action="store_true", help="include the lab's own test scenarios")
    listing.set_defaults(func=cmd_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
