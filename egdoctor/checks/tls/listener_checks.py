"""The checks on listener Secrets and the certificates in them (EGD401, EGD402)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from egdoctor.checks.registry import CheckContext, check
from egdoctor.checks.tls.cert_manager import CLUSTER_ISSUER_ANNOTATION, IssuerRef, shim_issuer
from egdoctor.checks.tls.certificate import SDS_SECRET_TYPE, TLS_SECRET_TYPE, CertInfo, parse_certificate
from egdoctor.checks.tls.host_coverage import served_hostnames
from egdoctor.checks.tls.listeners import ListenerTLS, SecretRef, listeners_with_tls
from egdoctor.checks.tls.secret_access import (
    grant_allows,
    grants_known,
    not_permitted_by_controller,
    secrets_readable,
)
from egdoctor.checks.tls.wording import duration, iso
from egdoctor.findings.codes import make_finding
from egdoctor.findings.model import Finding, Severity
from egdoctor.snapshot.kinds import GW
from egdoctor.snapshot.objects import Obj, as_list, as_map


@check(
    "listener-secrets",
    inputs=["Gateway", "Secret", "ReferenceGrant"],
    codes=["EGD401"],
)
def listener_secrets(ctx: CheckContext) -> Iterator[Finding]:
    """Every TLS listener's certificateRefs name a usable kubernetes.io/tls Secret it may read."""
    snap = ctx.snapshot
    grants = snap.of("ReferenceGrant")
    for lt in listeners_with_tls(snap, ctx.topology):
        gv, lv = lt.gateway, lt.listener
        if not lt.secrets:
            yield make_finding(
                "EGD401",
                subject=gv.obj.ref,
                gateway=lt.where,
                listener=lv.name,
                secret="(none)",
                problem="the listener terminates TLS but has no certificateRefs",
                fix="add tls.certificateRefs: [{kind: Secret, name: <secret>}] naming a kubernetes.io/tls "
                "Secret",
            )
            continue
        shim = shim_issuer(gv.obj)
        for ref in lt.secrets:
            problems: list[str] = []
            fixes: list[str] = []
            if not ref.is_secret:
                problems.append(f"refers to a {ref.kind} ({ref.group or 'core'}), not a Secret")
                fixes.append('use kind: Secret (group "") in certificateRefs')
                yield _secret_finding(lt, ref, problems, fixes)
                continue
            not_permitted = ref.cross_namespace and (
                not grant_allows(grants, ref)
                if grants_known(snap, ref.namespace)
                else not_permitted_by_controller(lv, ref)
            )
            if not_permitted:
                problems.append(
                    f"is in namespace {ref.namespace}, not the Gateway's ({ref.gateway_namespace}), and no "
                    f"ReferenceGrant in {ref.namespace} lets Gateways from {ref.gateway_namespace} use it"
                )
                fixes.append(
                    f"create a ReferenceGrant in {ref.namespace}: from [{{group: {GW}, kind: Gateway, "
                    f"namespace: {ref.gateway_namespace}}}], "
                    f'to [{{group: "", kind: Secret, name: {ref.name}}}] '
                    "(or keep the Secret in the Gateway's namespace, as the standard layout does)"
                )
            secret = snap.get("Secret", ref.namespace, ref.name)
            # a reference no grant is known to permit is not followed (snapshot/secret_refs.py): its Secret
            # is unknown, not missing
            unread = (
                ref.cross_namespace
                and snap.source.mode == "cluster"
                and (not_permitted or not grants_known(snap, ref.namespace))
            )
            if secret is None:
                if secrets_readable(snap, ref.namespace) and not unread:
                    problems.append("does not exist")
                    fixes.append(_missing_secret_fix(lt, ref, shim))
            else:
                problems_, fixes_ = _secret_content_problems(secret)
                problems += problems_
                fixes += fixes_
            if problems:
                yield _secret_finding(lt, ref, problems, fixes)


def _secret_finding(lt: ListenerTLS, ref: SecretRef, problems: list[str], fixes: list[str]) -> Finding:
    return make_finding(
        "EGD401",
        subject=ref.ref,
        gateway=lt.where,
        listener=lt.listener.name,
        secret=str(ref),
        problem="; ".join(problems),
        fix="; ".join(dict.fromkeys(fixes)),
        evidence={
            "gateway": f"{lt.gateway.key[0]}/{lt.gateway.key[1]}",
            "certificateRef": {
                "kind": ref.kind,
                "group": ref.group,
                "namespace": ref.namespace,
                "name": ref.name,
            },
        },
    )


def _missing_secret_fix(lt: ListenerTLS, ref: SecretRef, shim: IssuerRef | None) -> str:
    certs = lt.certificates.get(ref, ())
    if certs:
        names = ", ".join(f"{c.namespace}/{c.name}" for c in certs)
        return f"cert-manager has not issued it yet: see EGD403 for Certificate {names}"
    if shim is not None:
        return (
            f"the Gateway asks cert-manager for it ({shim}) but no Certificate writes it: see EGD406 "
            "(cert-manager's Gateway API support must be enabled)"
        )
    return (
        f"create a cert-manager Certificate with spec.secretName: {ref.name} in namespace {ref.namespace} "
        f"(or annotate the Gateway with {CLUSTER_ISSUER_ANNOTATION}), or `kubectl create secret tls "
        f"{ref.name} -n {ref.namespace} --cert=... --key=...`"
    )


def _secret_content_problems(secret: Obj) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    fixes: list[str] = []
    stype = secret.raw.get("type")
    if stype == SDS_SECRET_TYPE:
        return problems, fixes  # the certificate lives in the SDS server, out of sight
    if stype != TLS_SECRET_TYPE:
        problems.append(f"has type {stype or 'Opaque'}, not {TLS_SECRET_TYPE}")
        fixes.append(
            f"recreate it as type {TLS_SECRET_TYPE} "
            "(`kubectl create secret tls NAME --cert=FILE --key=FILE`); "
            "the type cannot be changed in place"
        )
    keys = {str(k) for k in as_list(secret.raw.get("dataKeys"))}
    missing = [k for k in ("tls.crt", "tls.key") if k not in keys]
    if missing:
        problems.append(f"has no {' and no '.join(missing)}")
        fixes.append(
            "a listener Secret needs both tls.crt (the certificate chain, PEM) and tls.key (its key)"
        )
    crt = as_map(secret.raw.get("data")).get("tls.crt")
    if "tls.crt" in keys and isinstance(crt, str):
        info = parse_certificate(crt)
        if isinstance(info, str):
            problems.append(info)
            fixes.append("put the PEM certificate chain in tls.crt")
    elif "tls.crt" in keys and crt is None and "tls.crt" not in missing:
        problems.append("tls.crt is empty")
        fixes.append("put the PEM certificate chain in tls.crt")
    return problems, fixes


@check("listener-certificate", inputs=["Gateway", "Secret", "HTTPRoute", "GRPCRoute"], codes=["EGD402"])
def listener_certificate(ctx: CheckContext) -> Iterator[Finding]:
    """The certificate in each listener Secret covers the served hostnames and is inside its validity."""
    snap, now = ctx.snapshot, ctx.options.now
    warn = timedelta(days=ctx.options.cert_warn_days)
    for lt in listeners_with_tls(snap, ctx.topology):
        hosts = served_hostnames(lt.listener)
        for ref in lt.secrets:
            secret = snap.get("Secret", ref.namespace, ref.name) if ref.is_secret else None
            crt = as_map(secret.raw.get("data")).get("tls.crt") if secret is not None else None
            if not isinstance(crt, str):
                continue
            info = parse_certificate(crt)
            if not isinstance(info, CertInfo):
                continue  # unusable content is EGD401's; no cryptography means nothing to inspect
            errors: list[str] = []
            warnings: list[str] = []
            fixes: list[str] = []
            if now < info.not_before:
                errors.append(
                    f"is not valid before {iso(info.not_before)} (in {duration(info.not_before - now)})"
                )
                fixes.append("the issuer dated it in the future (clock skew?): reissue it, or wait")
            if now >= info.not_after:
                errors.append(f"expired on {iso(info.not_after)} ({duration(now - info.not_after)} ago)")
                fixes.append(
                    "renew it: with cert-manager see why renewal failed (EGD403/EGD404) and run "
                    "`cmctl renew`; "
                    "otherwise replace tls.crt and tls.key"
                )
            elif info.not_after - now <= warn:
                warnings.append(
                    f"expires on {iso(info.not_after)} (in {duration(info.not_after - now)}, within the "
                    f"{ctx.options.cert_warn_days}-day warning window)"
                )
                fixes.append(
                    "renewal should have happened by now (cert-manager renews at two thirds of the "
                    "lifetime): "
                    "check the Certificate and its issuer (EGD403/EGD404), or replace the certificate"
                )
            uncovered = [h for h in hosts if not info.covers(h)]
            if uncovered:
                names = ", ".join(info.sans) if info.sans else f"no subjectAltName, only CN {info.subject}"
                errors.append(f"does not cover {', '.join(uncovered)} (it names {names})")
                fixes.append(
                    f"issue it for {', '.join(uncovered)}: set the Certificate's spec.dnsNames (the "
                    "Gateway shim "
                    "uses the listener hostname); a wildcard *.example.com covers exactly one label"
                )
            if info.self_signed:
                warnings.append(
                    f"is self-signed ({info.subject}): browsers and API clients will not trust it"
                )
                fixes.append(
                    "use a certificate from a CA the clients trust (for public names an ACME issuer "
                    "such as Let's Encrypt through cert-manager)"
                )
            if not errors and not warnings:
                continue
            yield make_finding(
                "EGD402",
                subject=ref.ref,
                gateway=lt.where,
                secret=str(ref),
                severity=Severity.ERROR if errors else Severity.WARNING,
                problem="; ".join(errors + warnings),
                fix="; ".join(dict.fromkeys(fixes)),
                evidence={
                    "listener": lt.listener.name,
                    "hostnames": list(hosts),
                    "subject": info.subject,
                    "issuer": info.issuer,
                    "dnsNames": list(info.sans),
                    "notBefore": iso(info.not_before),
                    "notAfter": iso(info.not_after),
                    "selfSigned": info.self_signed,
                },
            )
