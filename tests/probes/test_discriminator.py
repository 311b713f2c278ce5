"""The discriminator pair and XFF readings, as pure functions.

The expected combinations are the ones measured on real HAProxy + Envoy (the probe scenarios in
egdoctor_lab/scenarios/probe-*.yaml replay them end to end): Envoy's proxy_protocol listener filter closes a
connection without a PROXY header (``source/extensions/filters/listener/proxy_protocol/proxy_protocol.cc``),
a second PROXY header reaches the HTTP/1 codec and gets 400, and EG's XFF mode trusts the N-th entry from
the right (``source/extensions/http/original_ip_detection/xff/xff.cc`` with EG's N-1).
"""

from __future__ import annotations

import pytest

from egdoctor.probes.discriminator import describe, in_ranges, judge_pair, kind_of, marker_for
from egdoctor.probes.transport import ExchangeResult, TlsInfo
from egdoctor.probes.xff import position_in, proxies_in_front, read_edge


def _result(
    outcome: str, status: int | None = None, tls: TlsInfo | None = None, phase: str = "done"
) -> ExchangeResult:
    return ExchangeResult(
        outcome=outcome,  # type: ignore[arg-type]
        phase=phase,  # type: ignore[arg-type]
        target=("127.0.0.1", 80),
        local_address=("127.0.0.1", 40000),
        user_agent="t",
        status=status,
        tls=tls,
    )


@pytest.mark.parametrize(
    ("result", "tls", "kind"),
    [
        (_result("http", 200), False, "answered"),
        (_result("http", 404), False, "answered"),
        (_result("http", 400), False, "rejected"),
        (_result("http", 400), True, "answered"),  # a 400 inside TLS is an application answer
        (_result("empty"), False, "dropped"),
        (_result("reset"), False, "dropped"),
        (_result("tls_error", tls=TlsInfo()), True, "dropped"),
        (_result("tls_error", tls=TlsInfo(peer_cert_der=b"x", verify_error="bad")), True, "answered"),
        (_result("timeout", phase="receive"), False, "unreachable"),
        (_result("refused", phase="connect"), False, "unreachable"),
        (_result("bad_response"), False, "other"),
    ],
)
def test_kind_of(result: ExchangeResult, tls: bool, kind: str) -> None:
    assert kind_of(result, tls) == kind


@pytest.mark.parametrize(
    ("plain", "forged", "lb_sends", "expects", "state"),
    [
        ("answered", "rejected", True, True, "accepts"),  # LB v2 + strict: healthy
        ("dropped", "answered", False, True, "pp-missing"),  # LB plain + strict: EGD603 + EGD604
        ("rejected", "rejected", True, False, "pp-unexpected"),  # LB v2 + no filter: EGD602
        ("answered", "rejected", False, False, "accepts"),  # neither side: needs an observer
        ("answered", "answered", False, True, "forgeable"),  # LB plain + optional: EGD604
        ("unreachable", None, True, True, "unreachable"),
        ("dropped", "dropped", True, True, "silent"),
    ],
)
def test_judge_pair_matrix(plain: str, forged: str | None, lb_sends: bool, expects: bool, state: str) -> None:
    assert judge_pair(plain, forged, False, False, lb_sends, expects).state == state  # type: ignore[arg-type]


def test_tls_failures_both_ways_with_the_lb_sending_proxy_are_pp_unexpected() -> None:
    assert judge_pair("dropped", "dropped", False, True, True, False).state == "pp-unexpected"


def test_a_failure_outside_the_source_ranges_is_the_lb_doing_its_job() -> None:
    assert judge_pair("dropped", "dropped", True, False, False, False).state == "refused-by-ranges"
    assert judge_pair("unreachable", None, True, False, False, False).state == "refused-by-ranges"
    # ...but an answer proves the ranges did not apply
    assert judge_pair("answered", "rejected", True, False, False, False).state == "accepts"


def test_markers_are_documentation_addresses_fixed_per_port() -> None:
    assert marker_for("127.0.10.1", 80) == "203.0.113.180"
    assert marker_for("127.0.10.1", 443) == "203.0.113.143"
    assert marker_for("2001:db8::1", 80).startswith("2001:db8::")


def test_in_ranges() -> None:
    assert in_ranges("127.0.0.1", ("198.51.100.0/24",)) is False
    assert in_ranges("198.51.100.7", ("198.51.100.0/24", "bogus")) is True
    assert in_ranges("127.0.0.1", ()) is None
    assert in_ranges(None, ("10.0.0.0/8",)) is None


def test_describe_says_what_came_back() -> None:
    assert describe(_result("empty"), 3) == "empty reply (closed, 0 bytes)"
    assert describe(_result("timeout", phase="connect"), 1.5) == "no TCP connection within 1.5s"
    ok = ExchangeResult("http", "done", ("a", 1), None, "t", status=200, reason="OK")
    assert describe(ok, 3) == "200 OK"


def test_xff_positions_and_measured_hops() -> None:
    forged = ["198.51.100.11", "198.51.100.12", "198.51.100.13"]
    assert position_in(forged, "198.51.100.13") == 1
    assert position_in(forged, "198.51.100.11") == 3
    assert position_in(forged, "10.0.0.1") is None
    # chain after Envoy's append of the TCP peer: forged..., me, edge1, peer
    chain = ", ".join([*forged, "127.0.0.1", "127.0.31.1", "127.0.20.1"])
    assert proxies_in_front(chain, "127.0.0.1", appended=True) == 2
    assert proxies_in_front(chain, "192.0.2.9", appended=True) is None


@pytest.mark.parametrize(
    ("observed", "verdict"),
    [("127.0.0.1", "right"), ("198.51.100.13", "too-high"), ("127.0.31.1", "too-low"), (None, "unknown")],
)
def test_read_edge(observed: str | None, verdict: str) -> None:
    forged = ["198.51.100.11", "198.51.100.12", "198.51.100.13"]
    reading = read_edge(observed, "127.0.0.1", forged, "198.51.100.13, 127.0.0.1, 127.0.20.1", True)
    assert reading.verdict == verdict
    assert reading.measured == 1
