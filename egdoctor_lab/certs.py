"""Real certificates for scenario Secrets.

A scenario declares the certificate a TLS Secret should hold, instead of pasting PEM that would expire
and rot the tests::

    kind: Secret
    metadata:
      name: team-a-tls
      annotations:
        lab.egdoctor.io/certificate: '{"hosts": ["team-a.example.com"], "notBefore": "-30d",
                                       "notAfter": "+60d", "issuer": "lab-ca"}'
    type: kubernetes.io/tls

When the scenario loads, ``data.tls.crt`` and ``data.tls.key`` are replaced with a freshly generated
certificate and key (base64 of PEM, as the API server stores them). Fields:

``hosts``
    subjectAltName DNS names (wildcards allowed); may be empty for a certificate without SANs.
``commonName``
    optional; defaults to the first host.
``notBefore`` / ``notAfter``
    relative to load time (``-30d``, ``+60d``, ``+12h``, ``-90m``, ``now``) or absolute RFC 3339.
    Defaults: ``-1d`` and ``+90d``.
``issuer``
    ``self`` for a self-signed certificate; any other name is a CA made once per load and shared by every
    Secret naming it (``lab-ca`` by convention), so two Secrets can share an issuer.
``omit``
    data keys to leave out (``["tls.key"]``), for Secrets that are broken on purpose.

The annotation stays on the object: it says where the bytes came from and holds nothing secret.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

ANNOTATION = "lab.egdoctor.io/certificate"
SELF_SIGNED = "self"
DATA_KEYS = ("tls.crt", "tls.key")

_RELATIVE = re.compile(r"^\s*([+-])\s*(\d+(?:\.\d+)?)\s*([dhms])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


class CertSpecError(ValueError):
    """A certificate annotation that cannot be honoured; the message names the Secret."""


@dataclass(frozen=True)
class CertSpec:
    hosts: tuple[str, ...]
    not_before: str = "-1d"
    not_after: str = "+90d"
    issuer: str = "lab-ca"
    common_name: str | None = None
    omit: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: Any) -> CertSpec:
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError as exc:
                raise CertSpecError(f"annotation is not JSON: {exc}") from None
        if not isinstance(raw, Mapping):
            raise CertSpecError(f"annotation must be a JSON object, got {raw!r}")
        hosts = raw.get("hosts", [])
        if isinstance(hosts, str):
            hosts = [hosts]
        if not isinstance(hosts, list) or not all(isinstance(h, str) and h for h in hosts):
            raise CertSpecError(f"hosts must be a list of names, got {hosts!r}")
        omit = raw.get("omit", [])
        if not isinstance(omit, list) or not all(isinstance(k, str) for k in omit):
            raise CertSpecError(f"omit must be a list of data keys, got {omit!r}")
        unknown = set(raw) - {"hosts", "notBefore", "notAfter", "issuer", "commonName", "omit"}
        if unknown:
            raise CertSpecError(f"unknown field(s) {', '.join(sorted(unknown))}")
        common_name = raw.get("commonName")
        if common_name is not None and not isinstance(common_name, str):
            raise CertSpecError(f"commonName must be a string, got {common_name!r}")
        issuer = raw.get("issuer", "lab-ca")
        if not isinstance(issuer, str) or not issuer:
            raise CertSpecError(f"issuer must be a name, got {issuer!r}")
        return cls(
            hosts=tuple(hosts),
            not_before=str(raw.get("notBefore", "-1d")),
            not_after=str(raw.get("notAfter", "+90d")),
            issuer=issuer,
            common_name=common_name,
            omit=tuple(omit),
        )


def resolve_time(text: str, now: datetime) -> datetime:
    """``-30d``/``+60d``/``+12h``/``now`` relative to ``now``, or an absolute RFC 3339 time."""
    value = text.strip()
    if value.lower() in ("now", "0", "+0d", "-0d"):
        return now
    match = _RELATIVE.match(value)
    if match:
        sign, amount, unit = match.groups()
        delta = timedelta(**{_UNITS[unit]: float(amount)})
        return now + delta if sign == "+" else now - delta
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CertSpecError(f"time {text!r} is neither relative (-30d, +60d, +12h) nor RFC 3339") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass
class CertificateFactory:
    """Issues certificates for one scenario load; CAs are made on first use and shared by name."""

    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    _cas: dict[str, Any] = field(default_factory=dict)

    def ca(self, name: str) -> Any:
        import trustme

        if name not in self._cas:
            self._cas[name] = trustme.CA(organization_name="egdoctor lab", organization_unit_name=name)
        return self._cas[name]

    def ca_pem(self, name: str) -> bytes:
        return bytes(self.ca(name).cert_pem.bytes())

    def issue(self, spec: CertSpec) -> tuple[bytes, bytes]:
        """PEM certificate and PEM private key for ``spec``."""
        not_before = resolve_time(spec.not_before, self.now)
        not_after = resolve_time(spec.not_after, self.now)
        if not_after <= not_before:
            raise CertSpecError(f"notAfter {spec.not_after} is not after notBefore {spec.not_before}")
        common_name = spec.common_name or (spec.hosts[0] if spec.hosts else "egdoctor-lab")
        signer = None
        if spec.issuer != SELF_SIGNED:
            ca = self.ca(spec.issuer)
            signer = (bytes(ca.cert_pem.bytes()), bytes(ca.private_key_pem.bytes()))
        return _issue(spec.hosts, common_name, not_before, not_after, signer)


def _issue(
    hosts: Iterable[str],
    common_name: str,
    not_before: datetime,
    not_after: datetime,
    signer: tuple[bytes, bytes] | None,
) -> tuple[bytes, bytes]:
    """A leaf certificate signed by ``signer`` (CA certificate and key, PEM), or by itself.

    Built here rather than by trustme so that a certificate can have no subjectAltName at all, and so the
    validity window is exactly the one asked for. ``tls.crt`` holds the leaf only: the lab CAs are roots,
    and servers do not send roots.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    if signer is None:
        issuer_name, signing_key = subject, key
    else:
        ca_cert = x509.load_pem_x509_certificate(signer[0])
        ca_key = serialization.load_pem_private_key(signer[1], password=None)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise CertSpecError("the lab CA key is not an EC key")
        issuer_name, signing_key = ca_cert.subject, ca_key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    )
    names = [x509.DNSName(h) for h in hosts]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(signing_key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _b64(blob: bytes) -> str:
    return base64.b64encode(blob).decode("ascii")


def fill_certificates(
    objects: Iterable[MutableMapping[str, Any]], factory: CertificateFactory | None = None
) -> int:
    """Fill ``data`` of every Secret carrying the certificate annotation, in place; returns how many."""
    filled = 0
    for obj in objects:
        if not isinstance(obj, MutableMapping) or obj.get("kind") != "Secret":
            continue
        meta = obj.get("metadata")
        annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
        if not isinstance(annotations, Mapping) or ANNOTATION not in annotations:
            continue
        where = (
            f"Secret {meta.get('namespace', '')}/{meta.get('name', '')}" if isinstance(meta, Mapping) else ""
        )
        try:
            spec = CertSpec.parse(annotations[ANNOTATION])
            factory = factory or CertificateFactory()
            cert_pem, key_pem = factory.issue(spec)
        except CertSpecError as exc:
            raise CertSpecError(f"{where}: {ANNOTATION}: {exc}") from None
        data = obj.get("data")
        data = dict(data) if isinstance(data, Mapping) else {}
        generated = {"tls.crt": _b64(cert_pem), "tls.key": _b64(key_pem)}
        for key in DATA_KEYS:
            if key in spec.omit:
                data.pop(key, None)
            else:
                data[key] = generated[key]
        obj["data"] = data
        filled += 1
    return filled
