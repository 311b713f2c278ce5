"""Which addresses probes may go to: special-purpose ranges are refused unless allowed or named."""

from __future__ import annotations

import ipaddress

import pytest

from egdoctor.probes.model import ProbeTarget
from egdoctor.probes.observers import strip_port
from egdoctor.probes.plan import ProbeOptions, allowed, pick_edges, refusal, valid_hostname
from egdoctor.probes.target_policy import special_range


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("100.64.0.1", "shared (carrier-grade NAT)"),
        ("100.127.255.254", "shared (carrier-grade NAT)"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("255.255.255.255", "broadcast"),
        ("not-an-ip", "not an IP"),
    ],
)
def test_special_ranges_are_refused_by_default(address: str, kind: str) -> None:
    assert special_range(address) == kind
    assert not allowed(address, ProbeOptions())
    if kind != "not an IP":
        assert f"is a {kind} address" in refusal(address, ProbeOptions())


@pytest.mark.parametrize(
    "address", ["203.0.113.20", "198.51.100.7", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2001:db8::1"]
)
def test_other_addresses_are_allowed_by_default(address: str) -> None:
    assert special_range(address) is None
    assert allowed(address, ProbeOptions())


def test_the_allow_list_allows_special_ranges_and_is_then_the_whole_rule() -> None:
    options = ProbeOptions(allow=(ipaddress.ip_network("10.0.0.0/8"),), allow_source="--probe-allow")
    assert allowed("10.1.2.3", options)
    assert not allowed("203.0.113.20", options)
    assert not allowed("169.254.169.254", options)


def test_an_address_the_user_names_is_allowed() -> None:
    assert allowed("10.1.2.3", ProbeOptions(addresses=("10.1.2.3",)))
    assert not allowed("10.1.2.4", ProbeOptions(addresses=("10.1.2.3",)))


def test_dns_answers_to_link_local_and_private_addresses_are_refused_and_listed() -> None:
    planned: list[ProbeTarget] = []
    notes: list[str] = []
    answers = [
        ("cdn.example.com", "169.254.169.254"),
        ("cdn.example.com", "10.0.0.5"),
        ("cdn.example.com", "100.64.1.1"),
        ("cdn.example.com", "203.0.113.50"),
    ]
    picked = pick_edges(("gateway", "shared"), answers, ProbeOptions(), planned, notes)
    assert picked == [("cdn.example.com", "203.0.113.50")]
    refused = {t.address: t.refused for t in planned if t.refused}
    assert set(refused) == {"169.254.169.254", "10.0.0.5", "100.64.1.1"}
    assert "link-local" in (refused["169.254.169.254"] or "")
    assert len(notes) == 3 and all(n.startswith("edge proxy ") for n in notes)


def test_observed_addresses_must_be_ip_addresses() -> None:
    assert strip_port("\x1b[31m6.6.6.6\x1b[0m") is None
    assert strip_port("evil.example.com") is None
    assert strip_port("6.6.6.6:80") == "6.6.6.6"


def test_only_valid_hostnames_become_host_or_sni() -> None:
    assert valid_hostname("a.example.com") and valid_hostname("*.example.com")
    for bad in ("a.example.com\r\nX-Evil: 1", "a b", "\x1b[2J.example.com", "a" * 300, ""):
        assert not valid_hostname(bad)
