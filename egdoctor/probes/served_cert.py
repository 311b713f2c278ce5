"""The certificate Envoy serves for a hostname (SNI), compared with trust and with the listener's Secret."""

from __future__ import annotations

import base64
import binascii
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

from egdoctor.model.topology import ListenerView
from egdoctor.snapshot.model import Snapshot
from egdoctor.snapshot.objects import as_list, as_map

# OpenSSL X509_V_ERR_HOSTNAME_MISMATCH: the chain verified but does not name the host.
_HOSTNAME_MISMATCH = 62
_PEM_RE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


@dataclass(frozen=True)
class SecretCert:
    ref: str  # namespace/name
    leaf_der: bytes | None
    problem: str = ""  # why the leaf could not be read from the snapshot


def secret_certs(snapshot: Snapshot, lv: ListenerView) -> list[SecretCert]:
    out: list[SecretCert] = []
    for ref in as_list(as_map(lv.spec.get("tls")).get("certificateRefs")):
        if (
            not isinstance(ref, Mapping)
            or ref.get("kind", "Secret") != "Secret"
            or ref.get("group", "") not in ("", "core")
        ):
            continue
        namespace = str(ref.get("namespace") or lv.gateway_key[0])
        name = str(ref.get("name", ""))
        label = f"{namespace}/{name}"
        secret = snapshot.get("Secret", namespace, name)
        if secret is None:
            out.append(SecretCert(label, None, "the Secret is not in the snapshot (missing or not readable)"))
            continue
        raw = as_map(secret.raw.get("data")).get("tls.crt")
        if not isinstance(raw, str) or not raw:
            out.append(SecretCert(label, None, "the Secret has no tls.crt"))
            continue
        try:
            pem = base64.b64decode(raw, validate=False).decode("ascii", "replace")
        except (binascii.Error, ValueError):
            out.append(SecretCert(label, None, "tls.crt is not base64"))
            continue
        match = _PEM_RE.search(pem)
        if match is None:
            out.append(SecretCert(label, None, "tls.crt holds no PEM certificate"))
            continue
        try:
            out.append(SecretCert(label, ssl.PEM_cert_to_DER_cert(match.group(0))))
        except ValueError:
            out.append(SecretCert(label, None, "tls.crt is not a valid PEM certificate"))
    return out


@dataclass(frozen=True)
class CertVerdict:
    ok: bool
    problem: str  # "" when ok; else what is wrong, in words
    detail: str  # for the row's "proves" column
    served: bool  # a certificate was presented at all


def judge(
    served_der: bytes | None,
    verify_error: str | None,
    verify_code: int | None,
    hostname: str,
    secrets: list[SecretCert],
    trust: str,
) -> CertVerdict:
    if served_der is None:
        return CertVerdict(False, "", "no certificate presented", False)
    problems: list[str] = []
    if verify_error is not None:
        if verify_code == _HOSTNAME_MISMATCH or "hostname mismatch" in verify_error.lower():
            problems.append(f"does not cover {hostname}")
        else:
            problems.append(f"does not verify against {trust} ({verify_error})")
    readable = [s for s in secrets if s.leaf_der is not None]
    if readable and not any(s.leaf_der == served_der for s in readable):
        problems.append(
            "differs from the certificate in Secret "
            + ", ".join(s.ref for s in readable)
            + " (Envoy still serves an older certificate, or another listener's)"
        )
    if problems:
        return CertVerdict(False, "; ".join(problems), "served certificate " + "; ".join(problems), True)
    matched = " and matches Secret " + readable[0].ref if readable else ""
    return CertVerdict(True, "", f"certificate for {hostname} verifies against {trust}{matched}", True)


def verify_code_from(error: str | None) -> int | None:
    match = re.search(r"verify code (\d+)", error or "")
    return int(match.group(1)) if match else None
