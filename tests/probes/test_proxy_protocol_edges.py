"""PROXY protocol v1 decoding, field limits and the words of each refusal (pinned by mutation testing,
`scripts/mutation`).

Every byte layout here is from the specification HAProxy publishes (doc/proxy-protocol.txt: section 2.1
for the v1 line, at most 107 bytes, no leading zeros; section 2.2 for the v2 block, big-endian u16 length
and ports, 216-byte UNIX address block) and matches Envoy's reader
(``source/extensions/filters/listener/proxy_protocol/proxy_protocol.cc``).
"""

from __future__ import annotations

import struct

import pytest

from egdoctor.probes.proxy_protocol import (
    V2_SIGNATURE,
    IncompleteHeader,
    ProxyHeader,
    Tlv,
    decode,
    encode_v1,
    encode_v2,
)


def test_v1_tcp4_decodes_every_field() -> None:
    header = decode(b"PROXY TCP4 198.51.100.7 127.0.0.1 40000 80\r\nGET / HTTP/1.1\r\n")
    assert header == ProxyHeader(1, "PROXY", "TCP4", "STREAM", "198.51.100.7", "127.0.0.1", 40000, 80, (), 44)


def test_v1_tcp6_decodes_every_field() -> None:
    header = decode(b"PROXY TCP6 2001:db8::7 ::1 65535 0\r\n")
    assert header == ProxyHeader(1, "PROXY", "TCP6", "STREAM", "2001:db8::7", "::1", 65535, 0, (), 36)


@pytest.mark.parametrize("line", [b"PROXY UNKNOWN\r\n", b"PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n"])
def test_v1_unknown_carries_no_addresses(line: bytes) -> None:
    header = decode(line + b"rest")
    assert header == ProxyHeader(1, "PROXY", "UNKNOWN", "UNSPEC", None, None, None, None, (), len(line))


def test_v1_line_is_found_at_its_first_crlf() -> None:
    header = decode(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nX\r\n")
    assert header is not None and header.length == 32


def test_v1_crlf_must_come_within_107_bytes() -> None:
    line = b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2" + b" " * 80
    with pytest.raises(ValueError, match="no CRLF within the first 107 bytes") as error:
        decode(line[:107])
    assert not isinstance(error.value, IncompleteHeader)
    with pytest.raises(IncompleteHeader, match="not terminated yet"):
        decode(line[:106])
    assert decode(b"PROXY UNKNOWN" + b" " * 92 + b"\r\n") is not None  # 107 bytes with CRLF: allowed


def test_v1_refusals_name_the_field() -> None:
    with pytest.raises(ValueError, match="non-ASCII bytes"):
        decode("PROXY TCP4 1.2.3.4 5.6.7.8 1 2é\r\n".encode())
    with pytest.raises(ValueError, match="6 space-separated fields, got 5"):
        decode(b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n")
    with pytest.raises(ValueError, match="6 space-separated fields, got 7"):
        decode(b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n")  # two spaces: an empty field
    with pytest.raises(ValueError, match="TCP4, TCP6 or UNKNOWN, got 'UDP4'"):
        decode(b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n")
    with pytest.raises(ValueError, match=r"^source address 'x' is not"):
        decode(b"PROXY TCP4 x 5.6.7.8 1 2\r\n")
    with pytest.raises(ValueError, match=r"^destination address 'y' is not"):
        decode(b"PROXY TCP4 1.2.3.4 y 1 2\r\n")
    with pytest.raises(ValueError, match="another family"):
        decode(b"PROXY TCP4 1.2.3.4 ::1 1 2\r\n")
    with pytest.raises(ValueError, match="another family"):
        decode(b"PROXY TCP6 ::1 1.2.3.4 1 2\r\n")


@pytest.mark.parametrize(
    ("sport", "dport", "message"),
    [
        (b"01", b"2", "^v1 source port '01' is not a canonical decimal number"),
        (b"1", b"007", "^v1 destination port '007' is not a canonical"),
        (b"+1", b"2", "^v1 source port"),
        (b"-1", b"2", "^v1 source port"),
        (b"1", b"65536", "^destination port must be 0-65535, got 65536"),
        (b"70000", b"1", "^source port must be 0-65535"),
    ],
)
def test_v1_ports_are_canonical_and_in_range(sport: bytes, dport: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode(b"PROXY TCP4 1.2.3.4 5.6.7.8 " + sport + b" " + dport + b"\r\n")


def test_v1_port_zero_is_allowed() -> None:
    header = decode(b"PROXY TCP4 1.2.3.4 5.6.7.8 0 0\r\n")
    assert header is not None and (header.src_port, header.dst_port) == (0, 0)


def test_a_partial_prefix_waits_for_more_bytes() -> None:
    with pytest.raises(IncompleteHeader, match="partial v1 'PROXY ' prefix"):
        decode(b"PROXY")
    with pytest.raises(IncompleteHeader, match="have 15 bytes of a v2 header, need at least 16"):
        decode(V2_SIGNATURE + b"\x21\x11\x00")
    assert decode(b"PROXX") is None


def test_encode_v1_exact_bytes_and_limits() -> None:
    assert encode_v1("1.2.3.4", "5.6.7.8", 0, 65535) == b"PROXY TCP4 1.2.3.4 5.6.7.8 0 65535\r\n"
    assert encode_v1("2001:0db8::1", "::1", 1, 2) == b"PROXY TCP6 2001:db8::1 ::1 1 2\r\n"
    with pytest.raises(ValueError, match=r"^destination port must be 0-65535"):
        encode_v1("1.2.3.4", "5.6.7.8", 1, 65536)
    with pytest.raises(ValueError, match=r"^destination address"):
        encode_v1("1.2.3.4", "nope", 1, 2)


def test_encode_v2_exact_bytes() -> None:
    """0x21 = version 2, PROXY; 0x11 = INET, STREAM; ports big-endian."""
    assert encode_v2("1.2.3.4", "5.6.7.8", 0, 65535) == (
        V2_SIGNATURE + b"\x21\x11\x00\x0c" + bytes([1, 2, 3, 4, 5, 6, 7, 8]) + b"\x00\x00\xff\xff"
    )
    assert encode_v2() == V2_SIGNATURE + b"\x21\x00\x00\x00"
    assert encode_v2(command="LOCAL") == V2_SIGNATURE + b"\x20\x00\x00\x00"
    big = encode_v2("1.2.3.4", "5.6.7.8", 40000, 443)
    assert struct.unpack("!HH", big[-4:]) == (40000, 443)


def test_encode_v2_refusals() -> None:
    with pytest.raises(
        ValueError, match=r"^give both source and destination addresses, or neither \(UNSPEC\)$"
    ):
        encode_v2("1.2.3.4", None)
    with pytest.raises(ValueError, match="give both"):
        encode_v2(None, "1.2.3.4")
    with pytest.raises(
        ValueError, match=r"^ports need addresses: an UNSPEC header carries no address block$"
    ):
        encode_v2(src_port=1)
    with pytest.raises(ValueError, match=r"^destination address 'b' is not"):
        encode_v2("1.2.3.4", "b")


def test_payload_and_tlv_limits_are_the_u16_length() -> None:
    Tlv(0, b"")
    Tlv(0xFF, b"x" * 0xFFFF)
    with pytest.raises(ValueError, match="0-255, got 256"):
        Tlv(0x100, b"")
    with pytest.raises(ValueError, match="0-255, got -1"):
        Tlv(-1, b"")
    with pytest.raises(ValueError, match="at most 65535"):
        Tlv(1, b"x" * 0x10000)
    # address block (12) + TLV header (3) + value: the payload itself may be exactly 65535 bytes
    exact = encode_v2("1.2.3.4", "5.6.7.8", 1, 2, tlvs=[(4, b"x" * (0xFFFF - 15))])
    assert len(exact) == 16 + 0xFFFF
    decoded = decode(exact)
    assert decoded is not None and decoded.tlv(4) == b"x" * (0xFFFF - 15)
    with pytest.raises(ValueError, match="payload is 65536 bytes"):
        encode_v2("1.2.3.4", "5.6.7.8", 1, 2, tlvs=[(4, b"x" * (0xFFFF - 14))])


def test_v2_decoding_reads_unsigned_fields() -> None:
    """Ports and the length above 32767 must not come out negative."""
    data = encode_v2("::1", "2001:db8::2", 65000, 40000)
    header = decode(data)
    assert header is not None
    assert (header.src_port, header.dst_port) == (65000, 40000)
    assert (header.family, header.transport, header.length) == ("INET6", "STREAM", 16 + 36)


def test_v2_unix_addresses_are_read_up_to_their_nul() -> None:
    src = b"/run/a\x00junk".ljust(108, b"\x00")
    dst = b"/run/b".ljust(108, b"\x00")
    data = V2_SIGNATURE + b"\x21\x31" + struct.pack("!H", 216) + src + dst
    header = decode(data)
    assert header is not None
    assert (header.family, header.src_addr, header.dst_addr) == ("UNIX", "/run/a", "/run/b")
    assert (header.src_port, header.dst_port) == (None, None)
    full = b"\xff" * 108  # no NUL at all, and bytes that are not UTF-8: read, replaced, not past 108
    header = decode(V2_SIGNATURE + b"\x21\x31" + struct.pack("!H", 216) + full + b"/x".ljust(108, b"\x00"))
    assert header is not None and header.src_addr == "\ufffd" * 108 and header.dst_addr == "/x"


def test_v2_unspec_has_no_addresses_at_all() -> None:
    header = decode(encode_v2(command="LOCAL"))
    assert header is not None
    assert (header.src_addr, header.dst_addr, header.src_port, header.dst_port) == (None, None, None, None)


def test_v2_truncation_is_incomplete_not_malformed() -> None:
    data = encode_v2("1.2.3.4", "5.6.7.8", 1, 2)
    with pytest.raises(IncompleteHeader, match="announces 28 bytes, have 27"):
        decode(data[:-1])


def test_v2_tlvs_are_read_one_after_another_and_truncation_is_named() -> None:
    data = encode_v2("1.2.3.4", "5.6.7.8", 1, 2, tlvs=[(1, b"h2"), (2, b"example.com"), (4, b"")])
    header = decode(data)
    assert header is not None
    assert [(t.type, t.value) for t in header.tlvs] == [(1, b"h2"), (2, b"example.com"), (4, b"")]
    assert header.tlv(2) == b"example.com" and header.tlv(5) is None
    base = encode_v2("1.2.3.4", "5.6.7.8", 1, 2)
    for tail, message in (
        (b"\x01\x00", "truncated TLV header at offset 0"),
        (b"\x04\x00\x00\x01\x00", "truncated TLV header at offset 3"),
        (b"\x02\x00\x05abc", "TLV type 0x02 announces 5 bytes but only 3 remain"),
    ):
        grown = base[:14] + struct.pack("!H", 12 + len(tail)) + base[16:] + tail
        with pytest.raises(ValueError, match=message):
            decode(grown)
