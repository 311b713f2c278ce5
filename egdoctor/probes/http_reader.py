"""Reading an HTTP/1.x response off a raw socket, with h11 (the sans-IO parser httpx is built on).

The probes keep their own sockets: the bytes before the request (PROXY headers), the timing of each
phase and the way a connection ends (FIN, RST, silence) are the observations. Only the parsing of what
comes back is h11's: framing (Content-Length, chunked, close-delimited), interim 1xx responses, HEAD,
204 and 304. A reply that is not HTTP at all is recognised from its first five bytes, before h11 sees it.
"""

from __future__ import annotations

import h11

MAX_HEAD = 64 * 1024


class ResponseReader:
    """Feed it what the socket gave; it says when the response head is read and when the message ends."""

    def __init__(self, method: str, max_body: int) -> None:
        self.max_body = max_body
        self._conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        # h11 frames the response by the request it answers (HEAD has no body): tell it the method
        self._conn.send(h11.Request(method=method.upper(), target="/", headers=[("Host", "probe")]))
        self._conn.send(h11.EndOfMessage())
        self.seen = bytearray()  # the first bytes received, for a reply that is not HTTP
        self._interim = 0
        self._eof = False
        self.head_parsed = False
        self.not_http = False
        self.malformed = False
        self.complete = False
        self.dropped = False
        self.status: int | None = None
        self.reason: str | None = None
        self.version: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.raw_head = b""
        self.body = bytearray()
        self.error: str | None = None

    def feed(self, data: bytes) -> None:
        if len(self.seen) < MAX_HEAD + 4:
            self.seen += data[: MAX_HEAD + 4 - len(self.seen)]
        if len(self.seen) >= 5 and not self.seen.startswith(b"HTTP/"):
            self.not_http = True
            return
        self._conn.receive_data(data)
        self._drain()

    def feed_eof(self) -> None:
        """The peer closed: a close-delimited body ends here, any other incomplete message is cut."""
        if self.not_http or self.complete or self.malformed:
            return
        self._eof = True
        self._conn.receive_data(b"")
        self._drain()

    def _drain(self) -> None:
        while not (self.complete or self.malformed or self.not_http):
            try:
                event = self._conn.next_event()
            except h11.RemoteProtocolError as exc:
                if self.head_parsed:
                    self.malformed = True
                    self.error = f"malformed response body ({exc})"
                elif not self._eof:  # a head cut short by the peer's close is incomplete, not foreign
                    self.not_http = True
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.InformationalResponse):
                self._interim += 1  # 100 Continue, 103 Early Hints: the real response follows
            elif isinstance(event, h11.Response):
                self._read_head(event)
            elif isinstance(event, h11.Data):
                self._take(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                self.complete = True
            elif isinstance(event, h11.ConnectionClosed):
                return

    def _read_head(self, event: h11.Response) -> None:
        self.head_parsed = True
        self.status = event.status_code
        self.reason = event.reason.decode("latin-1")
        self.version = event.http_version.decode("ascii")
        self.headers = [
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in event.headers.raw_items()
        ]
        heads = bytes(self.seen).split(b"\r\n\r\n")
        if len(heads) > self._interim:
            self.raw_head = heads[self._interim] + b"\r\n\r\n"

    def _take(self, data: bytes) -> None:
        room = self.max_body - len(self.body)
        if len(data) > room:
            self.dropped = True
        if room > 0:
            self.body += data[:room]
