"""The report's small parts on their own: wrapping, the ports a finding's evidence names, cause chains."""

from __future__ import annotations

from egdoctor.findings.model import Finding, GatewayRef, ObjectRef, Severity
from egdoctor.report.causes import root_causes
from egdoctor.report.marks import evidence_ports
from egdoctor.report.wrap import Line, wrap


def test_wrapping_keeps_the_width_and_hangs_continuations_under_the_text() -> None:
    words = " ".join(f"word{i}" for i in range(40))
    lines = [t.plain for t in wrap(Line(f"✗ EGD313  {words}", indent=6, hang=10), 60)]
    assert len(lines) > 1
    assert all(len(line) <= 60 for line in lines)
    assert lines[0].startswith("      ✗ EGD313  word0")
    assert all(line.startswith(" " * 16) and line[16] != " " for line in lines[1:])
    assert " ".join(" ".join(line.split()) for line in lines) == f"✗ EGD313  {words}".replace("  ", " ")


def test_a_url_is_never_folded_but_other_long_words_are() -> None:
    url = "https://example.com/" + "a" * 80
    assert any(t.plain.strip() == url for t in wrap(Line(f"see {url} now"), 40))
    folded = [t.plain for t in wrap(Line("x" * 100), 40)]
    assert all(len(line) <= 40 for line in folded) and "".join(s.strip() for s in folded) == "x" * 100


def test_evidence_ports_come_from_addresses_and_port_fields_never_timestamps() -> None:
    evidence = {
        "where": ["127.0.0.1:80", "edge 10.0.0.1:8443", "[::1]:443"],
        "port": 9000,
        "conditions": [{"lastTransitionTime": "2026-01-10T09:01:02Z"}],
    }
    assert evidence_ports(evidence) == {80, 8443, 443, 9000}


def _f(code: str, listener: str | None, subject: ObjectRef) -> Finding:
    return Finding(code, Severity.ERROR, code, "", subject, GatewayRef("gateway", "shared", listener))


def test_a_chain_of_consequences_leads_to_its_root_per_listener() -> None:
    secret = ObjectRef("Secret", "gateway", "team-a-tls")
    cert = ObjectRef("Certificate", "gateway", "team-a-tls")
    gw = ObjectRef("Gateway", "gateway", "shared")
    findings = [
        _f("EGD104", "https-a", gw),
        _f("EGD104", "https-b", gw),
        _f("EGD401", "https-a", secret),
        _f("EGD403", "https-a", cert),
    ]
    assert root_causes(findings) == {0: 3, 2: 3}  # https-b's EGD104 has no cause shown: it stays a problem
