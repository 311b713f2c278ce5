"""The bounded raw exchange against tiny local servers, one behaviour per server.

Every server binds to 127.0.0.1 on an ephemeral port, runs in daemon threads with bounded loops and
is closed by the fixture even when a test fails.
"""

from __future__ import annotations

import json
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from egdoctor.probes import proxy_protocol as pp
from egdoctor.probes.transport import TlsOptions, build_request, exchange

Handler = Callable[[socket.socket, tuple[str, int], threading.Event], None]


class _Server:
    def __init__(self, handler: Handler, backlog: int = 16, accept: bool = True) -> None:
        self.handler = handler
        self.stop = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[1]
        self.workers: list[threading.Thread] = []
        self.thread = threading.Thread(target=self._loop, daemon=True)
        if accept:
            self.thread.start()

    def _loop(self) -> None:
        end = time.monotonic() + 30
        while not self.stop.is_set() and time.monotonic() < end:
            try:
                conn, addr = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            worker = threading.Thread(target=self._serve, args=(conn, addr), daemon=True)
            worker.start()
            self.workers.append(worker)

    def _serve(self, conn: socket.socket, addr: tuple[str, int]) -> None:
        conn.settimeout(5)
        try:
            self.handler(conn, addr, self.stop)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(2)
        for worker in self.workers:
            worker.join(2)
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., _Server]]:
    servers: list[_Server] = []

    def start(handler: Handler, **kw: object) -> _Server:
        server = _Server(handler, **kw)  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def _read_head(conn: socket.socket) -> bytes:
    data = b""
    for _ in range(1000):
        if b"\r\n\r\n" in data or len(data) > 65536:
            break
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _respond_json(conn: socket.socket, obj: object, extra: str = "") -> None:
    body = json.dumps(obj).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    conn.sendall(head.encode() + body)


def answering(hold: float) -> Handler:
    """Answers at once with Content-Length, then keeps the socket open for ``hold`` seconds."""

    def handler(conn: socket.socket, addr: tuple[str, int], stop: threading.Event) -> None:
        head = _read_head(conn)
        ua = next(
            (
                ln.split(b":", 1)[1].strip().decode()
                for ln in head.split(b"\r\n")
                if ln.lower().startswith(b"user-agent:")
            ),
            None,
        )
        _respond_json(
            conn, {"peer": addr[0], "ua": ua, "request": head.decode("latin-1")}, "X-Dup: a\r\nX-Dup: b\r\n"
        )
        stop.wait(hold)

    return handler


def test_http_answer_does_not_wait_for_eof(serve: Callable[..., _Server]) -> None:
    server = serve(answering(hold=3.0))
    result = exchange(
        "127.0.0.1",
        server.port,
        path="/probe?x=1",
        headers=[("X-Forwarded-For", "198.51.100.1")],
        source_address="127.0.0.77",
        timeout=5,
    )
    assert result.outcome == "http"
    assert result.status == 200
    assert result.reason == "OK"
    assert result.body_complete
    assert result.elapsed_s < 1.0, "a complete Content-Length response must not wait for the FIN"
    assert result.eof_s is None
    assert result.ttfb_s is not None and result.headers_s is not None
    assert result.ttfb_s <= result.headers_s <= result.elapsed_s
    assert result.header("content-type") == "application/json"
    assert result.header_values("x-dup") == ["a", "b"]
    data = result.json()
    assert data["peer"] == "127.0.0.77"
    assert result.local_address is not None and result.local_address[0] == "127.0.0.77"
    assert data["ua"] == result.user_agent and result.user_agent.startswith("egdoctor-probe/")
    assert data["request"].startswith("GET /probe?x=1 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.port}\r\n" in data["request"]
    assert "X-Forwarded-For: 198.51.100.1\r\n" in data["request"]
    assert "Connection: close\r\n" in data["request"]


def test_wait_for_close_times_the_delayed_fin(serve: Callable[..., _Server]) -> None:
    """Envoy sends a 400 at once and FINs one second later (delayed_close_timeout): both are timed."""
    server = serve(answering(hold=0.6))
    result = exchange("127.0.0.1", server.port, timeout=3, wait_for_close=2)
    assert result.outcome == "http"
    assert result.closed_by == "fin"
    assert result.eof_s is not None and result.ttfb_s is not None
    assert result.ttfb_s < 0.3
    assert 0.5 < result.eof_s < 1.2


def test_closes_immediately_is_empty(serve: Callable[..., _Server]) -> None:
    def handler(conn: socket.socket, addr: tuple[str, int], stop: threading.Event) -> None:
        _read_head(conn)  # read first so that close() sends a FIN, not a RST for unread data

    server = serve(handler)
    result = exchange("127.0.0.1", server.port, timeout=2)
    assert result.outcome == "empty"
    assert result.closed_by == "fin"
    assert result.bytes_received == 0
    assert result.elapsed_s < 1


def test_reset(serve: Callable[..., _Server]) -> None:
    def handler(conn: socket.socket, addr: tuple[str, int], stop: threading.Event) -> None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    server = serve(handler)
    result = exchange("127.0.0.1", server.port, timeout=2)
    assert result.outcome == "reset", result
    assert result.elapsed_s < 1


def test_silent_server_times_out_within_bound(serve: Callable[..., _Server]) -> None:
    def handler(conn: socket.socket, addr: tuple[str, int], stop: threading.Event) -> None:
        stop.wait(5)

    server = serve(handler)
    timeout = 0.8
    started = time.monotonic()
    result = exchange("127.0.0.1", server.port, timeout=timeout)
    wall = time.monotonic() - started
    assert result.outcome == "timeout"
    assert result.phase == "receive"
    assert result.bytes_received == 0
    assert wall < timeout + 0.5
    assert result.elapsed_s >= timeout - 0.05


def test_trickling_server_is_bounded_by_total_deadline(serve: Callable[..., _Server]) -> None:
    """The deadline is for the whole exchange, not per recv: a byte every 0.2 s must not extend it."""

    def handler(conn: socket.socket, addr: tuple[str, int], stop: threading.Event) -> None:
        _read_head(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(40):
            if stop.wait(0.2):
                return
            conn.sendall(b"X-Slow: 1\r\n")

    server = serve(handler)
    started = time.monotonic()
    result = exchange("127.0.0.1", server.port, timeout=1.0)
    assert time.monotonic() - started < 1.5
    assert result.outcome == "timeout"
    assert result.bytes_received > 0


def test_refused() -> None:
    # A bound socket that never listens makes the kernel answer SYN with RST.
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        result = exchange("127.0.0.1", port, timeout=2)
    finally:
        holder.close()
    assert result.outcome == "refused"
    assert result.phase == "connect"


def test_full_backlog_black_hole_times_out_in_connect(serve: Callable[..., _Server]) -> None:
    server = serve(lambda c, a, s: None, backlog=0, accept=False)
    fillers = []
    try:
        for _ in range(2):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", server.port))
            fillers.append(filler)
        time.sleep(0.05)
        started = time.monotonic()
        result = exchange("127.0.0.1", server.port, timeout=0.7)
        assert time.monotonic() - started < 1.2
    finally:
        for filler in fillers:
            filler.close()
    assert result.outcome == "timeout"
    assert result.phase == "connect"


def test_unreachable() -> None:
    # Linux refuses TCP towards a multicast address locally (ENETUNREACH); no packet leaves.
    result = exchange("224.0.0.1", 80, timeout=1)
    assert result.outcome == "unreachable"
    assert result.phase == "connect"


def test_not_http_reply(serve: Callable[..., _Server]) -> None:
    def handler(conn: socket.socket, addr: tuple[str, int], stop: threading.Event) -> None:
        _read_head(conn)
        conn.sendall(b"\x15\x03\x03\x00\x02\x02\x46")  # a TLS alert record, as a TLS-only port might send
        stop.wait(2)

    server = serve(handler)
    result = exchange("127.0.0.1", server.port, timeout=2)
    assert result.outcome == "bad_response"
    assert result.raw_head.startswith(b"\x15\x03")
    assert result.elapsed_s < 1


def test_chunked_body_and_max_body(serve: Callable[..., _Server]) -> None:
    def handler(conn: socket.socket, addr: tuple[str, int], stop: threading.Event) -> None:
        _read_head(conn)
        conn.sendall(
            b"HTTP/1.1 100 Continue\r\n\r\n"
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
        )
        stop.wait(3)

    server = serve(handler)
    result = exchange("127.0.0.1", server.port, timeout=3)
    assert (result.outcome, result.status, result.body, result.body_complete) == (
        "http",
        404,
        b"hello world",
        True,
    )
    assert result.elapsed_s < 1
    cut = exchange("127.0.0.1", server.port, timeout=3, max_body=3)
    assert (cut.body, cut.body_complete) == (b"hel", False)
    assert cut.elapsed_s < 1


def test_body_until_close_and_head_request(serve: Callable[..., _Server]) -> None:
    def handler(conn: socket.socket, addr: tuple[str, int], stop: threading.Event) -> None:
        head = _read_head(conn)
        if head.startswith(b"HEAD"):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            stop.wait(3)
        else:
            conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nall of it")

    server = serve(handler)
    result = exchange("127.0.0.1", server.port, timeout=3)
    assert (result.outcome, result.http_version, result.body, result.body_complete) == (
        "http",
        "1.0",
        b"all of it",
        True,
    )
    assert result.closed_by == "fin"
    head = exchange("127.0.0.1", server.port, method="HEAD", timeout=3)
    assert (head.outcome, head.body_complete) == ("http", True)
    assert head.elapsed_s < 1


def _read_proxy_header(conn: socket.socket) -> pp.ProxyHeader:
    """Reads byte by byte so that nothing after the header is consumed."""
    data = b""
    for _ in range(512):
        try:
            header = pp.decode(data)
        except pp.IncompleteHeader:
            data += conn.recv(1)
            continue
        assert header is not None, data
        return header
    raise AssertionError("no PROXY header within 512 bytes")


def _pp_handler(tls_ctx: ssl.SSLContext | None) -> Handler:
    def handler(conn: socket.socket, addr: tuple[str, int], stop: threading.Event) -> None:
        header = _read_proxy_header(conn)
        stream = conn if tls_ctx is None else tls_ctx.wrap_socket(conn, server_side=True)
        head = _read_head(stream)
        _respond_json(
            stream, {"src": header.src_addr, "sport": header.src_port, "head": head.decode("latin-1")}
        )
        stop.wait(1)

    return handler


def test_prefix_precedes_request(serve: Callable[..., _Server]) -> None:
    server = serve(_pp_handler(None))
    prefix = pp.encode_v2("203.0.113.7", "127.0.0.1", 40000, server.port)
    result = exchange("127.0.0.1", server.port, prefix=prefix, timeout=3)
    assert result.outcome == "http"
    assert result.json()["src"] == "203.0.113.7"
    assert result.json()["head"].startswith("GET / HTTP/1.1")
    assert result.bytes_sent == len(prefix) + len(result.json()["head"])


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    leaf = ca.issue_cert("app.example.test")
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(server_ctx)
    server_ctx.set_alpn_protocols(["http/1.1"])
    ca_path = tmp_path_factory.mktemp("pki") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    return server_ctx, ca_path


def test_tls_behind_proxy_prefix_verifies(
    serve: Callable[..., _Server], pki: tuple[ssl.SSLContext, Path]
) -> None:
    server_ctx, ca_path = pki
    server = serve(_pp_handler(server_ctx))
    prefix = pp.encode_v1("198.51.100.9", "127.0.0.1", 1234, server.port)
    result = exchange(
        "127.0.0.1",
        server.port,
        prefix=prefix,
        tls=TlsOptions(server_name="app.example.test", ca_file=str(ca_path)),
        timeout=3,
    )
    assert result.outcome == "http", result.error
    assert result.json()["src"] == "198.51.100.9"
    assert f"Host: app.example.test:{server.port}\r\n" in result.json()["head"]
    assert result.tls is not None
    assert result.tls.verified and result.tls.alpn == "http/1.1"
    assert result.tls.peer_cert_der and result.tls.version
    assert result.tls_s is not None and result.connect_s is not None and result.connect_s <= result.tls_s


def test_tls_verify_failure_captures_certificate(
    serve: Callable[..., _Server], pki: tuple[ssl.SSLContext, Path]
) -> None:
    server_ctx, _ = pki

    def handler(conn: socket.socket, addr: tuple[str, int], stop: threading.Event) -> None:
        try:
            stream = server_ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            return
        _read_head(stream)
        _respond_json(stream, {})

    server = serve(handler)
    result = exchange("127.0.0.1", server.port, tls=TlsOptions(server_name="app.example.test"), timeout=3)
    assert result.outcome == "tls_error"
    assert result.phase == "tls"
    assert result.tls is not None and result.tls.verify_error
    assert "unable to get local issuer certificate" in result.tls.verify_error
    assert result.tls.peer_cert_der, "the presented certificate should be captured on a second handshake"
    pem = ssl.DER_cert_to_PEM_cert(result.tls.peer_cert_der)
    assert pem.startswith("-----BEGIN CERTIFICATE-----")


def test_tls_hostname_mismatch(serve: Callable[..., _Server], pki: tuple[ssl.SSLContext, Path]) -> None:
    server_ctx, ca_path = pki

    def handler(conn: socket.socket, addr: tuple[str, int], stop: threading.Event) -> None:
        try:
            server_ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            return

    server = serve(handler)
    opts = TlsOptions(server_name="other.example.test", ca_file=str(ca_path), capture_cert_on_failure=False)
    result = exchange("127.0.0.1", server.port, tls=opts, timeout=3)
    assert result.outcome == "tls_error"
    assert (
        result.tls is not None and result.tls.verify_error and "mismatch" in result.tls.verify_error.lower()
    )
    assert result.tls.peer_cert_der is None


def test_tls_peer_closes_during_handshake(
    serve: Callable[..., _Server], pki: tuple[ssl.SSLContext, Path]
) -> None:
    _, ca_path = pki

    def handler(conn: socket.socket, addr: tuple[str, int], stop: threading.Event) -> None:
        conn.recv(4096)  # swallow the ClientHello, then FIN, as Envoy does without a matching filter chain

    server = serve(handler)
    result = exchange(
        "127.0.0.1",
        server.port,
        tls=TlsOptions(server_name="app.example.test", ca_file=str(ca_path)),
        timeout=3,
    )
    assert result.outcome == "tls_error"
    assert result.error and "handshake" in result.error
    assert result.elapsed_s < 1


def test_raw_payload_and_empty_payload(serve: Callable[..., _Server]) -> None:
    seen: list[bytes] = []

    def handler(conn: socket.socket, addr: tuple[str, int], stop: threading.Event) -> None:
        conn.settimeout(0.3)
        try:
            seen.append(conn.recv(100))
        except TimeoutError:
            seen.append(b"<nothing>")
        conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")

    server = serve(handler)
    raw = exchange("127.0.0.1", server.port, payload=b"PROXY", timeout=2)
    silent = exchange("127.0.0.1", server.port, payload=b"", timeout=2)
    assert raw.status == 204 and silent.status == 204
    assert sorted(seen) == sorted([b"PROXY", b"<nothing>"])
    assert silent.bytes_sent == 0


def test_argument_validation() -> None:
    with pytest.raises(ValueError, match="IP address literal"):
        exchange("example.test", 80)
    with pytest.raises(ValueError, match="port"):
        exchange("127.0.0.1", 0)
    with pytest.raises(ValueError, match="different families"):
        exchange("127.0.0.1", 80, source_address="::1")
    with pytest.raises(ValueError, match="header name"):
        exchange("127.0.0.1", 80, headers=[("Bad Name", "x")])
    with pytest.raises(ValueError, match="must not contain CR"):
        build_request("GET", "/", "h", [("X", "a\r\nInjected: 1")], b"", "ua")


def test_build_request_defaults_and_overrides() -> None:
    raw = build_request(
        "POST", "/p", "h.test", [("User-Agent", "mine"), ("Connection", "keep-alive")], b"xy", "ua"
    )
    text = raw.decode()
    assert text.startswith("POST /p HTTP/1.1\r\nHost: h.test\r\n")
    assert "User-Agent: mine\r\n" in text and "User-Agent: ua" not in text
    assert "Connection: keep-alive\r\n" in text and "Connection: close" not in text
    assert text.endswith("Content-Length: 2\r\n\r\nxy")


@pytest.mark.parametrize(
    ("reply", "outcome", "error"),
    [
        # the announced body never completes: an answer, marked incomplete
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
            "http",
            "peer closed before the announced body",
        ),
        # a head the peer closes in the middle of: not an answer
        (b"HTTP/1.1 200 OK\r\nX-A: b", "bad_response", "connection closed after 23 bytes of response head"),
        # a chunk size that is not hexadecimal
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
            "http",
            "malformed response body",
        ),
        # a status line that is not HTTP/1.x's
        (b"HTTP/9 banana\r\n\r\n", "bad_response", "the reply is not an HTTP/1.x response"),
    ],
)
def test_replies_cut_short_or_malformed(
    serve: Callable[..., _Server], reply: bytes, outcome: str, error: str
) -> None:
    """Framing by h11 (the parser httpx uses): what a reply that ends early or breaks its framing becomes."""

    def handler(conn: socket.socket, addr: tuple[str, int], stop: threading.Event) -> None:
        _read_head(conn)
        conn.sendall(reply)
        stop.wait(0.2)

    server = serve(handler)
    result = exchange("127.0.0.1", server.port, timeout=3)
    assert result.outcome == outcome
    assert result.error is not None and result.error.startswith(error), result.error
    assert result.elapsed_s < 2
    if outcome == "http":
        assert result.status == 200 and not result.body_complete
