"""The certificate a listener Secret holds."""

from __future__ import annotations

import base64
import binascii
import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from egdoctor.checks.tls.host_coverage import san_covers

TLS_SECRET_TYPE = "kubernetes.io/tls"
# Envoy Gateway's own Secret type that points at an SDS server instead of holding the certificate
SDS_SECRET_TYPE = "gateway.envoyproxy.io/sds"


@dataclass(frozen=True)
class CertInfo:
    subject: str
    issuer: str
    sans: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    self_signed: bool

    def covers(self, host: str) -> bool:
        return any(san_covers(san, host) for san in self.sans)


def parse_certificate(b64: str) -> CertInfo | str | None:
    """The leaf certificate of a Secret's base64 `tls.crt`; a string says why it is unusable, None means
    the cryptography package is not installed, so the content cannot be inspected."""
    try:
        from cryptography import x509
        from cryptography.x509.oid import NameOID
    except ImportError:
        return None
    try:
        pem = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        return "tls.crt is not valid base64"
    if not pem.strip():
        return "tls.crt is empty"
    try:
        with warnings.catch_warnings():
            # cryptography warns on stderr about certificates it will refuse one day (a serial number
            # that is not positive); the tenant's certificate is judged here, not the parsing library
            warnings.simplefilter("ignore")
            certs = x509.load_pem_x509_certificates(pem)
    except ValueError:
        return "tls.crt holds no PEM certificate"
    if not certs:
        return "tls.crt holds no PEM certificate"
    leaf = certs[0]
    try:
        ext = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        sans = tuple(str(n) for n in ext.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        sans = ()
    except ValueError as exc:  # a malformed or duplicated extension
        return f"tls.crt has extensions that cannot be read ({' '.join(str(exc).split())[:120]})"

    def cn(name: Any) -> str:
        attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(attrs[0].value) if attrs else name.rfc4514_string()

    self_signed = False
    if leaf.issuer == leaf.subject:
        try:
            leaf.verify_directly_issued_by(leaf)
            self_signed = True
        except Exception:  # any verification failure: not provably self-signed
            self_signed = False
    return CertInfo(
        subject=cn(leaf.subject),
        issuer=cn(leaf.issuer),
        sans=sans,
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        self_signed=self_signed,
    )
