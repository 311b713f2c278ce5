"""Durations, timestamps, Certificates and issuer fixes as the TLS messages write them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from egdoctor.checks.tls.cert_manager import dns_names
from egdoctor.snapshot.objects import Obj

# Issuer Ready=False reasons -> what to do (pkg/issuer/acme/setup.go, pkg/controller/issuers/sync.go).
ISSUER_FIXES = {
    "ErrRegisterACMEAccount": "cert-manager could not register the ACME account: use a real address in "
    "spec.acme.email (Let's Encrypt refuses example.com and similar), check spec.acme.server, and that the "
    "cluster can reach the ACME server (egress, proxy); cert-manager retries on its own once fixed",
    "ErrVerifyACMEAccount": "the account key in spec.acme.privateKeySecretRef does not match the ACME "
    "account: delete that Secret to register a new account, or restore the right key",
    "ErrUpdateACMEAccount": "cert-manager could not update the ACME account (email change): check "
    "spec.acme.email and the ACME server's answer in the message",
    "ErrInitIssuer": "the issuer configuration is invalid or a referenced Secret is missing: fix what the "
    "message says (`kubectl describe` the issuer)",
    "InvalidConfig": "fix the issuer spec as the message says",
    "InvalidSolver": "fix the ACME solvers as the message says",
}


def certificate_label(cert: Obj) -> str:
    hosts = dns_names(cert)
    return f"{cert.namespace}/{cert.name}" + (f" ({', '.join(hosts)})" if hosts else "")


def duration(delta: timedelta) -> str:
    days = abs(delta.total_seconds()) / 86400
    if days >= 1:
        n = round(days)
        return f"{n} day{'s' if n != 1 else ''}"
    hours = max(1, int(abs(delta.total_seconds()) / 3600))
    return f"{hours} hour{'s' if hours != 1 else ''}"


def iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
