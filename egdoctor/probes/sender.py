"""Sending one probe: the exchange under the probe budget, bounded by the probe timeout, and the
record of what went out.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from egdoctor.probes.observers import Observation, Observer, SentProbe
from egdoctor.probes.plan import PortTarget, ProbeOptions, TlsHost, allowed
from egdoctor.probes.transport import ExchangeResult, TlsOptions, exchange

USER_AGENT = "egdoctor-probe"
ROUTE_RETRY_STEP = 0.2


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


class Sender:
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
