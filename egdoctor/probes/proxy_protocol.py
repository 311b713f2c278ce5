"""PROXY protocol v1/v2 encoder and decoder, written from the HAProxy specification.

Reference: haproxy ``doc/proxy-protocol.txt`` ("The PROXY protocol", versions 1 and 2).

Layout reminders taken from that document:

* v1 is one ASCII line, at most 107 bytes including the CRLF:
  ``PROXY TCP4 <src> <dst> <sport> <dport>\\r\\n``, ``TCP6`` likewise, or ``PROXY UNKNOWN\\r\\n``
  (the receiver ignores anything after ``UNKNOWN`` up to the CRLF).
* v2 starts with the 12-byte signature ``\\r\\n\\r\\n\\0\\r\\nQUIT\\n``, then one byte holding the version
  (high nibble, always 2) and the command (low nibble: 0 LOCAL, 1 PROXY), one byte holding the
  address family (high nibble: 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX) and the transport (low nibble:
  0 UNSPEC, 1 STREAM, 2 DGRAM), then a big-endian u16 with the number of bytes that follow.
  The address block is 12 bytes for INET (src, dst, sport, dport), 36 for INET6 and 216 for UNIX.
  Type-length-value records (u8 type, u16 big-endian length, value) may fill the rest.
* A receiver given LOCAL must use the real connection endpoints and ignore the address block.

The encoder only produces what a probe needs (TCP over IPv4/IPv6, LOCAL, UNKNOWN); the decoder also
understands UDP and UNIX blocks so that it can describe whatever a peer sent.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V1_PREFIX = b"PROXY "
V1_MAX_LENGTH = 107

CMD_LOCAL = 0x0
CMD_PROXY = 0x1

AF_UNSPEC = 0x0
AF_INET = 0x1
AF_INET6 = 0x2
AF_UNIX = 0x3

TRANSPORT_UNSPEC = 0x0
TRANSPORT_STREAM = 0x1
TRANSPORT_DGRAM = 0x2

PP2_TYPE_ALPN = 0x01
PP2_TYPE_AUTHORITY = 0x02
PP2_TYPE_CRC32C = 0x03
PP2_TYPE_NOOP = 0x04
PP2_TYPE_UNIQUE_ID = 0x05
PP2_TYPE_SSL = 0x20
PP2_TYPE_NETNS = 0x30

_ADDRESS_BLOCK_LENGTH = {AF_UNSPEC: 0, AF_INET: 12, AF_INET6: 36, AF_UNIX: 216}
_FAMILY_NAMES = {AF_UNSPEC: "UNSPEC", AF_INET: "INET", AF_INET6: "INET6", AF_UNIX: "UNIX"}
_TRANSPORT_NAMES = {TRANSPORT_UNSPEC: "UNSPEC", TRANSPORT_STREAM: "STREAM", TRANSPORT_DGRAM: "DGRAM"}
_HEADER_FIXED = 16
_MAX_PAYLOAD = 0xFFFF

Command = Literal["PROXY", "LOCAL"]
IPAddressLike = str | ipaddress.IPv4Address | ipaddress.IPv6Address


class IncompleteHeader(ValueError):
    """More bytes are needed before the header can be decoded (not a malformed header)."""


@dataclass(frozen=True)
class Tlv:
    """One v2 type-length-value record."""

    type: int
    value: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.type <= 0xFF:
            raise ValueError(f"TLV type must be 0-255, got {self.type}")
        if len(self.value) > _MAX_PAYLOAD:
            raise ValueError(f"TLV value is {len(self.value)} bytes; the u16 length allows at most 65535")

    def encode(self) -> bytes:
        return struct.pack("!BH", self.type, len(self.value)) + self.value


@dataclass(frozen=True)
class ProxyHeader:
    """A decoded PROXY header.

    ``family`` is ``TCP4``/``TCP6``/``UNKNOWN`` for v1, and the v2 family name (``INET``, ``INET6``,
    ``UNIX``, ``UNSPEC``) for v2. ``length`` is the number of bytes the header occupied, so
    ``data[header.length:]`` is the payload that followed it.
    """

    version: int
    command: Command
    family: str
    transport: str
    src_addr: str | None
    dst_addr: str | None
    src_port: int | None
    dst_port: int | None
    tlvs: tuple[Tlv, ...]
    length: int

    def tlv(self, tlv_type: int) -> bytes | None:
        for item in self.tlvs:
            if item.type == tlv_type:
                return item.value
        return None


def _parse_ip(value: IPAddressLike, role: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return value
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{role} address {value!r} is not an IPv4 or IPv6 address") from None


def _check_port(port: int, role: str) -> int:
    if isinstance(port, bool) or not isinstance(port, int):
        raise ValueError(f"{role} port must be an integer, got {port!r}")
    if not 0 <= port <= 0xFFFF:
        raise ValueError(f"{role} port must be 0-65535, got {port}")
    return port


def _address_pair(
    src_addr: IPAddressLike, dst_addr: IPAddressLike
) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ipaddress.IPv4Address | ipaddress.IPv6Address]:
    src = _parse_ip(src_addr, "source")
    dst = _parse_ip(dst_addr, "destination")
    if src.version != dst.version:
        raise ValueError(
            f"address family mismatch: source {src} is IPv{src.version}, "
            f"destination {dst} is IPv{dst.version}"
        )
    return src, dst


def _coerce_tlvs(tlvs: Iterable[Tlv | tuple[int, bytes]]) -> tuple[Tlv, ...]:
    out = []
    for item in tlvs:
        out.append(item if isinstance(item, Tlv) else Tlv(item[0], bytes(item[1])))
    return tuple(out)


def encode_v2(
    src_addr: IPAddressLike | None = None,
    dst_addr: IPAddressLike | None = None,
    src_port: int = 0,
    dst_port: int = 0,
    *,
    command: Command = "PROXY",
    tlvs: Iterable[Tlv | tuple[int, bytes]] = (),
) -> bytes:
    """Build a binary v2 header for a TCP connection.

    With both addresses given the family is TCP over IPv4 (``0x11``) or IPv6 (``0x21``); with
    neither it is UNSPEC (``0x00``) and the address block is empty. ``command="LOCAL"`` produces
    ``0x20``; addresses may still be given, which the specification tells receivers to ignore.
    """
    if command not in ("PROXY", "LOCAL"):
        raise ValueError(f"command must be 'PROXY' or 'LOCAL', got {command!r}")
    ver_cmd = 0x20 | (CMD_PROXY if command == "PROXY" else CMD_LOCAL)
    if (src_addr is None) != (dst_addr is None):
        raise ValueError("give both source and destination addresses, or neither (UNSPEC)")
    if src_addr is None or dst_addr is None:
        if src_port or dst_port:
            raise ValueError("ports need addresses: an UNSPEC header carries no address block")
        fam = (AF_UNSPEC << 4) | TRANSPORT_UNSPEC
        address_block = b""
    else:
        src, dst = _address_pair(src_addr, dst_addr)
        _check_port(src_port, "source")
        _check_port(dst_port, "destination")
        family = AF_INET if src.version == 4 else AF_INET6
        fam = (family << 4) | TRANSPORT_STREAM
        address_block = src.packed + dst.packed + struct.pack("!HH", src_port, dst_port)
    tlv_bytes = b"".join(t.encode() for t in _coerce_tlvs(tlvs))
    payload = address_block + tlv_bytes
    if len(payload) > _MAX_PAYLOAD:
        raise ValueError(f"v2 header payload is {len(payload)} bytes; the u16 length allows at most 65535")
    return V2_SIGNATURE + struct.pack("!BBH", ver_cmd, fam, len(payload)) + payload


def encode_v2_local(*, tlvs: Iterable[Tlv | tuple[int, bytes]] = ()) -> bytes:
    """A v2 LOCAL header with family UNSPEC: the form health checkers send."""
    return encode_v2(command="LOCAL", tlvs=tlvs)


def encode_v1(src_addr: IPAddressLike, dst_addr: IPAddressLike, src_port: int, dst_port: int) -> bytes:
    """Build a v1 text header (``PROXY TCP4 ...`` or ``PROXY TCP6 ...``)."""
    src, dst = _address_pair(src_addr, dst_addr)
    _check_port(src_port, "source")
    _check_port(dst_port, "destination")
    proto = "TCP4" if src.version == 4 else "TCP6"
    line = f"PROXY {proto} {src.compressed} {dst.compressed} {src_port} {dst_port}\r\n".encode("ascii")
    # Unreachable with valid addresses (the longest TCP6 line is 104 bytes); kept as a guard.
    if len(line) > V1_MAX_LENGTH:
        raise ValueError(f"v1 header would be {len(line)} bytes, more than the 107 allowed")
    return line


def encode_v1_unknown() -> bytes:
    return b"PROXY UNKNOWN\r\n"


def decode(data: bytes) -> ProxyHeader | None:
    """Decode the PROXY header at the start of ``data``.

    Returns ``None`` when ``data`` clearly does not start with a PROXY header, raises
    :class:`IncompleteHeader` when it could still become one with more bytes, and
    :class:`ValueError` when it is a malformed header.
    """
    data = bytes(data)
    sig_len = min(len(data), len(V2_SIGNATURE))
    if data[:sig_len] == V2_SIGNATURE[:sig_len]:
        if len(data) < _HEADER_FIXED:
            raise IncompleteHeader(f"have {len(data)} bytes of a v2 header, need at least {_HEADER_FIXED}")
        return _decode_v2(data)
    pre_len = min(len(data), len(V1_PREFIX))
    if data[:pre_len] == V1_PREFIX[:pre_len]:
        if len(data) < len(V1_PREFIX):
            raise IncompleteHeader("have a partial v1 'PROXY ' prefix")
        return _decode_v1(data)
    return None


def _decode_v1(data: bytes) -> ProxyHeader:
    end = data.find(b"\r\n", 0, V1_MAX_LENGTH)
    if end < 0:
        if len(data) >= V1_MAX_LENGTH:
            raise ValueError("v1 header has no CRLF within the first 107 bytes")
        raise IncompleteHeader("v1 header line is not terminated yet")
    try:
        line = data[:end].decode("ascii")
    except UnicodeDecodeError:
        raise ValueError("v1 header contains non-ASCII bytes") from None
    parts = line.split(" ")
    length = end + 2
    if len(parts) >= 2 and parts[1] == "UNKNOWN":
        return ProxyHeader(1, "PROXY", "UNKNOWN", "UNSPEC", None, None, None, None, (), length)
    if len(parts) != 6:
        raise ValueError(f"v1 header must have 6 space-separated fields, got {len(parts)}: {line!r}")
    _, proto, src_s, dst_s, sport_s, dport_s = parts
    if proto not in ("TCP4", "TCP6"):
        raise ValueError(f"v1 protocol must be TCP4, TCP6 or UNKNOWN, got {proto!r}")
    want = 4 if proto == "TCP4" else 6
    src = _parse_ip(src_s, "source")
    dst = _parse_ip(dst_s, "destination")
    if src.version != want or dst.version != want:
        raise ValueError(f"v1 {proto} header carries addresses of another family: {src_s}, {dst_s}")
    ports = []
    for text, role in ((sport_s, "source"), (dport_s, "destination")):
        # The spec forbids leading zeros and signs; int() alone would accept both.
        if not text.isdigit() or (len(text) > 1 and text[0] == "0"):
            raise ValueError(f"v1 {role} port {text!r} is not a canonical decimal number")
        ports.append(_check_port(int(text), role))
    return ProxyHeader(1, "PROXY", proto, "STREAM", str(src), str(dst), ports[0], ports[1], (), length)


def _decode_v2(data: bytes) -> ProxyHeader:
    ver_cmd, fam, payload_len = struct.unpack_from("!BBH", data, len(V2_SIGNATURE))
    version, cmd = ver_cmd >> 4, ver_cmd & 0x0F
    if version != 2:
        raise ValueError(f"v2 signature followed by version nibble {version}, expected 2")
    if cmd not in (CMD_LOCAL, CMD_PROXY):
        raise ValueError(f"v2 command nibble {cmd:#x} is neither LOCAL (0) nor PROXY (1)")
    family, transport = fam >> 4, fam & 0x0F
    if family not in _FAMILY_NAMES:
        raise ValueError(f"v2 address family nibble {family:#x} is not defined")
    if transport not in _TRANSPORT_NAMES:
        raise ValueError(f"v2 transport nibble {transport:#x} is not defined")
    total = _HEADER_FIXED + payload_len
    if len(data) < total:
        raise IncompleteHeader(f"v2 header announces {total} bytes, have {len(data)}")
    payload = data[_HEADER_FIXED:total]
    block_len = _ADDRESS_BLOCK_LENGTH[family]
    if payload_len < block_len:
        raise ValueError(
            f"v2 length {payload_len} is shorter than the {block_len}-byte "
            f"{_FAMILY_NAMES[family]} address block"
        )
    src: str | None = None
    dst: str | None = None
    sport: int | None = None
    dport: int | None = None
    if family == AF_INET:
        src = str(ipaddress.IPv4Address(payload[0:4]))
        dst = str(ipaddress.IPv4Address(payload[4:8]))
        sport, dport = struct.unpack_from("!HH", payload, 8)
    elif family == AF_INET6:
        src = str(ipaddress.IPv6Address(payload[0:16]))
        dst = str(ipaddress.IPv6Address(payload[16:32]))
        sport, dport = struct.unpack_from("!HH", payload, 32)
    elif family == AF_UNIX:
        src = payload[0:108].split(b"\x00", 1)[0].decode("utf-8", "replace")
        dst = payload[108:216].split(b"\x00", 1)[0].decode("utf-8", "replace")
    tlvs = _decode_tlvs(payload[block_len:])
    return ProxyHeader(
        version=2,
        command="PROXY" if cmd == CMD_PROXY else "LOCAL",
        family=_FAMILY_NAMES[family],
        transport=_TRANSPORT_NAMES[transport],
        src_addr=src,
        dst_addr=dst,
        src_port=sport,
        dst_port=dport,
        tlvs=tlvs,
        length=total,
    )


def _decode_tlvs(block: bytes) -> tuple[Tlv, ...]:
    out = []
    pos = 0
    while pos < len(block):
        if len(block) - pos < 3:
            raise ValueError(f"truncated TLV header at offset {pos} of the TLV area")
        tlv_type, tlv_len = struct.unpack_from("!BH", block, pos)
        pos += 3
        if pos + tlv_len > len(block):
            raise ValueError(
                f"TLV type {tlv_type:#04x} announces {tlv_len} bytes but only {len(block) - pos} remain"
            )
        out.append(Tlv(tlv_type, block[pos : pos + tlv_len]))
        pos += tlv_len
    return tuple(out)
