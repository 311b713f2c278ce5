"""`-o json`: the machine-readable report on stdout, one shape on every exit path (docs/report.schema.json
describes it; `schemaVersion` changes when a consumer could trip over a change)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from egdoctor import __version__
from egdoctor.findings.codes import REGISTRY
from egdoctor.findings.model import Finding, Severity
from egdoctor.findings.suppress import Suppressed
from egdoctor.model.eg_version import eg_version
from egdoctor.model.topology import GatewayView
from egdoctor.report.json_safe import json_safe
from egdoctor.report.marks import finding_listeners
from egdoctor.report.probe_view import gateway_probe_json, probe_json
from egdoctor.report.tls_view import tls_json
from egdoctor.report.view import Report
from egdoctor.report.what_if_view import what_if_json
from egdoctor.snapshot.model import Snapshot
from egdoctor.snapshot.objects import as_list, conditions


def render_json(report: Report, out: TextIO | None = None) -> None:
    write_json(report_json(report), out)


def write_json(document: Mapping[str, Any], out: TextIO | None = None) -> None:
    stream = out or sys.stdout
    # allow_nan=False: json_safe already turned NaN and infinities into strings; never emit bare NaN
    json.dump(json_safe(document), stream, indent=2, sort_keys=False, allow_nan=False)
    stream.write("\n")


def unavailable_json(
    finding: Finding,
    server: str,
    context: str,
    namespaces: frozenset[str] | None,
    all_namespaces: bool,
    fail_on: Severity | None,
) -> dict[str, Any]:
    """The report of a run that could not use the API server (EGD001): the same shape, nothing in it."""
    out = {
        "schemaVersion": SCHEMA_VERSION,
        "egdoctor": __version__,
        "source": source_json("cluster", server, context),
        "scope": scope_json(namespaces, all_namespaces),
        "gateways": [],
        "findings": [{**finding.to_json(), "check": "access", "causedBy": None}],
        "tls": [],
        "skippedChecks": {},
        **probe_json(None, "probes not run: the diagnosis could not run"),
        "suppressed": [],
        "summary": summary_json({"error": 1, "warning": 0, "info": 0}, 1, fail_on, 3),
    }
    del out["findings"][0]["concerns"]
    return out


def gateway_json(gv: GatewayView) -> dict[str, Any]:
    svc = gv.envoy_service
    conds = conditions(gv.obj.status)
    return {
        "namespace": gv.key[0],
        "name": gv.key[1],
        "class": gv.obj.spec.get("gatewayClassName"),
        "mode": gv.mode,
        "addresses": list(gv.addresses),
        "programmed": (conds.get("Programmed") or {}).get("status") == "True",
        "loadBalancer": {
            "service": f"{svc.namespace}/{svc.name}" if svc else None,
            "proxyProtocol": gv.listeners[0].client_ip.lb_proxy if gv.listeners else "unknown",
            "sourceRanges": [str(r) for r in as_list(svc.spec.get("loadBalancerSourceRanges"))]
            if svc
            else [],
            "deployMode": gv.deployment.mode,
        },
        "listeners": [
            {
                "name": lv.name,
                "port": lv.port,
                "protocol": lv.protocol,
                "hostname": lv.hostname,
                "mode": lv.client_ip.mode,
                "clientTrafficPolicy": f"{lv.client_ip.ctp.namespace}/{lv.client_ip.ctp.name}"
                if lv.client_ip.ctp
                else None,
                "proxyProtocol": lv.client_ip.proxy_protocol,
                "xffTrustedHops": lv.client_ip.xff_hops,
                "routes": sorted(
                    {f"{a.route.kind}/{a.route.namespace}/{a.route.name}" for a in lv.attachments}
                ),
            }
            for lv in gv.listeners
        ],
    }


SCHEMA_VERSION = 1  # docs/report.schema.json: bump on any change a consumer could trip over


def source_json(
    mode: str,
    server: str = "",
    context: str = "",
    files: tuple[str, ...] = (),
    bundle: str = "",
    recorded_at: str = "",
) -> dict[str, Any]:
    if bundle:
        return {
            "mode": "bundle",
            "bundle": bundle,
            "recordedAt": recorded_at,
            "server": server or None,
            "context": context or None,
        }
    if mode == "files":
        return {"mode": mode, "files": list(files)}
    return {"mode": mode, "server": server or None, "context": context or None}


def envoy_gateway_json(snap: Snapshot) -> dict[str, Any]:
    found = eg_version(snap)
    return {
        "version": found.text if found.version else None,
        "image": found.image,
        "unknown": found.why_unknown,
    }


def scope_json(namespaces: frozenset[str] | None, all_namespaces: bool | None = None) -> dict[str, Any]:
    """`namespaces` is null with -A, and when the run ended before the context's namespace was known."""
    return {
        "namespaces": sorted(namespaces) if namespaces is not None else None,
        "allNamespaces": namespaces is None if all_namespaces is None else all_namespaces,
    }


def finding_json(report: Report, index: int) -> dict[str, Any]:
    f = report.findings[index]
    out = f.to_json()
    out["check"] = f.check or ("probe" if f.code in REGISTRY and REGISTRY[f.code].probe else "access")
    if not f.concerns:
        del out["concerns"]
    gv = report.diagnosis.topology.gateways.get(f.gateway.key) if f.gateway is not None else None
    if out["gateway"] is not None and gv is not None:
        out["gateway"]["listeners"] = finding_listeners(f, gv, gv.listeners)
    recorded = report.diagnosis.snapshot.source.recorded_at
    if recorded and out["check"] == "probe":
        out["recordedAt"] = recorded  # evidence from a bundle's probes, not traffic sent by this run
    cause = report.root_causes.get(index)
    out["causedBy"] = None
    if cause is not None:
        c = report.findings[cause]
        out["causedBy"] = {"code": c.code, "object": c.subject.to_json() if c.subject else None}
    return out


def report_json(report: Report) -> dict[str, Any]:
    snap = report.diagnosis.snapshot
    src = snap.source
    return {
        "schemaVersion": SCHEMA_VERSION,
        "egdoctor": __version__,
        "source": source_json(src.mode, src.server, src.context, src.files, src.bundle, src.recorded_at),
        "scope": scope_json(snap.namespaces),
        "envoyGateway": envoy_gateway_json(snap),
        "gateways": [
            {**gateway_json(gv), **gateway_probe_json(report.probes, gv)} for gv in report.gateways()
        ],
        "findings": [finding_json(report, i) for i in range(len(report.findings))],
        "tls": tls_json(report),
        "skippedChecks": dict(report.diagnosis.skipped),
        **probe_json(report.probes),
        **dict(report.extra),
        **({"whatIf": what_if_json(report.what_if)} if report.what_if is not None else {}),
        "suppressed": [suppressed_json(s) for s in report.suppressed],
        "summary": summary_json(
            report.counts,
            len(report.findings),
            report.fail_on,
            report.exit_code,
            suppressed=len(report.suppressed),
            hidden=len(report.hidden),
        ),
    }


def suppressed_json(s: Suppressed) -> dict[str, Any]:
    f = s.finding
    return {
        "code": f.code,
        "severity": f.severity.value,
        "object": f.subject.to_json() if f.subject else None,
        "message": f.message,
        "suppressedBy": s.by,
        "rule": s.rule,
    }


def summary_json(
    counts: Mapping[str, int],
    total: int,
    fail_on: Severity | None,
    exit_code: int,
    suppressed: int = 0,
    hidden: int = 0,
) -> dict[str, Any]:
    """Counts per severity count each problem once; `consequences` are the findings shown under their
    cause; `total` is the number of findings shown. `suppressed` findings (listed under `suppressed`) are
    neither shown nor counted toward the exit code; `belowMinSeverity` ones are not shown but count."""
    return {
        **counts,
        "consequences": total - sum(counts.values()),
        "total": total,
        "failOn": fail_on.value if fail_on else "none",
        "exitCode": exit_code,
        "suppressed": suppressed,
        "belowMinSeverity": hidden,
    }
