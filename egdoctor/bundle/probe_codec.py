"""Probe observations to and from a bundle's JSON. Reading is strict: a bundle is a file someone sent,
so every field is type-checked and every finding code must be a probe code egdoctor knows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from egdoctor.findings.model import Finding, GatewayRef, ObjectRef, Severity
from egdoctor.probes.model import GatewayClientIP, ProbeReport, ProbeRow, ProbeTarget


class BadProbeRecord(ValueError):
    """The bundle's probe section does not hold what egdoctor writes."""


def probe_report_to_json(report: ProbeReport) -> dict[str, Any]:
    return {
        "rows": [asdict(r) for r in report.rows],
        "gateways": [asdict(g) for g in report.gateways],
        "findings": [_finding_to_json(f) for f in report.findings],
        "notes": list(report.notes),
        "observer": report.observer,
        "elapsedSeconds": report.elapsed_s,
        "runId": report.run_id,
        "skipped": report.skipped,
        "targets": [asdict(t) for t in report.targets],
        "confirms": [[code, list(key)] for code, key in report.confirms],
    }


def _finding_to_json(f: Finding) -> dict[str, Any]:
    return {
        "code": f.code,
        "severity": f.severity.value,
        "message": f.message,
        "hint": f.hint,
        "subject": f.subject.to_json() if f.subject else None,
        "gateway": asdict(f.gateway) if f.gateway else None,
        "evidence": dict(f.evidence),
        "check": f.check,
        "concerns": list(f.concerns),
    }


def probe_report_from_json(data: Any, recorded_note: str) -> ProbeReport:
    """The recorded report, with a note first saying that its results were recorded, not re-sent."""
    m = _map(data, "probes")
    return ProbeReport(
        rows=tuple(_row(r) for r in _list(m.get("rows"), "rows")),
        gateways=tuple(_gateway_ip(g) for g in _list(m.get("gateways"), "gateways")),
        findings=tuple(_finding(f) for f in _list(m.get("findings"), "findings")),
        notes=(recorded_note, *(_str(n, "notes") for n in _list(m.get("notes"), "notes"))),
        observer=_str(m.get("observer", "none"), "observer"),
        elapsed_s=_num(m.get("elapsedSeconds", 0.0), "elapsedSeconds") or 0.0,
        run_id=_str(m.get("runId", ""), "runId"),
        skipped=bool(m.get("skipped", False)),
        targets=tuple(_target(t) for t in _list(m.get("targets"), "targets")),
        confirms=tuple(_confirm(c) for c in _list(m.get("confirms"), "confirms")),
    )


def _row(data: Any) -> ProbeRow:
    m = _map(data, "probe row")
    return ProbeRow(
        gateway=_key(m.get("gateway"), "probe row gateway"),
        address=_str(m.get("address"), "address"),
        port=_int_or_none(m.get("port"), "port"),
        listener=_str_or_none(m.get("listener"), "listener"),
        sent=_str(m.get("sent"), "sent"),
        outcome=_str(m.get("outcome"), "outcome"),
        received=_str(m.get("received"), "received"),
        proves=_str(m.get("proves"), "proves"),
        status=_int_or_none(m.get("status"), "status"),
        observed_client_ip=_str_or_none(m.get("observed_client_ip"), "observed_client_ip"),
        elapsed_s=_num(m.get("elapsed_s"), "elapsed_s"),
        verdict=_choice(m.get("verdict", "info"), ("ok", "bad", "info"), "verdict"),  # type: ignore[arg-type]
        kind=_str(m.get("kind", ""), "kind"),
        tls=bool(m.get("tls", False)),
    )


def _gateway_ip(data: Any) -> GatewayClientIP:
    m = _map(data, "probe gateway")
    verified = m.get("verified")
    if verified is not None and not isinstance(verified, bool):
        raise BadProbeRecord("probe gateway verified is not a boolean")
    return GatewayClientIP(
        gateway=_key(m.get("gateway"), "probe gateway"),
        mode=_str(m.get("mode"), "mode"),
        observed=_str_or_none(m.get("observed"), "observed"),
        this_machine=_str_or_none(m.get("this_machine"), "this_machine"),
        expected=_str_or_none(m.get("expected"), "expected"),
        verified=verified,
        observer=_str(m.get("observer"), "observer"),
        summary=_str(m.get("summary"), "summary"),
    )


def _target(data: Any) -> ProbeTarget:
    m = _map(data, "probe target")
    return ProbeTarget(
        gateway=_key(m.get("gateway"), "probe target gateway"),
        address=_str(m.get("address"), "address"),
        ports=tuple(_int(p, "ports") for p in _list(m.get("ports"), "ports")),
        source=_str(m.get("source"), "source"),
        refused=_str_or_none(m.get("refused"), "refused"),
    )


def _finding(data: Any) -> Finding:
    from egdoctor.findings.codes import REGISTRY

    m = _map(data, "probe finding")
    code = _str(m.get("code"), "code")
    spec = REGISTRY.get(code)
    if spec is None or not spec.probe:
        raise BadProbeRecord(f"probe finding code {code[:20]!r} is not a probe code of this egdoctor")
    subject = m.get("subject")
    gateway = m.get("gateway")
    evidence = m.get("evidence") or {}
    return Finding(
        code=code,
        severity=Severity(_choice(m.get("severity"), ("error", "warning", "info"), "severity")),
        message=_str(m.get("message"), "message"),
        hint=_str(m.get("hint"), "hint"),
        subject=None if subject is None else _object_ref(subject),
        gateway=None if gateway is None else _gateway_ref(gateway),
        evidence=_map(evidence, "evidence"),
        check=_str(m.get("check", ""), "check"),
        concerns=tuple(_str(c, "concerns") for c in _list(m.get("concerns"), "concerns")),
    )


def _object_ref(data: Any) -> ObjectRef:
    m = _map(data, "object")
    return ObjectRef(
        _str(m.get("kind"), "kind"),
        _str_or_none(m.get("namespace"), "namespace"),
        _str(m.get("name"), "name"),
    )


def _gateway_ref(data: Any) -> GatewayRef:
    m = _map(data, "gateway")
    return GatewayRef(
        _str(m.get("namespace"), "namespace"),
        _str(m.get("name"), "name"),
        _str_or_none(m.get("listener"), "listener"),
    )


def _confirm(data: Any) -> tuple[str, tuple[str, str]]:
    pair = _list(data, "confirms")
    if len(pair) != 2:
        raise BadProbeRecord("confirms entries are [code, [namespace, name]]")
    return _str(pair[0], "confirms"), _key(pair[1], "confirms")


# -- strict readers -------------------------------------------------------------------------------------


def _map(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BadProbeRecord(f"{what} is not an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadProbeRecord(f"{what} is not a list")
    return value


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise BadProbeRecord(f"{what} is not a string")
    return value


def _str_or_none(value: Any, what: str) -> str | None:
    return None if value is None else _str(value, what)


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadProbeRecord(f"{what} is not an integer")
    return value


def _int_or_none(value: Any, what: str) -> int | None:
    return None if value is None else _int(value, what)


def _num(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadProbeRecord(f"{what} is not a number")
    return float(value)


def _choice(value: Any, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise BadProbeRecord(f"{what} is not one of {', '.join(allowed)}")
    return str(value)


def _key(value: Any, what: str) -> tuple[str, str]:
    pair = _list(value, what)
    if len(pair) != 2:
        raise BadProbeRecord(f"{what} is not [namespace, name]")
    return _str(pair[0], what), _str(pair[1], what)
