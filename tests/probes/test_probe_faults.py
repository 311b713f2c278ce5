"""Probe faults: a Gateway address that misbehaves in each way a broken load balancer or Envoy can, and a
run of the installed CLI against it. Every probe ends within --probe-timeout, the probe phase within two
probes' worth per port (the plain probe, then the crafted one where the first told nothing), and the
report names what happened instead of hanging or crashing.

The servers are raw sockets on a loopback address, because each fault is something a real HTTP server
would never do on purpose: a reset in the middle of a response (an amphora or Envoy restarting), header
lines that never end, a body that trickles forever, a listener that holds a connection without reading
(Envoy's PROXY listener filter waits for the header up to its own timeout, 15 s by default:
``api/envoy/extensions/filters/listener/proxy_protocol/v3/proxy_protocol.proto``, and HAProxy
``timeout client`` likewise), and bytes that are not HTTP at all.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
from collections.abc import Callable, Iterator

import pytest

from tests.probes.gateway_probe import probe_at

TIMEOUT = 1.0
# per port, the plain probe and the crafted one at most, run concurrently across ports; plus start-up
PHASE_BOUND = 2 * TIMEOUT + 1.5


def _reset_mid_response(conn: socket.socket, stop: threading.Event) -> None:
    conn.recv(4096)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _headers_forever(conn: socket.socket, stop: threading.Event) -> None:
    conn.recv(4096)
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    while not stop.wait(0.05):
        conn.sendall(b"X-More: again\r\n")


def _body_forever(conn: socket.socket, stop: threading.Event) -> None:
    conn.recv(4096)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n")
    while not stop.wait(0.05):
        conn.sendall(b"x")


def _holds_without_reading(conn: socket.socket, stop: threading.Event) -> None:
    stop.wait(15)


def _reads_and_holds(conn: socket.socket, stop: threading.Event) -> None:
    conn.recv(4096)
    stop.wait(15)


def _not_http(conn: socket.socket, stop: threading.Event) -> None:
    conn.recv(4096)
    while not stop.wait(0.05):
        conn.sendall(b"\x16\x03\x01\x00\x00garbage\x00\xff")


FAULTS: dict[str, Callable[[socket.socket, threading.Event], None]] = {
    "reset-mid-response": _reset_mid_response,
    "headers-forever": _headers_forever,
    "body-forever": _body_forever,
    "holds-without-reading": _holds_without_reading,
    "reads-and-holds": _reads_and_holds,
    "not-http": _not_http,
}


@contextlib.contextmanager
def faulty_gateway(behaviour: Callable[[socket.socket, threading.Event], None]) -> Iterator[str]:
    """Ports 80 and 443 of a loopback address whose every connection gets `behaviour`."""
    address = (
        f"127.{78 + os.getpid() % 100}.{os.getpid() % 250}.{10 + list(FAULTS.values()).index(behaviour)}"
    )
    stop = threading.Event()
    listeners = []
    for port in (80, 443):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((address, port))
        s.listen(16)
        s.settimeout(0.1)
        listeners.append(s)
    conns: list[socket.socket] = []

    def serve_one(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            behaviour(conn, stop)
        with contextlib.suppress(OSError):
            conn.close()

    def accept() -> None:
        while not stop.is_set():
            for s in listeners:
                with contextlib.suppress(OSError):
                    conn = s.accept()[0]
                    conns.append(conn)
                    threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield address
    finally:
        stop.set()
        thread.join(2)
        for s in listeners + conns:
            with contextlib.suppress(OSError):
                s.close()


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_every_probe_ends_within_its_timeout(fault: str) -> None:
    with faulty_gateway(FAULTS[fault]) as address:
        result, wall = probe_at(address, TIMEOUT)
    assert "Traceback" not in result.stderr
    assert result.exit_code in (1, 2), (
        result.stderr
    )  # a broken Gateway is an error, never a crash (3) or green
    report = result.json
    assert report["probeElapsedSeconds"] < PHASE_BOUND, (fault, report["probeElapsedSeconds"])
    assert wall < 20, wall
    for probe in report["probes"]:
        if probe["kind"] != "dns":
            assert probe.get("elapsedSeconds", 0) <= TIMEOUT + 0.5, probe
    assert any(f["severity"] == "error" and f["code"].startswith("EGD6") for f in report["findings"]), [
        f["code"] for f in report["findings"]
    ]
