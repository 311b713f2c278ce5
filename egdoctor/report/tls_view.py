"""The TLS picture every renderer shows: per TLS listener, one row per hostname with the certificate that
serves it, who issues it, until when, whether cert-manager calls it Ready, and where issuance is stuck.

Pure: computed from the diagnosis the report already holds (objects and findings), never fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from egdoctor.checks.tls.cert_manager import IssuerRef, certificate_issuer, shim_issuer
from egdoctor.checks.tls.certificate import CertInfo, parse_certificate
from egdoctor.checks.tls.host_coverage import served_hostnames
from egdoctor.checks.tls.issuance import certificate_chain
from egdoctor.checks.tls.listeners import SecretRef, listener_secret_refs, terminates_tls
from egdoctor.model.topology import GatewayView, ListenerView
from egdoctor.snapshot.objects import as_map

if TYPE_CHECKING:
    from egdoctor.report.view import Report

TLS_CODES = ("EGD401", "EGD402", "EGD403", "EGD404", "EGD405", "EGD406", "EGD407")


@dataclass(frozen=True)
class TlsRow:
    gateway: tuple[str, str]
    listener: str
    hostname: str  # "*" when neither the listener nor its routes name one
    secret: SecretRef | None
    certificate: tuple[str, str] | None  # the cert-manager Certificate writing the Secret
    issuer: IssuerRef | None  # the cert-manager issuer (Certificate's, else the Gateway annotation's)
    cert: CertInfo | None  # the certificate in the Secret, when readable
    ready: bool | None  # the Certificate's Ready condition; None without a Certificate
    covered: bool | None
    broken: str | None  # the failing link of the Certificate, short form
    broken_detail: str | None
    codes: tuple[str, ...]  # TLS finding codes on this listener

    def to_json(self) -> dict[str, Any]:
        return {
            "gateway": {"namespace": self.gateway[0], "name": self.gateway[1]},
            "listener": self.listener,
            "hostname": self.hostname,
            "secret": {"namespace": self.secret.namespace, "name": self.secret.name} if self.secret else None,
            # what the Secret holds (null: no Secret, or no readable certificate in it)
            "secretCertificate": (
                {
                    "subject": self.cert.subject,
                    "issuer": self.cert.issuer,
                    "dnsNames": list(self.cert.sans),
                    "notBefore": _iso(self.cert.not_before),
                    "notAfter": _iso(self.cert.not_after),
                    "selfSigned": self.cert.self_signed,
                }
                if self.cert
                else None
            ),
            # the cert-manager objects that write the Secret (null: not managed by cert-manager)
            "certManager": (
                {
                    "certificate": (
                        {"namespace": self.certificate[0], "name": self.certificate[1]}
                        if self.certificate
                        else None
                    ),
                    "issuer": (
                        {
                            "kind": self.issuer.kind,
                            "namespace": self.issuer.namespace,
                            "name": self.issuer.name,
                        }
                        if self.issuer
                        else None
                    ),
                    "ready": self.ready,
                    "brokenLink": self.broken_detail,
                }
                if self.certificate or self.issuer
                else None
            ),
            "covered": self.covered,
            "codes": list(self.codes),
        }

    def ok(self, now: datetime | None = None) -> bool:
        """A certificate is there, valid now, trusted beyond itself, names this host, and cert-manager
        does not disagree."""
        now = now or datetime.now(timezone.utc)
        if self.cert is None or not self.cert.not_before <= now < self.cert.not_after:
            return False
        if self.cert.self_signed:
            return False
        return self.covered is not False and self.ready is not False and self.broken is None

    def describe(self, now: datetime | None = None) -> str:
        """One plain-text line (renderers add their own marks and escaping)."""
        now = now or datetime.now(timezone.utc)
        parts = [self.hostname]
        parts.append(f"secret {self.secret}" if self.secret else "no certificateRef")
        if self.issuer is not None:
            parts.append(str(self.issuer))
        elif self.cert is not None:
            parts.append("self-signed" if self.cert.self_signed else f"issuer {self.cert.issuer}")
        if self.cert is not None:
            # whole days toward zero, as EGD402 counts them: expired 30 hours ago is "1 d ago"
            days = int((self.cert.not_after - now).total_seconds() / 86400)
            parts.append(
                f"until {self.cert.not_after.date().isoformat()} "
                + (f"({days} d)" if days >= 0 else f"(expired {-days} d ago)")
            )
            if self.covered is False:
                parts.append("does not cover this name")
        elif self.secret is not None:
            parts.append("no certificate")
        if self.ready is not None:
            parts.append("Ready" if self.ready else "not Ready")
        if self.broken:
            parts.append(f"stuck at {self.broken}")
        return " · ".join(parts)


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def listener_rows(report: Report, gv: GatewayView, lv: ListenerView) -> list[TlsRow]:
    if not terminates_tls(lv):
        return []
    snap = report.diagnosis.snapshot
    refs = listener_secret_refs(lv)
    certs: dict[SecretRef, CertInfo] = {}
    for candidate in refs:
        secret = snap.get("Secret", candidate.namespace, candidate.name) if candidate.is_secret else None
        crt = as_map(secret.raw.get("data")).get("tls.crt") if secret is not None else None
        parsed = parse_certificate(crt) if isinstance(crt, str) else None
        if isinstance(parsed, CertInfo):
            certs[candidate] = parsed
    codes = tuple(
        sorted(
            {
                f.code
                for f in report.findings
                if f.code in TLS_CODES
                and f.gateway is not None
                and f.gateway.key == gv.key
                and f.gateway.listener in (lv.name, None)
            }
        )
    )
    rows = []
    for host in served_hostnames(lv) or ("*",):
        # several certificateRefs (say RSA and ECDSA): show the one that covers the name
        ref: SecretRef | None = next(
            (r for r in refs if r in certs and certs[r].covers(host)), refs[0] if refs else None
        )
        info = certs.get(ref) if ref is not None else None
        cert_obj = None
        if ref is not None and ref.is_secret:
            cert_obj = next(
                (
                    c
                    for c in snap.of("Certificate")
                    if c.namespace == ref.namespace and c.spec.get("secretName") == ref.name
                ),
                None,
            )
        chain = certificate_chain(snap, cert_obj, gv.addresses) if cert_obj is not None else None
        issuer = certificate_issuer(cert_obj) if cert_obj is not None else shim_issuer(gv.obj)
        rows.append(
            TlsRow(
                gateway=gv.key,
                listener=lv.name,
                hostname=host,
                secret=ref,
                certificate=(cert_obj.namespace or "", cert_obj.name) if cert_obj is not None else None,
                issuer=issuer,
                cert=info,
                ready=chain.ready if chain is not None else None,
                covered=None if info is None or host == "*" else info.covers(host),
                broken=chain.link.short if chain is not None and chain.link is not None else None,
                broken_detail=chain.link.text if chain is not None and chain.link is not None else None,
                codes=codes,
            )
        )
    return rows


def tls_rows(report: Report) -> list[TlsRow]:
    return [
        row
        for gv in report.gateways()
        for lv in report.listeners(gv)
        for row in listener_rows(report, gv, lv)
    ]


def tls_json(report: Report) -> list[dict[str, Any]]:
    return [row.to_json() for row in tls_rows(report)]
