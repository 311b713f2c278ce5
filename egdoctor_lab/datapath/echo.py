"""The lab's backend: answers every request with JSON describing exactly what arrived.

Duplicated headers are kept in order, which matters for X-Forwarded-For chains. A PROXY header at
the start of a connection (sent straight to the echo, bypassing Envoy) is decoded and reported too.
"""

from __future__ import annotations

import collections
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from egdoctor.probes import proxy_protocol as pp

_PEEK_WINDOW = 16 + 216 + 512  # a v2 header with a UNIX block and some TLVs


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Upstream keep-alive connections from Envoy idle here; the timeout bounds each handler thread.
    timeout = 10
    server: EchoServer

    def setup(self) -> None:
        self.proxy_header: pp.ProxyHeader | None = None
        self.proxy_error: str | None = None
        self.request.settimeout(self.timeout)
        # Headers and body leave in two writes; without NODELAY the body waits for a delayed ACK (~40 ms).
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._consume_proxy_header()
        super().setup()

    def _consume_proxy_header(self) -> None:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                peeked = self.request.recv(_PEEK_WINDOW, socket.MSG_PEEK)
            except OSError:
                return
            if not peeked:
                return
            try:
                header = pp.decode(peeked)
            except pp.IncompleteHeader:
                time.sleep(0.005)
                continue
            except ValueError as exc:
                self.proxy_error = str(exc)
                return
            if header is not None:
                self.request.recv(header.length)
                self.proxy_header = header
            return

    def log_message(self, format: str, *args: Any) -> None:
        # The base class writes every request to stderr; the JSON records are the lab's log.
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 1 << 20)) if length else b""
        ph = self.proxy_header
        record: dict[str, Any] = {
            "method": self.command,
            "path": self.path,
            "http_version": self.request_version,
            "peer": {"address": self.client_address[0], "port": self.client_address[1]},
            "headers": [[k, v] for k, v in self.headers.items()],
            "body_length": len(body),
            "proxy_protocol": None
            if ph is None
            else {
                "version": ph.version,
                "command": ph.command,
                "family": ph.family,
                "src_addr": ph.src_addr,
                "src_port": ph.src_port,
                "dst_addr": ph.dst_addr,
                "dst_port": ph.dst_port,
            },
            "proxy_protocol_error": self.proxy_error,
            "received_at": time.time(),
        }
        self.server.remember(record)
        payload = json.dumps(record).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _answer


class EchoServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, host: str = "127.0.0.1", port: int = 0, keep: int = 1000) -> None:
        super().__init__((host, port), _Handler)
        self._records: collections.deque[dict[str, Any]] = collections.deque(maxlen=keep)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server_address[:2]
        return str(host), int(port)

    def remember(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._records.append(record)

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._records)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="lab-echo", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(2)
            self._thread = None
        self.server_close()
