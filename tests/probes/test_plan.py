"""Probe options, the allow-list safety net, targets, DNS judgement and certificate judgement."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from egdoctor.checks.engine import run_checks
from egdoctor.checks.registry import Options
from egdoctor.probes.dns_check import Resolution, check_names, make_resolver, resolve
from egdoctor.probes.plan import (
    OptionError,
    ProbeOptions,
    allowed,
    build_targets,
    parse_allow,
    parse_observe,
    parse_resolver,
)
from egdoctor.probes.served_cert import SecretCert, judge
from egdoctor.snapshot.files import load_files
from egdoctor_lab.datapath.dns import DnsServer, DnsTable
from tests.conftest import SCENARIOS

HEALTHY = SCENARIOS / "shared-direct-healthy.yaml"
XFF = SCENARIOS / "shared-xff-healthy.yaml"


def test_parse_allow_prefers_the_option_over_the_environment() -> None:
    nets, source = parse_allow("10.0.0.0/8, 127.0.0.0/8", {"EGDOCTOR_PROBE_ALLOW": "192.0.2.0/24"})
    assert nets == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.0/8"))
    assert source == "--probe-allow"
    nets, source = parse_allow(None, {"EGDOCTOR_PROBE_ALLOW": "192.0.2.0/24"})
    assert nets == (ipaddress.ip_network("192.0.2.0/24"),) and source == "EGDOCTOR_PROBE_ALLOW"
    assert parse_allow(None, {}) == (None, "")
    with pytest.raises(OptionError, match="not a CIDR"):
        parse_allow("10.0.0.0/33", {})


def test_allowed() -> None:
    options = ProbeOptions(allow=(ipaddress.ip_network("127.0.0.0/8"),))
    assert allowed("127.200.10.1", options)
    assert not allowed("203.0.113.20", options)
    assert not allowed("::1", options)
    assert allowed("203.0.113.20", ProbeOptions())


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("[::1]:53", ("::1", 53)),
        ("::1", ("::1", 53)),
    ],
)
def test_parse_resolver(text: str, want: tuple[str, int]) -> None:
    assert parse_resolver(text) == want


def test_parse_resolver_and_observe_errors() -> None:
    with pytest.raises(OptionError):
        parse_resolver("dns.example:53")
    with pytest.raises(OptionError):
        parse_observe("sometimes")
    with pytest.raises(OptionError):
        parse_observe("echo:relative")
    assert parse_observe("echo:/headers") == ("echo", "/headers")


def _diagnosis(path: Path, namespace: str | None = "team-a"):
    snapshot = load_files([str(path)], frozenset({namespace}) if namespace else None)
    return run_checks(snapshot, Options(), {})


def test_targets_are_the_status_addresses_on_listener_ports_with_route_hostnames() -> None:
    gts = build_targets(_diagnosis(HEALTHY), ProbeOptions())
    assert len(gts) == 1
    gt = gts[0]
    assert gt.addresses == ("203.0.113.20",)
    assert [(t.address, t.port, t.protocol, t.host) for t in gt.ports] == [
        ("203.0.113.20", 80, "HTTP", "team-a.example.com"),
        ("203.0.113.20", 443, "HTTPS", "team-a.example.com"),
    ]
    # -n team-a: team-b's listener is not in view, so its hostname is neither probed nor resolved
    assert [name for name, _ in gt.names] == ["team-a.example.com"]


def test_the_allow_list_turns_a_target_into_a_note_not_traffic() -> None:
    options = ProbeOptions(allow=(ipaddress.ip_network("127.0.0.0/8"),), allow_source="EGDOCTOR_PROBE_ALLOW")
    gt = build_targets(_diagnosis(HEALTHY), options)[0]
    assert gt.ports == () and gt.addresses == ()
    assert any("203.0.113.20 is outside the probe allow-list 127.0.0.0/8" in n for n in gt.notes)


def test_address_override() -> None:
    gt = build_targets(_diagnosis(HEALTHY), ProbeOptions(addresses=("127.0.0.9",)))[0]
    assert {t.address for t in gt.ports} == {"127.0.0.9"}


def _names(gt, resolutions):
    lv = gt.view.listeners[0]
    return [(name, lv, res) for name, res in resolutions]


def test_dns_judgement_direct_mode() -> None:
    gt = build_targets(_diagnosis(HEALTHY), ProbeOptions())[0]
    out = check_names(
        gt,
        _names(
            gt,
            [
                ("ok.example.com", Resolution("ok.example.com", ("203.0.113.20",))),
                ("stale.example.com", Resolution("stale.example.com", ("192.0.2.9",))),
                (
                    "gone.example.com",
                    Resolution("gone.example.com", (), "NXDOMAIN (the name does not exist)"),
                ),
                (
                    "slow.example.com",
                    Resolution("slow.example.com", (), "no answer within 3s", definitive=False),
                ),
            ],
        ),
        "",
    )
    assert [f.code for f in out.findings] == ["EGD502", "EGD501"]
    assert out.notes == ("DNS for slow.example.com not checked: no answer within 3s",)
    assert out.edges == ()


def test_dns_judgement_xff_mode_finds_the_edges() -> None:
    gt = build_targets(_diagnosis(XFF, None), ProbeOptions())[0]
    assert gt.view.listeners[0].client_ip.xff
    lb = gt.addresses[0]
    out = check_names(
        gt,
        _names(
            gt,
            [
                ("cdn.example.com", Resolution("cdn.example.com", ("192.0.2.50",))),
                ("bypass.example.com", Resolution("bypass.example.com", (lb,))),
            ],
        ),
        "",
    )
    assert [f.code for f in out.findings] == ["EGD503"]
    assert [(name, addr) for name, addr, _ in out.edges] == [("cdn.example.com", "192.0.2.50")]


def test_resolve_against_a_real_authoritative_server() -> None:
    server = DnsServer(
        DnsTable(
            {"app.example.test": ["127.0.0.10"], "www.example.test": ["app.example.test"]}, ["example.test"]
        )
    )
    server.start()
    try:
        resolver = make_resolver(server.address, 2.0)
        assert resolve("www.example.test", resolver).addresses == ("127.0.0.10",)
        missing = resolve("missing.example.test", resolver)
        assert missing.addresses == () and missing.definitive and "NXDOMAIN" in (missing.error or "")
        outside = resolve("example.com", resolver)  # REFUSED: resolver trouble, not an answer about the name
        assert not outside.definitive
    finally:
        server.stop()


def test_an_nxdomain_to_aaaa_keeps_the_a_records_and_names_the_contradiction() -> None:
    server = DnsServer(
        DnsTable({"app.example.test": ["127.0.0.10"]}, ["example.test"], {"app.example.test": ["AAAA"]})
    )
    server.start()
    try:
        res = resolve("app.example.test", make_resolver(server.address, 2.0))
    finally:
        server.stop()
    assert res.addresses == ("127.0.0.10",) and res.error is None
    assert res.inconsistency and "answered A records but NXDOMAIN" in res.inconsistency
    assert "AAAA" in res.inconsistency


def test_a_contradicting_server_is_judged_on_the_addresses_it_gave() -> None:
    contradiction = "the DNS server contradicts itself: it answered A records but NXDOMAIN to the AAAA query"
    gt = build_targets(_diagnosis(HEALTHY), ProbeOptions())[0]
    res = Resolution("ok.example.com", ("203.0.113.20",), inconsistency=contradiction)
    out = check_names(gt, _names(gt, [("ok.example.com", res)]), "")
    assert [f.code for f in out.findings] == []  # it resolves to the load balancer: no EGD501
    assert [r.verdict for r in out.rows] == ["ok"]
    assert any(contradiction in note for note in out.notes)


def test_certificate_judgement() -> None:
    leaf, other = b"leaf-der", b"other-der"
    secret = [SecretCert("gateway/team-a-tls", leaf)]
    assert judge(leaf, None, None, "a.example.com", secret, "the CA").ok
    mismatch = judge(
        leaf,
        "Hostname mismatch, certificate is not valid for 'a.example.com'.",
        62,
        "a.example.com",
        secret,
        "the CA",
    )
    assert not mismatch.ok and "does not cover a.example.com" in mismatch.problem
    differs = judge(other, None, None, "a.example.com", secret, "the CA")
    assert not differs.ok and "differs from the certificate in Secret gateway/team-a-tls" in differs.problem
    untrusted = judge(leaf, "self-signed certificate", 18, "a.example.com", secret, "the CA")
    assert "does not verify against the CA" in untrusted.problem
    assert not judge(None, None, None, "a.example.com", secret, "the CA").served
