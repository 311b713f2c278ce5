"""One bounded raw HTTP/1.1 exchange over TCP, optionally behind a PROXY header and TLS.

The probe must see what a client sees on the wire, which a full HTTP client hides: whether the
peer answered with an HTTP response, closed cleanly without a byte, reset, or stayed silent. Each
of those points at a different PROXY-protocol / XFF misconfiguration (see Envoy
``source/extensions/filters/listener/proxy_protocol/proxy_protocol.cc`` for why a strict PROXY
listener closes without answering, and ``source/common/http/conn_manager_impl.cc`` for the
``delayed_close_timeout`` that holds the FIN of an error response back by one second).

So the exchange:

* uses one overall deadline (``timeout`` seconds from the start, not per ``recv``);
* records time to first byte separately from the peer's close, and returns as soon as the
  response is complete according to its framing (Content-Length, chunked, no-body status),
  without waiting for EOF unless ``wait_for_close`` asks for it;
* never raises for network outcomes: it classifies them (see :data:`Outcome`). Only invalid
  arguments raise ``ValueError``.

Standard library only (``socket``, ``ssl``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import socket
import ssl
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from egdoctor.probes.http_reader import ResponseReader

Outcome = Literal["http", "empty", "reset", "timeout", "refused", "tls_error", "unreachable", "bad_response"]
"""What the client observed.

``http``
    A complete HTTP/1.x status line and header block arrived (the body may be cut short; see
    ``body_complete``).
``empty``
    The peer closed cleanly (FIN) before sending a single byte.
``reset``
    The connection was reset (RST) before a complete response head arrived; ``phase`` tells
    whether that happened right after the handshake (``connect``), while sending or while waiting.
``timeout``
    The deadline passed before a complete response head arrived (``phase`` says where it stuck).
``refused``
    The TCP connect was refused.
``tls_error``
    The TLS handshake failed: certificate verification, handshake alert, or the peer closing or
    resetting mid-handshake. ``error`` holds the message.
``unreachable``
    Any other OS-level failure to connect (no route, address not available, ...).
``bad_response``
    Bytes arrived that are not an HTTP/1.x response head (for example a TLS alert on a plaintext
    probe), or the peer closed in the middle of the head.
"""

Phase = Literal["connect", "tls", "send", "receive", "done"]

_TOKEN_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


@dataclass(frozen=True)
class TlsOptions:
    """How to wrap the connection in TLS.

    ``server_name`` is sent as SNI and used for hostname verification; when it is ``None`` the
    target IP address is verified instead and no SNI is sent. ``ca_file`` of ``None`` means the
    system trust store. With ``capture_cert_on_failure`` a failed verification is followed by a
    second, unverified handshake (same PROXY prefix, same deadline) only to record the
    certificate that was presented.
    """

    server_name: str | None = None
    ca_file: str | None = None
    verify: bool = True
    alpn: tuple[str, ...] = ("http/1.1",)
    capture_cert_on_failure: bool = True


@dataclass(frozen=True)
class TlsInfo:
    version: str | None = None
    cipher: str | None = None
    alpn: str | None = None
    peer_cert_der: bytes | None = None
    verified: bool = False
    verify_error: str | None = None


@dataclass(frozen=True)
class ExchangeResult:
    """Everything observed during one exchange. Times are seconds since the exchange started."""

    outcome: Outcome
    phase: Phase
    target: tuple[str, int]
    local_address: tuple[str, int] | None
    user_agent: str
    status: int | None = None
    reason: str | None = None
    http_version: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    body_complete: bool = False
    error: str | None = None
    bytes_sent: int = 0
    bytes_received: int = 0
    raw_head: bytes = b""
    connect_s: float | None = None
    tls_s: float | None = None
    ttfb_s: float | None = None
    headers_s: float | None = None
    eof_s: float | None = None
    closed_by: Literal["fin", "rst"] | None = None
    elapsed_s: float = 0.0
    tls: TlsInfo | None = field(default=None)

    def header(self, name: str) -> str | None:
        """First value of a response header (case-insensitive), or ``None``."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def header_values(self, name: str) -> list[str]:
        lname = name.lower()
        return [value for key, value in self.headers if key.lower() == lname]

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class _Deadline:
    def __init__(self, timeout: float) -> None:
        self.start = time.monotonic()
        self.end = self.start + timeout

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def remaining(self) -> float:
        return self.end - time.monotonic()


def _check_header_text(text: str, what: str) -> None:
    if any(ch in text for ch in "\r\n\x00"):
        raise ValueError(f"{what} must not contain CR, LF or NUL: {text!r}")


def build_request(
    method: str,
    path: str,
    host_header: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    user_agent: str,
) -> bytes:
    """Serialise an HTTP/1.1 request; default headers are added only when the caller has not set them."""
    if not _TOKEN_RE.match(method):
        raise ValueError(f"method {method!r} is not an HTTP token")
    _check_header_text(path, "path")
    if not path or " " in path:
        raise ValueError(f"path must be non-empty and contain no spaces: {path!r}")
    _check_header_text(host_header, "Host header")
    present = {name.lower() for name, _ in headers}
    lines = [f"{method} {path} HTTP/1.1"]
    if "host" not in present:
        lines.append(f"Host: {host_header}")
    for name, value in headers:
        if not _TOKEN_RE.match(name):
            raise ValueError(f"header name {name!r} is not an HTTP token")
        _check_header_text(value, f"value of header {name}")
        lines.append(f"{name}: {value}")
    if "user-agent" not in present:
        lines.append(f"User-Agent: {user_agent}")
    if "accept" not in present:
        lines.append("Accept: */*")
    # Asking for close keeps the server from holding the connection open after the response.
    if "connection" not in present:
        lines.append("Connection: close")
    if body and "content-length" not in present and "transfer-encoding" not in present:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _format_host(host: str, port: int, tls: bool) -> str:
    name = f"[{host}]" if ":" in host else host
    return name if port == (443 if tls else 80) else f"{name}:{port}"


def exchange(
    host: str,
    port: int,
    *,
    method: str = "GET",
    path: str = "/",
    host_header: str | None = None,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    payload: bytes | None = None,
    prefix: bytes = b"",
    tls: TlsOptions | None = None,
    source_address: str | None = None,
    timeout: float = 5.0,
    max_body: int = 65536,
    user_agent: str | None = None,
    wait_for_close: float = 0.0,
) -> ExchangeResult:
    """Run one exchange against ``host:port`` (an IP literal) and classify what happened.

    ``prefix`` (for example a PROXY header) is written before anything else, before the TLS
    ClientHello when ``tls`` is given. ``payload`` replaces the generated HTTP request with raw
    bytes (``b""`` sends nothing and just listens). ``wait_for_close`` keeps reading for up to that
    many seconds after a complete response to time the peer's FIN/RST (still within ``timeout``).
    """
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"host must be an IP address literal (resolve names first), got {host!r}") from None
    if not 0 < port <= 0xFFFF:
        raise ValueError(f"port must be 1-65535, got {port}")
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    if max_body < 0:
        raise ValueError("max_body must not be negative")
    if source_address is not None and ipaddress.ip_address(source_address).version != ip.version:
        raise ValueError(f"source address {source_address} and target {host} are of different families")
    ua = user_agent or f"egdoctor-probe/{uuid.uuid4().hex[:16]}"
    if payload is None:
        hh = host_header or _format_host((tls and tls.server_name) or host, port, tls is not None)
        request = build_request(method, path, hh, headers, body, ua)
    else:
        request = payload
    run = _Exchange((str(ip), port), ua, timeout, source_address)
    return run.run(request, prefix, tls, method, max_body, wait_for_close)


class _Exchange:
    def __init__(self, target: tuple[str, int], user_agent: str, timeout: float, source: str | None) -> None:
        self.deadline = _Deadline(timeout)
        self.timeout = timeout
        self.target = target
        self.source = source
        self.fields: dict[str, Any] = {"target": target, "user_agent": user_agent, "local_address": None}
        self.sockets: list[socket.socket] = []

    def finish(self, outcome: Outcome, phase: Phase, **kw: Any) -> ExchangeResult:
        merged = {**self.fields, **kw}
        return ExchangeResult(outcome=outcome, phase=phase, elapsed_s=self.deadline.elapsed(), **merged)

    def _bound(self) -> float:
        return max(self.deadline.remaining(), 0.001)

    def run(
        self, request: bytes, prefix: bytes, tls: TlsOptions | None, method: str, max_body: int, wait: float
    ) -> ExchangeResult:
        try:
            return self._run(request, prefix, tls, method, max_body, wait)
        finally:
            for sock in reversed(self.sockets):
                sock.close()

    def _connect(self) -> socket.socket | ExchangeResult:
        family = socket.AF_INET6 if ":" in self.target[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        self.sockets.append(sock)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.source is not None:
                _defer_port_choice(sock)
                sock.bind((self.source, 0))
            sock.settimeout(self._bound())
            sock.connect(self.target)
        except ConnectionRefusedError as exc:
            return self.finish("refused", "connect", error=str(exc))
        except ConnectionResetError as exc:
            # Accepted and reset before connect() returned (a front end rejecting the source at once).
            return self.finish("reset", "connect", error=f"reset right after the TCP handshake: {exc}")
        except TimeoutError:
            return self.finish("timeout", "connect", error=f"no TCP connection within {self.timeout:g}s")
        except OSError as exc:
            return self.finish("unreachable", "connect", error=f"{type(exc).__name__}: {exc}")
        return sock

    def _send(self, conn: socket.socket, data: bytes, what: str) -> ExchangeResult | None:
        if not data:
            return None
        try:
            conn.settimeout(self._bound())
            conn.sendall(data)
        except TimeoutError:
            return self.finish("timeout", "send", error=f"could not send the {what} before the deadline")
        except (ConnectionResetError, BrokenPipeError) as exc:
            return self.finish("reset", "send", error=f"{type(exc).__name__} while sending the {what}: {exc}")
        except ssl.SSLError as exc:
            return self.finish("reset", "send", error=f"TLS error while sending the {what}: {exc}")
        except OSError as exc:
            return self.finish("unreachable", "send", error=f"{type(exc).__name__}: {exc}")
        self.fields["bytes_sent"] = self.fields.get("bytes_sent", 0) + len(data)
        return None

    def _run(
        self, request: bytes, prefix: bytes, tls: TlsOptions | None, method: str, max_body: int, wait: float
    ) -> ExchangeResult:
        sock = self._connect()
        if isinstance(sock, ExchangeResult):
            return sock
        self.fields["connect_s"] = self.deadline.elapsed()
        local = sock.getsockname()
        self.fields["local_address"] = (local[0], local[1])
        conn: socket.socket = sock
        if tls is None:
            failed = self._send(sock, prefix + request, "request")
        else:
            failed = self._send(sock, prefix, "PROXY prefix")
            if failed is None:
                wrapped = self._handshake(sock, tls, prefix)
                if isinstance(wrapped, ExchangeResult):
                    return wrapped
                conn = wrapped
                failed = self._send(conn, request, "request")
        if failed is not None:
            return failed
        return self._receive(conn, method, max_body, wait)

    def _handshake(
        self, sock: socket.socket, tls: TlsOptions, prefix: bytes
    ) -> ssl.SSLSocket | ExchangeResult:
        ctx = _tls_context(tls, tls.verify)
        # An IP literal as server_hostname makes ssl verify the IP SAN and send no SNI.
        server_hostname = tls.server_name or self.target[0]
        try:
            # wrap_socket may already read from the peer (a reset can surface here), so it sits inside
            # the same error handling as the handshake itself
            wrapped = ctx.wrap_socket(sock, server_hostname=server_hostname, do_handshake_on_connect=False)
            self.sockets.append(wrapped)
            wrapped.settimeout(self._bound())
            wrapped.do_handshake()
        except ssl.SSLCertVerificationError as exc:
            verify_error = f"{exc.verify_message} (verify code {exc.verify_code})"
            der = self._fetch_certificate(tls, prefix) if tls.capture_cert_on_failure else None
            info = TlsInfo(peer_cert_der=der, verified=False, verify_error=verify_error)
            return self.finish(
                "tls_error", "tls", tls=info, error=f"certificate verification failed: {verify_error}"
            )
        except TimeoutError:
            return self.finish(
                "timeout", "tls", tls=TlsInfo(), error="TLS handshake did not finish before the deadline"
            )
        except ssl.SSLEOFError as exc:
            return self.finish(
                "tls_error", "tls", tls=TlsInfo(), error=f"peer closed during the TLS handshake: {exc}"
            )
        except ssl.SSLError as exc:
            return self.finish("tls_error", "tls", tls=TlsInfo(), error=f"TLS handshake failed: {exc}")
        except ConnectionResetError as exc:
            return self.finish(
                "tls_error", "tls", tls=TlsInfo(), error=f"connection reset during the TLS handshake: {exc}"
            )
        except OSError as exc:
            return self.finish("tls_error", "tls", tls=TlsInfo(), error=f"TLS handshake failed: {exc}")
        cipher = wrapped.cipher()
        self.fields["tls"] = TlsInfo(
            version=wrapped.version(),
            cipher=cipher[0] if cipher else None,
            alpn=wrapped.selected_alpn_protocol(),
            peer_cert_der=wrapped.getpeercert(binary_form=True),
            verified=tls.verify,
        )
        self.fields["tls_s"] = self.deadline.elapsed()
        return wrapped

    def _fetch_certificate(self, tls: TlsOptions, prefix: bytes) -> bytes | None:
        """Second, unverified handshake on a fresh connection, only to see the presented certificate."""
        if self.deadline.remaining() <= 0:
            return None
        family = socket.AF_INET6 if ":" in self.target[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        self.sockets.append(sock)
        try:
            if self.source is not None:
                _defer_port_choice(sock)
                sock.bind((self.source, 0))
            sock.settimeout(self._bound())
            sock.connect(self.target)
            if prefix:
                sock.sendall(prefix)
            ctx = _tls_context(tls, verify=False)
            wrapped = ctx.wrap_socket(sock, server_hostname=tls.server_name, do_handshake_on_connect=False)
            self.sockets.append(wrapped)
            wrapped.settimeout(self._bound())
            wrapped.do_handshake()
            return wrapped.getpeercert(binary_form=True)
        except (OSError, ValueError):
            return None

    def _receive(self, conn: socket.socket, method: str, max_body: int, wait: float) -> ExchangeResult:
        resp = ResponseReader(method, max_body)
        received = 0
        ttfb: float | None = None
        headers_s: float | None = None
        eof_s: float | None = None
        closed_by: Literal["fin", "rst"] | None = None
        stop: Literal["complete", "eof", "reset", "timeout", "not_http", "limit", "malformed"] = "timeout"
        error: str | None = None
        # Bounded by the deadline; the iteration cap only guards against a peer trickling single bytes.
        for _ in range(1_000_000):
            remaining = self.deadline.remaining()
            if remaining <= 0:
                break
            conn.settimeout(remaining)
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                break
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                chunk = b""
            except (OSError, ssl.SSLError) as exc:
                stop, closed_by, eof_s = "reset", "rst", self.deadline.elapsed()
                error = f"{type(exc).__name__}: {exc}"
                break
            if not chunk:
                stop, closed_by, eof_s = "eof", "fin", self.deadline.elapsed()
                resp.feed_eof()
                break
            if ttfb is None:
                ttfb = self.deadline.elapsed()
            received += len(chunk)
            resp.feed(chunk)
            if resp.head_parsed and headers_s is None:
                headers_s = self.deadline.elapsed()
            if resp.not_http:
                stop = "not_http"
                break
            if resp.complete:
                stop = "complete"
                break
            if resp.malformed:
                stop = "malformed"
                break
            if resp.head_parsed and len(resp.body) >= max_body:
                stop = "limit"
                break

        if stop in ("complete", "limit") and wait > 0:
            close_by = min(self.deadline.end, time.monotonic() + wait)
            for _ in range(1_000_000):
                remaining = close_by - time.monotonic()
                if remaining <= 0:
                    break
                conn.settimeout(remaining)
                try:
                    more = conn.recv(65536)
                except TimeoutError:
                    break
                except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                    more = b""
                except OSError:
                    closed_by, eof_s = "rst", self.deadline.elapsed()
                    break
                if not more:
                    closed_by, eof_s = "fin", self.deadline.elapsed()
                    break
                received += len(more)

        common: dict[str, Any] = {
            "bytes_received": received,
            "ttfb_s": ttfb,
            "headers_s": headers_s,
            "eof_s": eof_s,
            "closed_by": closed_by,
        }
        if resp.head_parsed:
            body_complete = resp.complete and not resp.dropped
            if resp.dropped:
                error = f"body cut at max_body={max_body} bytes"
            elif not body_complete and error is None:
                error = {
                    "timeout": "deadline passed while reading the body",
                    "limit": f"body cut at max_body={max_body} bytes",
                    "eof": "peer closed before the announced body was complete",
                    "malformed": resp.error,
                }.get(stop)
            return self.finish(
                "http",
                "done",
                status=resp.status,
                reason=resp.reason,
                http_version=resp.version,
                headers=tuple(resp.headers),
                body=bytes(resp.body),
                body_complete=body_complete,
                raw_head=resp.raw_head,
                error=error,
                **common,
            )
        raw = resp.raw_head or bytes(resp.seen[:512])
        if resp.not_http:
            return self.finish(
                "bad_response",
                "receive",
                raw_head=raw,
                error="the reply is not an HTTP/1.x response",
                **common,
            )
        if received == 0:
            if stop == "eof":
                return self.finish("empty", "receive", error="peer closed without sending a byte", **common)
            if stop == "reset":
                return self.finish("reset", "receive", error=error, **common)
            return self.finish("timeout", "receive", error="no byte received before the deadline", **common)
        if stop == "timeout":
            return self.finish(
                "timeout",
                "receive",
                raw_head=raw,
                error=f"incomplete response head after {received} bytes",
                **common,
            )
        how = "reset" if closed_by == "rst" else "closed"
        return self.finish(
            "bad_response",
            "receive",
            raw_head=raw,
            error=f"connection {how} after {received} bytes of response head",
            **common,
        )


_IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


def _defer_port_choice(sock: socket.socket) -> None:
    """Let the kernel pick the source port at connect() time, knowing the destination.

    bind(addr, 0) alone reserves a port for the address regardless of destination, which runs out
    under many probes from one source address; Linux's IP_BIND_ADDRESS_NO_PORT avoids that.
    """
    if sys.platform.startswith("linux") and sock.family == socket.AF_INET:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_IP, _IP_BIND_ADDRESS_NO_PORT, 1)


def _tls_context(tls: TlsOptions, verify: bool) -> ssl.SSLContext:
    if verify:
        ctx = ssl.create_default_context(cafile=tls.ca_file)
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if tls.alpn:
        ctx.set_alpn_protocols(list(tls.alpn))
    return ctx
