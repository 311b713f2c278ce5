"""Byte-exact checks of the PROXY protocol encoder/decoder.

Every expected vector below is written out by hand from haproxy ``doc/proxy-protocol.txt``
(section 2.1 for v1, section 2.2 for v2), not produced by the code under test.
"""

from __future__ import annotations

import ipaddress

import pytest

from egdoctor.probes import proxy_protocol as pp

SIG = b"\x0d\x0a\x0d\x0a\x00\x0d\x0a\x51\x55\x49\x54\x0a"


def test_signature_matches_spec() -> None:
    assert pp.V2_SIGNATURE == SIG
    assert pp.V2_SIGNATURE == b"\r\n\r\n\0\r\nQUIT\n"
    assert len(pp.V2_SIGNATURE) == 12


def test_v2_tcp4_vector() -> None:
    got = pp.encode_v2("203.0.113.7", "192.0.2.10", 51234, 80)
    want = (
        SIG
        + b"\x21"  # version 2, command PROXY
        + b"\x11"  # AF_INET, STREAM
        + b"\x00\x0c"  # 12 bytes follow
        + bytes([203, 0, 113, 7])
        + bytes([192, 0, 2, 10])
        + b"\xc8\x22"  # 51234
        + b"\x00\x50"  # 80
    )
    assert got == want
    assert len(got) == 28


def test_v2_tcp6_vector() -> None:
    got = pp.encode_v2("2001:db8::1", "2001:db8::2", 1, 443)
    src = bytes.fromhex("20010db8000000000000000000000001")
    dst = bytes.fromhex("20010db8000000000000000000000002")
    want = SIG + b"\x21\x21\x00\x24" + src + dst + b"\x00\x01\x01\xbb"
    assert got == want
    assert len(got) == 16 + 36


def test_v2_local_vector() -> None:
    assert pp.encode_v2_local() == SIG + b"\x20\x00\x00\x00"
    assert pp.encode_v2(command="LOCAL") == SIG + b"\x20\x00\x00\x00"


def test_v2_proxy_unspec_vector() -> None:
    assert pp.encode_v2() == SIG + b"\x21\x00\x00\x00"


def test_v2_local_with_addresses_keeps_block() -> None:
    got = pp.encode_v2("203.0.113.9", "192.0.2.10", 1, 2, command="LOCAL")
    assert got[12:16] == b"\x20\x11\x00\x0c"


def test_v2_authority_tlv_vector() -> None:
    got = pp.encode_v2(
        "203.0.113.7", "192.0.2.10", 1024, 443, tlvs=[pp.Tlv(pp.PP2_TYPE_AUTHORITY, b"app.example.test")]
    )
    want = (
        SIG
        + b"\x21\x11"
        + b"\x00\x1f"  # 12 address bytes + 3 TLV header bytes + 16 value bytes = 31
        + bytes([203, 0, 113, 7, 192, 0, 2, 10])
        + b"\x04\x00\x01\xbb"
        + b"\x02\x00\x10"
        + b"app.example.test"
    )
    assert got == want


def test_v2_multiple_tlvs_and_tuple_form() -> None:
    got = pp.encode_v2_local(tlvs=[(pp.PP2_TYPE_NOOP, b""), (0xE0, b"\x01\x02")])
    assert got == SIG + b"\x20\x00\x00\x08" + b"\x04\x00\x00" + b"\xe0\x00\x02\x01\x02"


def test_v1_vectors() -> None:
    assert (
        pp.encode_v1("203.0.113.7", "192.0.2.10", 51234, 80)
        == b"PROXY TCP4 203.0.113.7 192.0.2.10 51234 80\r\n"
    )
    assert (
        pp.encode_v1("2001:db8::1", "2001:db8::2", 1, 443) == b"PROXY TCP6 2001:db8::1 2001:db8::2 1 443\r\n"
    )
    assert pp.encode_v1_unknown() == b"PROXY UNKNOWN\r\n"


def test_v1_longest_line_fits_spec_limit() -> None:
    full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    line = pp.encode_v1(full, full, 65535, 65535)
    assert len(line) == 104
    assert len(line) <= pp.V1_MAX_LENGTH


def test_accepts_ipaddress_objects() -> None:
    a = ipaddress.ip_address("10.0.0.1")
    b = ipaddress.ip_address("10.0.0.2")
    assert pp.encode_v2(a, b, 1, 2) == pp.encode_v2("10.0.0.1", "10.0.0.2", 1, 2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("203.0.113.7", "2001:db8::1", 1, 2), "address family mismatch"),
        (("203.0.113.7", "192.0.2.1", -1, 2), "source port must be 0-65535"),
        (("203.0.113.7", "192.0.2.1", 1, 65536), "destination port must be 0-65535"),
        (("not-an-ip", "192.0.2.1", 1, 2), "source address 'not-an-ip'"),
        (("203.0.113.7", "192.0.2.1", True, 2), "source port must be an integer"),
    ],
)
def test_encode_errors(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pp.encode_v2(*args)
    with pytest.raises(ValueError, match=message):
        pp.encode_v1(*args)


def test_v2_structural_errors() -> None:
    with pytest.raises(ValueError, match="both source and destination"):
        pp.encode_v2("203.0.113.7", None)
    with pytest.raises(ValueError, match="ports need addresses"):
        pp.encode_v2(src_port=1)
    with pytest.raises(ValueError, match="command must be"):
        pp.encode_v2(command="BOGUS")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="TLV type must be 0-255"):
        pp.Tlv(256, b"")
    with pytest.raises(ValueError, match="at most 65535"):
        pp.Tlv(1, b"x" * 65536)
    with pytest.raises(ValueError, match="payload is"):
        pp.encode_v2("1.2.3.4", "1.2.3.5", 1, 2, tlvs=[pp.Tlv(1, b"x" * 65530)])


def test_round_trip_v2_tcp4_with_payload() -> None:
    header = pp.encode_v2("203.0.113.7", "192.0.2.10", 51234, 80, tlvs=[(pp.PP2_TYPE_AUTHORITY, b"a.test")])
    parsed = pp.decode(header + b"GET / HTTP/1.1\r\n")
    assert parsed is not None
    assert (parsed.version, parsed.command, parsed.family, parsed.transport) == (2, "PROXY", "INET", "STREAM")
    assert (parsed.src_addr, parsed.dst_addr, parsed.src_port, parsed.dst_port) == (
        "203.0.113.7",
        "192.0.2.10",
        51234,
        80,
    )
    assert parsed.tlv(pp.PP2_TYPE_AUTHORITY) == b"a.test"
    assert parsed.tlv(pp.PP2_TYPE_ALPN) is None
    assert parsed.length == len(header)


def test_round_trip_v2_tcp6() -> None:
    parsed = pp.decode(pp.encode_v2("2001:db8::1", "2001:db8::2", 1, 443))
    assert parsed is not None
    assert (parsed.family, parsed.src_addr, parsed.dst_addr, parsed.src_port, parsed.dst_port) == (
        "INET6",
        "2001:db8::1",
        "2001:db8::2",
        1,
        443,
    )


def test_round_trip_v2_local() -> None:
    parsed = pp.decode(pp.encode_v2_local())
    assert parsed is not None
    assert (parsed.command, parsed.family, parsed.src_addr, parsed.length) == ("LOCAL", "UNSPEC", None, 16)


def test_round_trip_v1() -> None:
    for line, family in (
        (pp.encode_v1("203.0.113.7", "192.0.2.10", 51234, 80), "TCP4"),
        (pp.encode_v1("2001:db8::1", "2001:db8::2", 1, 443), "TCP6"),
    ):
        parsed = pp.decode(line + b"rest")
        assert parsed is not None
        assert parsed.version == 1
        assert parsed.family == family
        assert parsed.length == len(line)
    unknown = pp.decode(b"PROXY UNKNOWN ignored stuff\r\nGET")
    assert unknown is not None
    assert (unknown.family, unknown.src_addr, unknown.length) == ("UNKNOWN", None, 29)


def test_decode_unix_and_dgram_blocks() -> None:
    src = b"/run/a.sock".ljust(108, b"\x00")
    dst = b"/run/b.sock".ljust(108, b"\x00")
    parsed = pp.decode(SIG + b"\x21\x31\x00\xd8" + src + dst)
    assert parsed is not None
    assert (parsed.family, parsed.transport, parsed.src_addr, parsed.dst_addr) == (
        "UNIX",
        "STREAM",
        "/run/a.sock",
        "/run/b.sock",
    )
    udp = pp.decode(SIG + b"\x21\x12\x00\x0c" + bytes([1, 2, 3, 4, 5, 6, 7, 8]) + b"\x00\x35\x00\x35")
    assert udp is not None
    assert (udp.transport, udp.src_port) == ("DGRAM", 53)


def test_decode_not_a_header() -> None:
    assert pp.decode(b"GET / HTTP/1.1\r\n") is None
    assert pp.decode(b"\x16\x03\x01\x02\x00") is None


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\r\n\r",
        SIG,
        SIG + b"\x21\x11\x00",
        SIG + b"\x21\x11\x00\x0c" + b"\x01" * 5,
        b"PRO",
        b"PROXY TCP4 1.2",
    ],
)
def test_decode_incomplete(data: bytes) -> None:
    with pytest.raises(pp.IncompleteHeader):
        pp.decode(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (SIG + b"\x11\x11\x00\x00", "version nibble 1"),
        (SIG + b"\x22\x11\x00\x00", "command nibble"),
        (SIG + b"\x21\x41\x00\x00", "address family nibble"),
        (SIG + b"\x21\x13\x00\x00", "transport nibble"),
        (SIG + b"\x21\x11\x00\x04" + b"\x00" * 4, "shorter than the 12-byte INET"),
        (SIG + b"\x20\x00\x00\x02" + b"\x01\x00", "truncated TLV"),
        (SIG + b"\x20\x00\x00\x04" + b"\x01\x00\x05\x00", "announces 5 bytes"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "6 space-separated fields"),
        (b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", "TCP4, TCP6 or UNKNOWN"),
        (b"PROXY TCP4 1.2.3.4 ::1 1 2\r\n", "another family"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", "canonical decimal"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", "0-65535"),
        (b"PROXY " + b"x" * 120, "no CRLF within the first 107 bytes"),
    ],
)
def test_decode_malformed(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        pp.decode(data)
    assert not isinstance(info.value, pp.IncompleteHeader)
