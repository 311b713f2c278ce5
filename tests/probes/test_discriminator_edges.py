"""The discriminator's edges: every combination of the pair, the ranges exception, the TLS branch, and the
exact words of each outcome (pinned by mutation testing, `scripts/mutation`).

Where the behaviour comes from: a strict PROXY listener closes a connection without a header
(Envoy ``source/extensions/filters/listener/proxy_protocol/proxy_protocol.cc``); a stray header reaches the
HTTP/1 codec and gets 400 (``source/common/http/conn_manager_impl.cc``); on TLS the same bytes break the
handshake instead. The module docstring of egdoctor/probes/discriminator.py has the table.
"""

from __future__ import annotations

import itertools

import pytest

from egdoctor.probes.discriminator import describe, in_ranges, judge_pair, kind_of, marker_for
from egdoctor.probes.transport import ExchangeResult, TlsInfo

KINDS = ("answered", "rejected", "dropped", "unreachable", "other")


def _result(
    outcome: str,
    status: int | None = None,
    tls: TlsInfo | None = None,
    phase: str = "done",
    error: str | None = None,
    reason: str | None = None,
) -> ExchangeResult:
    return ExchangeResult(
        outcome=outcome,  # type: ignore[arg-type]
        phase=phase,  # type: ignore[arg-type]
        target=("127.0.0.1", 80),
        local_address=None,
        user_agent="t",
        status=status,
        reason=reason,
        tls=tls,
        error=error,
    )


def test_every_combination_keeps_what_was_observed() -> None:
    """The judgement carries both observations unchanged, whatever it decides (the report prints them)."""
    for plain, forged, excluded, tls, lb_sends, expects in itertools.product(
        KINDS, (*KINDS, None), (False, True), (False, True), (True, False, None), (False, True)
    ):
        state = judge_pair(plain, forged, excluded, tls, lb_sends, expects)  # type: ignore[arg-type]
        assert (state.plain, state.forged) == (plain, forged)
        assert state.state in {
            "accepts",
            "forgeable",
            "pp-missing",
            "pp-unexpected",
            "refused-by-ranges",
            "unreachable",
            "silent",
            "inconclusive",
        }


@pytest.mark.parametrize("plain", ["dropped", "unreachable", "other"])
@pytest.mark.parametrize("forged", [None, "dropped", "unreachable", "other"])
def test_no_answer_from_outside_the_source_ranges_is_the_lb_refusing(plain: str, forged: str | None) -> None:
    assert judge_pair(plain, forged, True, False, True, True).state == "refused-by-ranges"  # type: ignore[arg-type]
    assert judge_pair(plain, forged, False, False, True, True).state != "refused-by-ranges"  # type: ignore[arg-type]


@pytest.mark.parametrize(("forged", "state"), [("answered", "pp-missing"), ("rejected", "silent")])
def test_any_reply_to_either_probe_proves_the_ranges_let_us_in(forged: str, state: str) -> None:
    assert judge_pair("dropped", forged, True, False, False, True).state == state  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("plain", "forged", "state"),
    [
        ("unreachable", "answered", "unreachable"),
        ("rejected", None, "pp-unexpected"),
        ("rejected", "answered", "pp-unexpected"),
        ("answered", None, "accepts"),
        ("answered", "dropped", "accepts"),
        ("other", "answered", "pp-missing"),
        ("other", "rejected", "silent"),
        ("other", "other", "silent"),
        ("other", None, "silent"),
        ("dropped", "other", "silent"),
        ("dropped", "rejected", "silent"),
        ("dropped", "unreachable", "inconclusive"),
        ("other", "unreachable", "inconclusive"),
    ],
)
def test_the_rest_of_the_table(plain: str, forged: str | None, state: str) -> None:
    assert judge_pair(plain, forged, False, False, False, True).state == state  # type: ignore[arg-type]


def test_tls_dropped_both_ways_is_pp_unexpected_only_when_every_condition_holds() -> None:
    """On HTTPS the LB's PROXY header breaks the handshake instead of giving a 400: both probes fail. That
    reads as "PROXY unexpected" only if the LB is known to send it and Envoy is known not to expect it."""
    assert judge_pair("dropped", "dropped", False, True, True, False).state == "pp-unexpected"
    assert judge_pair("dropped", None, False, True, True, False).state == "pp-unexpected"
    assert judge_pair("dropped", "dropped", False, False, True, False).state == "silent"  # not TLS
    assert judge_pair("dropped", "dropped", False, True, False, False).state == "silent"  # LB plain
    assert judge_pair("dropped", "dropped", False, True, None, False).state == "silent"  # LB unknown
    assert judge_pair("dropped", "dropped", False, True, True, True).state == "silent"  # Envoy expects
    assert judge_pair("other", "dropped", False, True, True, False).state == "silent"
    assert judge_pair("dropped", "other", False, True, True, False).state == "silent"


@pytest.mark.parametrize(
    ("result", "tls", "kind"),
    [
        (_result("timeout", phase="connect"), True, "unreachable"),
        (_result("refused"), True, "unreachable"),
        (_result("unreachable"), False, "unreachable"),
        (_result("unreachable"), True, "unreachable"),
        (_result("tls_error"), False, "other"),  # a TLS error on a plaintext probe means nothing here
        (_result("tls_error"), True, "dropped"),
        (_result("tls_error", tls=TlsInfo(peer_cert_der=b"")), True, "dropped"),
        (_result("tls_error", tls=TlsInfo(peer_cert_der=b"x")), False, "other"),
        (_result("http", 400), True, "answered"),
        (_result("http", 401), False, "answered"),
        (_result("bad_response"), True, "other"),
    ],
)
def test_kind_of_edges(result: ExchangeResult, tls: bool, kind: str) -> None:
    assert kind_of(result, tls) == kind


def test_markers_are_fixed_documentation_addresses_of_the_target_family() -> None:
    assert marker_for("2001:db8::1", 80) == "2001:db8::180"
    assert marker_for("::1", 443) == "2001:db8::143"
    assert marker_for("127.0.0.1", 8080) == "203.0.113.180"
    assert marker_for("127.0.0.1", 8443) == "203.0.113.143"
    assert marker_for("127.0.0.1", 199) == "203.0.113.199"


def test_ranges_with_host_bits_set_are_read_as_their_network() -> None:
    """Kubernetes accepts loadBalancerSourceRanges like 10.0.0.1/8; Octavia applies the network."""
    assert in_ranges("10.200.3.4", ("10.0.0.1/8",)) is True
    assert in_ranges("11.0.0.1", ("10.0.0.1/8",)) is False
    assert in_ranges("not-an-ip", ("10.0.0.0/8",)) is None
    assert in_ranges("2001:db8::5", ("10.0.0.0/8",)) is False  # the other family never matches
    assert in_ranges("2001:db8::5", ("10.0.0.0/8", "2001:db8::/64")) is True


@pytest.mark.parametrize(
    ("result", "text"),
    [
        (_result("http", 400, reason="Bad Request"), "400 Bad Request"),
        (_result("http", 204), "204"),
        (_result("reset"), "connection reset"),
        (_result("refused"), "connection refused"),
        (_result("timeout", phase="connect"), "no TCP connection within 2.5s"),
        (_result("timeout", phase="tls"), "TLS handshake stalled within 2.5s"),
        (_result("timeout", phase="receive"), "no answer within 2.5s"),
        (
            _result("tls_error", tls=TlsInfo(verify_error="certificate has expired")),
            "certificate rejected: certificate has expired",
        ),
        (
            _result("tls_error", error="EOF occurred in violation of protocol"),
            "TLS handshake failed: connection closed",
        ),
        (_result("tls_error", error="Connection CLOSED by peer"), "TLS handshake failed: connection closed"),
        (_result("tls_error", error="connection reset by peer"), "TLS handshake failed: connection reset"),
        (_result("tls_error", error="wrong version number"), "TLS handshake failed (wrong version number)"),
        (_result("tls_error"), "TLS handshake failed"),
        (_result("tls_error", tls=TlsInfo()), "TLS handshake failed"),
        (_result("unreachable", error="no route to host"), "unreachable (no route to host)"),
        (_result("unreachable"), "unreachable"),
        (_result("bad_response", error="not HTTP"), "not an HTTP answer (not HTTP)"),
        (_result("bad_response"), "not an HTTP answer"),
    ],
)
def test_describe_every_outcome(result: ExchangeResult, text: str) -> None:
    assert describe(result, 2.5) == text


def test_long_errors_are_shortened_to_one_line_of_90() -> None:
    exact = "x" * 90
    assert describe(_result("unreachable", error=exact), 1) == f"unreachable ({exact})"
    longer = "y" * 91
    assert describe(_result("unreachable", error=longer), 1) == f"unreachable ({'y' * 87}...)"
    assert describe(_result("unreachable", error="a\n  b\tc"), 1) == "unreachable (a b c)"


def test_an_invalid_range_is_skipped_not_the_end_of_the_list() -> None:
    assert in_ranges("198.51.100.7", ("bogus", "198.51.100.0/24")) is True
