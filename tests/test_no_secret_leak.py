"""No Secret material ever leaves egdoctor: not in any output format, not on stderr, not from a dump.

Listener Secrets are read to inspect their certificates, so their private keys pass through the process.
`sanitize_secret` drops everything but the certificate the moment a Secret is read; these tests hold the
whole CLI to that, against every lab scenario that has Secrets and against an offline dump whose
last-applied-configuration annotation repeats the key.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from pathlib import Path
from typing import Any

import pytest

from egdoctor.cli import Output
from egdoctor_lab.certs import CertificateFactory, CertSpec
from tests.conftest import SCENARIOS, lab_for, run_cli

# Certificates are public: a report may one day show them. Everything else in a Secret is secret.
PUBLIC_KEYS = {"tls.crt", "ca.crt"}
FORMATS = [o.value for o in Output]


def scenarios_with_secrets() -> list[Path]:
    return sorted(p for p in SCENARIOS.glob("*.yaml") if re.search(r"(?m)^kind:\s*Secret\s*$", p.read_text()))


def secret_material(secrets: list[dict[str, Any]]) -> set[str]:
    """Every secret value as stored (base64), decoded, and - for PEM - each body line, so a value cannot
    slip out re-wrapped or re-encoded."""
    found: set[str] = set()
    for obj in secrets:
        for key, value in (obj.get("data") or {}).items():
            if key in PUBLIC_KEYS or not isinstance(value, str) or len(value) < 8:
                continue
            found.add(value)
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8", errors="ignore")
            except (binascii.Error, ValueError):
                continue
            if len(decoded.strip()) >= 8:
                found.add(decoded.strip())
            for line in decoded.splitlines():
                if len(line) >= 16 and not line.startswith("-----"):
                    found.add(line)
            body = "".join(line for line in decoded.splitlines() if not line.startswith("-----"))
            if len(body) >= 16:
                found.add(body)
    return found


def assert_no_leak(material: set[str], text: str, where: str) -> None:
    leaked = sorted(m[:24] + "..." for m in material if m in text)
    assert not leaked, f"secret material in {where}: {leaked}"


def test_the_scenarios_have_secrets_with_keys() -> None:
    # the test below proves nothing unless real private keys are in play
    paths = scenarios_with_secrets()
    assert any(p.stem.startswith("tls-") for p in paths)


@pytest.mark.parametrize("scenario", scenarios_with_secrets(), ids=lambda p: p.stem)
def test_no_output_format_shows_secret_data(scenario: Path, tmp_path: Path) -> None:
    with lab_for(scenario, tmp_path) as lab:
        secrets = [o for o in lab.store.objects() if o.get("kind") == "Secret"]
        material = secret_material(secrets)
        if not material:
            pytest.skip("no secret values in this scenario")
        for fmt in FORMATS:
            # the probes read no Secret; they run with their observer for two formats, and without it (no
            # wait for Envoy's access-log flush) for the rest
            observe = [] if fmt in ("json", "text") else ["--observe", "none"]
            # --allow-incomplete: the scenarios whose API fails on purpose still answer 0 or 1, not 3
            result = run_cli(
                "check",
                "-A",
                "--allow-incomplete",
                "--kubeconfig",
                str(lab.kubeconfig_path),
                "-o",
                fmt,
                *observe,
            )
            assert result.exit_code in (0, 1), result.stderr
            assert_no_leak(material, result.stdout, f"stdout of -o {fmt}")
            assert_no_leak(material, result.stderr, f"stderr of -o {fmt}")


def test_a_dump_with_keys_and_last_applied_configuration_leaks_nothing(tmp_path: Path) -> None:
    cert_pem, key_pem = CertificateFactory().issue(CertSpec(hosts=("team-a.example.com",)))
    data = {
        "tls.crt": base64.b64encode(cert_pem).decode(),
        "tls.key": base64.b64encode(key_pem).decode(),
        "password": base64.b64encode(b"hunter2-but-longer").decode(),
    }
    applied = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {"name": "team-a-tls", "namespace": "gateway"},
        "data": data,
    }
    secret = {
        **applied,
        "metadata": {
            **applied["metadata"],
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(applied)},
        },
        # what `kubectl get secret -o yaml` never shows but a hand-made dump might
        "stringData": {"note": "plain-text-secret-value"},
    }
    gateway = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "shared", "namespace": "gateway"},
        "spec": {
            "gatewayClassName": "eg",
            "listeners": [
                {
                    "name": "https",
                    "port": 443,
                    "protocol": "HTTPS",
                    "hostname": "team-b.example.com",
                    "tls": {
                        "mode": "Terminate",
                        "certificateRefs": [{"kind": "Secret", "name": "team-a-tls"}],
                    },
                }
            ],
        },
    }
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [gateway, secret]}))
    material = secret_material([secret]) | {"plain-text-secret-value", json.dumps(applied)}
    for fmt in FORMATS:
        result = run_cli("check", "-A", "--from-file", str(dump), "-o", fmt)
        assert result.exit_code in (0, 1), result.stderr
        # the dump is diagnosed (the certificate names the wrong host), so the Secret was really read
        assert "EGD402" in result.stdout
        assert_no_leak(material, result.stdout, f"stdout of -o {fmt}")
        assert_no_leak(material, result.stderr, f"stderr of -o {fmt}")


def test_the_detector_catches_a_key_however_it_is_printed() -> None:
    _, key_pem = CertificateFactory().issue(CertSpec(hosts=("x.example.com",)))
    material = secret_material([{"data": {"tls.key": base64.b64encode(key_pem).decode()}}])
    body_line = key_pem.decode().splitlines()[1]
    for shown in (base64.b64encode(key_pem).decode(), key_pem.decode(), f'"evidence": "{body_line}"'):
        with pytest.raises(AssertionError, match="secret material"):
            assert_no_leak(material, f"report\n{shown}\n", "a fake report")
