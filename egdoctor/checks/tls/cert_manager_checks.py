"""The checks on the cert-manager objects behind listener certificates (EGD403 to EGD406)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from egdoctor.checks.registry import CheckContext, check
from egdoctor.checks.tls.acme_solvers import http01_route_problem, pick_solver
from egdoctor.checks.tls.cert_manager import (
    CLUSTER_ISSUER_ANNOTATION,
    ISSUER_ANNOTATION,
    IssuerRef,
    certificate_issuer,
    dns_names,
    find_issuer,
    issuer_problem,
    shim_issuer,
)
from egdoctor.checks.tls.certificate import CertInfo, parse_certificate
from egdoctor.checks.tls.issuance import certificate_chain
from egdoctor.checks.tls.listeners import ListenerTLS, SecretRef, listeners_with_tls
from egdoctor.checks.tls.secret_access import secrets_readable
from egdoctor.checks.tls.wording import ISSUER_FIXES, certificate_label, iso
from egdoctor.findings.codes import make_finding
from egdoctor.findings.model import Finding, GatewayRef, Severity
from egdoctor.model.topology import Topology
from egdoctor.snapshot.kinds import CM
from egdoctor.snapshot.model import Snapshot
from egdoctor.snapshot.objects import Obj, as_list, as_map, thaw

_CM_INPUTS = ["Gateway", "Certificate", "CertificateRequest", "Issuer", "ClusterIssuer", "Order", "Challenge"]


@check("certificate-ready", inputs=_CM_INPUTS, codes=["EGD403"])
def certificate_ready(ctx: CheckContext) -> Iterator[Finding]:
    """Certificates that write listener Secrets are Ready; otherwise name where issuance is stuck."""
    snap = ctx.snapshot
    if not any(c.status for c in snap.of("Certificate")):
        return  # no Certificate has any status: cert-manager is not running, which EGD406 says once
    for lt in listeners_with_tls(snap, ctx.topology):
        for ref, certs in lt.certificates.items():
            for cert in certs:
                chain = certificate_chain(snap, cert, lt.gateway.addresses)
                if chain.link is None:
                    continue
                # A stuck re-issue while the current certificate is still valid degrades, it does not break.
                served = _valid_certificate(snap, ref, ctx.options.now)
                link = chain.link.text
                if served is not None:
                    link += f"; the current certificate is still served (valid until {iso(served.not_after)})"
                yield make_finding(
                    "EGD403",
                    subject=cert.ref,
                    gateway=lt.where,
                    severity=Severity.WARNING if served is not None else Severity.ERROR,
                    certificate=certificate_label(cert),
                    link=link,
                    fix=chain.link.fix,
                    evidence=chain.evidence(),
                )


def _valid_certificate(snap: Snapshot, ref: SecretRef, now: datetime) -> CertInfo | None:
    # Secrets are not an input of the cert-manager checks: they only soften a finding, so unreadable
    # Secrets must not switch the check off.
    secret = snap.get("Secret", ref.namespace, ref.name)
    crt = as_map(secret.raw.get("data")).get("tls.crt") if secret is not None else None
    info = parse_certificate(crt) if isinstance(crt, str) else None
    if isinstance(info, CertInfo) and info.not_before <= now < info.not_after:
        return info
    return None


def _used_issuers(
    snap: Snapshot, topology: Topology
) -> dict[IssuerRef, list[tuple[ListenerTLS, str, Obj | None]]]:
    """Issuers that listener certificates depend on -> (listener, who uses it, the Certificate if any)."""
    used: dict[IssuerRef, list[tuple[ListenerTLS, str, Obj | None]]] = {}
    for lt in listeners_with_tls(snap, topology):
        shim = shim_issuer(lt.gateway.obj)
        for ref in lt.secrets:
            certs = lt.certificates.get(ref, ())
            for cert in certs:
                iref = certificate_issuer(cert)
                if iref is not None and iref.builtin:
                    used.setdefault(iref, []).append((lt, f"Certificate {cert.namespace}/{cert.name}", cert))
            if not certs and shim is not None and shim.builtin:
                used.setdefault(shim, []).append(
                    (lt, f"Gateway {lt.gateway.key[0]}/{lt.gateway.key[1]} annotation", None)
                )
    return used


@check("issuer-ready", inputs=["Gateway", "Certificate", "Issuer", "ClusterIssuer"], codes=["EGD404"])
def issuer_ready(ctx: CheckContext) -> Iterator[Finding]:
    """The Issuers and ClusterIssuers listener certificates use exist and are Ready."""
    snap = ctx.snapshot
    if "Certificate" in snap.fetched and any(p.reason == "absent" for p in snap.problems_for("Certificate")):
        return  # cert-manager is not installed: EGD406
    for iref, users in _used_issuers(snap, ctx.topology).items():
        issuer = find_issuer(snap, iref)
        problem = issuer_problem(issuer, iref)
        if problem is None:
            continue
        names = ", ".join(sorted({who for _, who, _ in users}))
        text, reason = problem
        if reason == "NotFound":
            fix = (
                f"create the {iref.kind} {iref.name}"
                + (f" in namespace {iref.namespace}" if iref.namespace else "")
                + f", or point {names} at an existing issuer"
                + (
                    " (an Issuer is namespaced: it must live in the Certificate's namespace; use a "
                    "ClusterIssuer to share one)"
                    if iref.kind == "Issuer"
                    else ""
                )
            )
        else:
            fix = ISSUER_FIXES.get(
                reason,
                f"`kubectl describe {iref.kind.lower()} {iref.name}` and fix what the Ready condition says",
            )
        for lt, _, _ in users:
            yield make_finding(
                "EGD404",
                subject=iref.ref,
                gateway=lt.where,
                issuer=str(iref),
                problem=f"{text} (used by {names})",
                fix=fix,
                evidence={"reason": reason, "usedBy": sorted({who for _, who, _ in users})},
            )


@check(
    "http01-solver",
    inputs=["Gateway", "Certificate", "Issuer", "ClusterIssuer", "Namespace"],
    codes=["EGD405"],
)
def http01_solver(ctx: CheckContext) -> Iterator[Finding]:
    """HTTP-01 solvers the listener certificates use can answer through the Gateway."""
    snap = ctx.snapshot
    namespaces = {n.name: n.labels for n in snap.of("Namespace")}
    for iref, users in _used_issuers(snap, ctx.topology).items():
        issuer = find_issuer(snap, iref)
        if issuer is None or not isinstance(issuer.spec.get("acme"), Mapping):
            continue
        reported: set[tuple[str, GatewayRef]] = set()
        for lt, who, cert in users:
            cert_ns = cert.namespace if cert is not None else lt.gateway.key[0]
            hosts = dns_names(cert) if cert is not None else tuple(h for h in [lt.listener.hostname] if h)
            labels = cert.labels if cert is not None else {}
            for host in hosts:
                solver = pick_solver(issuer, host, labels)
                http01 = as_map(solver.get("http01")) if solver is not None else {}
                if not http01:
                    continue
                problem, fix = _http01_problem(ctx.topology, http01, cert_ns or "", host, namespaces, lt)
                if problem is None or (problem, lt.where) in reported:
                    continue
                reported.add((problem, lt.where))
                yield make_finding(
                    "EGD405",
                    subject=iref.ref,
                    gateway=lt.where,
                    issuer=str(iref),
                    problem=f"HTTP-01 for {host} ({who}): {problem}",
                    fix=fix,
                    evidence={"solver": thaw(http01), "hostname": host, "solverNamespace": cert_ns},
                )


def _http01_problem(
    topology: Topology,
    http01: Mapping[str, Any],
    namespace: str,
    host: str,
    namespaces: Mapping[str, Mapping[str, str]],
    lt: ListenerTLS,
) -> tuple[str | None, str]:
    gw_ns, gw_name = lt.gateway.key
    http_listener = next(
        (lv.name for lv in lt.gateway.listeners if lv.protocol == "HTTP" and lv.port == 80), "http"
    )
    suggestion = (
        f"http01.gatewayHTTPRoute.parentRefs: [{{name: {gw_name}, namespace: {gw_ns}, sectionName: "
        f"{http_listener}}}]"
    )
    ingress = http01.get("ingress")
    if isinstance(ingress, Mapping):
        cls = ingress.get("ingressClassName") or ingress.get("class")
        what = (
            f"the solver uses an Ingress of class {cls}"
            if cls
            else f"the solver edits Ingress {ingress['name']}"
            if ingress.get("name")
            else "the solver uses an Ingress (default class)"
        )
        return (
            f"{what}, an ingress-nginx leftover: Envoy Gateway does not serve Ingresses, so the ACME server "
            "never reaches the solver and issuance and renewals fail",
            f"replace http01.ingress with {suggestion} (and enable cert-manager's Gateway API support)",
        )
    route = http01.get("gatewayHTTPRoute")
    if isinstance(route, Mapping):
        problem = http01_route_problem(
            topology, as_list(route.get("parentRefs")), namespace, host, namespaces
        )
        if problem is None:
            return None, ""
        fix = f"point the solver at a port-80 HTTP listener that admits namespace {namespace} ({suggestion})"
        http = next((lv for lv in lt.gateway.listeners if lv.protocol == "HTTP" and lv.port == 80), None)
        allowed = as_map(as_map(http.spec.get("allowedRoutes")).get("namespaces")) if http else {}
        labels = as_map(as_map(allowed.get("selector")).get("matchLabels"))
        if labels:
            pairs = " ".join(f"{k}={v}" for k, v in labels.items())
            fix += (
                f"; that listener selects namespaces by label: `kubectl label namespace {namespace} {pairs}`"
            )
        return problem, fix
    return "the HTTP-01 solver has neither ingress nor gatewayHTTPRoute", f"configure {suggestion}"


@check("cert-manager-installed", inputs=["Gateway", "Certificate"], codes=["EGD406"])
def cert_manager_installed(ctx: CheckContext) -> Iterator[Finding]:
    """cert-manager is installed and working where TLS listeners need certificates."""
    snap = ctx.snapshot
    absent = any(p.reason == "absent" for p in snap.problems_for("Certificate"))
    certs = snap.of("Certificate")
    by_gateway: dict[tuple[str, str], list[ListenerTLS]] = {}
    for lt in listeners_with_tls(snap, ctx.topology):
        by_gateway.setdefault(lt.gateway.key, []).append(lt)
    for key, lts in by_gateway.items():
        gw = lts[0].gateway.obj
        names = ", ".join(lt.listener.name for lt in lts)
        if absent:
            broken = _any_secret_missing(snap, lts)
            yield make_finding(
                "EGD406",
                subject=gw.ref,
                gateway=GatewayRef(*key),
                severity=Severity.ERROR if broken else Severity.WARNING,
                problem=f"is not installed (the Certificate API {CM}/v1 is not served): nothing issues or "
                "renews "
                f"the certificates of listeners {names}"
                + ("" if broken else "; their Secrets exist today but will expire unrenewed"),
                fix="install cert-manager (Elastx guide: CRDs with kubectl, then the jetstack Helm chart; "
                "`cmctl check api` must say the API is ready) and enable its Gateway API support, or keep "
                "providing the "
                "TLS Secrets yourself and renew them before they expire",
                evidence={"listeners": [lt.listener.name for lt in lts]},
            )
            continue
        if certs and not any(c.status for c in certs):
            yield make_finding(
                "EGD406",
                subject=gw.ref,
                gateway=GatewayRef(*key),
                problem="is installed but not running: no Certificate has any status (check `kubectl -n "
                "cert-manager get pods` and `cmctl check api`)",
                fix="start cert-manager (its controller, webhook and cainjector Deployments must be "
                "available) "
                "and check its logs for why it does not reconcile Certificates",
                evidence={"listeners": [lt.listener.name for lt in lts]},
            )
            continue
        shim = shim_issuer(gw)
        if shim is None or "Certificate" not in snap.fetched:
            continue
        missing = [
            f"{ref.namespace}/{ref.name}"
            for lt in lts
            for ref in lt.secrets
            if ref.is_secret and not ref.cross_namespace and not lt.certificates.get(ref)
        ]
        if missing:
            annotation = CLUSTER_ISSUER_ANNOTATION if shim.kind == "ClusterIssuer" else ISSUER_ANNOTATION
            yield make_finding(
                "EGD406",
                subject=gw.ref,
                gateway=GatewayRef(*key),
                problem=f"has not created the Certificates {', '.join(sorted(set(missing)))} that the "
                "Gateway's "
                f"{annotation}: {shim.name} annotation asks for: its Gateway API support is off (Helm value "
                "config.enableGatewayAPI: true, or --enable-gateway-api) or it cannot watch Gateways",
                fix="enable the Gateway API integration (Helm value config.enableGatewayAPI: true; the "
                "Gateway API CRDs must exist before cert-manager starts) and restart cert-manager, or create "
                "the Certificates "
                "yourself with spec.secretName set to each listener's Secret",
                evidence={"issuer": str(shim), "missingCertificates": sorted(set(missing))},
            )


def _any_secret_missing(snap: Snapshot, lts: list[ListenerTLS]) -> bool:
    # Secrets only sharpen the severity here, so they are not an input: unreadable Secrets must not
    # silence the finding itself.
    for lt in lts:
        for ref in lt.secrets:
            if not secrets_readable(snap, ref.namespace):
                continue
            secret = snap.get("Secret", ref.namespace, ref.name)
            if secret is None or "tls.crt" not in {str(k) for k in as_list(secret.raw.get("dataKeys"))}:
                return True
    return False
