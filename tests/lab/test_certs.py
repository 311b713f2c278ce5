"""The lab's certificate filler: scenario Secrets get real, fresh certificates at load time."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from egdoctor_lab.certs import (
    ANNOTATION,
    CertificateFactory,
    CertSpec,
    CertSpecError,
    fill_certificates,
    resolve_time,
)
from egdoctor_lab.scenario import ScenarioError, load_scenario, parse_scenario

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def secret(name: str, spec: dict[str, Any] | str | None, ns: str = "gateway") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if spec is not None:
        meta["annotations"] = {ANNOTATION: spec if isinstance(spec, str) else json.dumps(spec)}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "kubernetes.io/tls", "data": {}}


def chain_of(obj: dict[str, Any]) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(base64.b64decode(obj["data"]["tls.crt"]))


def sans(cert: x509.Certificate) -> list[str]:
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return ext.value.get_values_for_type(x509.DNSName)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-30d", NOW - timedelta(days=30)),
        ("+60d", NOW + timedelta(days=60)),
        ("+12h", NOW + timedelta(hours=12)),
        ("-90m", NOW - timedelta(minutes=90)),
        ("now", NOW),
        ("2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
    ],
)
def test_times_are_relative_to_load_or_absolute(text: str, expected: datetime) -> None:
    assert resolve_time(text, NOW) == expected


def test_an_unreadable_time_is_refused() -> None:
    with pytest.raises(CertSpecError, match="neither relative"):
        resolve_time("next tuesday", NOW)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "not JSON"),
        ('["team-a.example.com"]', "JSON object"),
        ({"hosts": "ok", "colour": "blue"}, "unknown field"),
        ({"hosts": [1]}, "hosts must be"),
        ({"hosts": ["a"], "omit": "tls.key"}, "omit must be"),
    ],
)
def test_a_bad_annotation_is_refused(raw: Any, message: str) -> None:
    with pytest.raises(CertSpecError, match=message):
        CertSpec.parse(raw)


def test_a_ca_signed_certificate_has_the_asked_names_dates_and_issuer() -> None:
    factory = CertificateFactory(now=NOW)
    obj = secret(
        "team-a-tls",
        {"hosts": ["team-a.example.com", "*.apps.example.com"], "notBefore": "-30d", "notAfter": "+60d"},
    )
    assert fill_certificates([obj], factory) == 1
    (leaf,) = chain_of(obj)  # the lab CA is a root, and servers do not send roots
    assert sans(leaf) == ["team-a.example.com", "*.apps.example.com"]
    assert leaf.not_valid_before_utc == NOW - timedelta(days=30)
    assert leaf.not_valid_after_utc == NOW + timedelta(days=60)
    ca = x509.load_pem_x509_certificate(factory.ca_pem("lab-ca"))
    leaf.verify_directly_issued_by(ca)
    assert leaf.issuer == ca.subject != leaf.subject


def test_the_key_matches_the_certificate() -> None:
    obj = secret("team-a-tls", {"hosts": ["team-a.example.com"]})
    fill_certificates([obj])
    key = serialization.load_pem_private_key(base64.b64decode(obj["data"]["tls.key"]), password=None)
    leaf = chain_of(obj)[0]
    assert key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_secrets_naming_the_same_issuer_share_one_ca_and_other_names_get_their_own() -> None:
    a = secret("a", {"hosts": ["a.example.com"], "issuer": "lab-ca"})
    b = secret("b", {"hosts": ["b.example.com"], "issuer": "lab-ca"})
    c = secret("c", {"hosts": ["c.example.com"], "issuer": "other-ca"})
    factory = CertificateFactory(now=NOW)
    fill_certificates([a, b, c], factory)
    lab_ca = x509.load_pem_x509_certificate(factory.ca_pem("lab-ca"))
    other_ca = x509.load_pem_x509_certificate(factory.ca_pem("other-ca"))
    chain_of(a)[0].verify_directly_issued_by(lab_ca)
    chain_of(b)[0].verify_directly_issued_by(lab_ca)
    chain_of(c)[0].verify_directly_issued_by(other_ca)
    with pytest.raises(ValueError):
        chain_of(c)[0].verify_directly_issued_by(lab_ca)


def test_self_signed_is_its_own_issuer() -> None:
    obj = secret("s", {"hosts": ["team-b.example.com"], "issuer": "self"})
    fill_certificates([obj])
    (leaf,) = chain_of(obj)
    assert leaf.issuer == leaf.subject
    leaf.verify_directly_issued_by(leaf)


def test_omit_leaves_a_key_out_and_unannotated_secrets_alone() -> None:
    broken = secret("d", {"hosts": ["team-d.example.com"], "omit": ["tls.key"]})
    plain = secret("plain", None)
    plain["data"] = {"tls.crt": "aGFuZC1tYWRl"}
    other = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x", "annotations": {ANNOTATION: "{}"}},
    }
    assert fill_certificates([broken, plain, other]) == 1
    assert sorted(broken["data"]) == ["tls.crt"]
    assert plain["data"] == {"tls.crt": "aGFuZC1tYWRl"}
    assert "data" not in other


def test_a_certificate_may_have_no_subject_alternative_name() -> None:
    obj = secret("cn-only", {"hosts": [], "commonName": "legacy.example.com"})
    fill_certificates([obj])
    leaf = chain_of(obj)[0]
    with pytest.raises(x509.ExtensionNotFound):
        leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)


def test_not_after_must_follow_not_before() -> None:
    with pytest.raises(CertSpecError, match="notAfter"):
        fill_certificates([secret("x", {"hosts": ["x"], "notBefore": "+1d", "notAfter": "-1d"})])


def test_loading_a_scenario_fills_its_secrets() -> None:
    scenario = load_scenario("shared-direct-healthy")
    secrets = [o for o in scenario.objects if o["kind"] == "Secret"]
    assert secrets
    for obj in secrets:
        leaf = chain_of(obj)[0]
        assert leaf.not_valid_before_utc < datetime.now(timezone.utc) < leaf.not_valid_after_utc
        assert base64.b64decode(obj["data"]["tls.key"]).startswith(b"-----BEGIN")


def test_a_broken_annotation_fails_the_scenario_naming_the_secret(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: bad\n  namespace: gateway\n"
        f'  annotations:\n    {ANNOTATION}: \'{{"hosts": ["a"], "notAfter": "someday"}}\'\n'
    )
    with pytest.raises(ScenarioError, match="Secret gateway/bad"):
        parse_scenario(text, source="inline")
