"""Support bundles: `collect` writes what a run read and observed; `check --from-bundle` diagnoses it
offline with the same findings; no secret value survives into a bundle; a hostile bundle is refused with
one line, never extracted."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from egdoctor.cli import Output
from tests.conftest import lab_for, probe_args, run_cli
from tests.report_schema import schema_problems
from tests.test_no_secret_leak import assert_no_leak, scenarios_with_secrets, secret_material

# (scenario, arguments): a healthy one, a route fault, Secrets and certificates, API errors, probes
SCENARIOS = [
    ("shared-direct-healthy", ["-n", "team-a", "--no-probe"]),
    ("route-namespace-unlabelled", ["-n", "team-a", "--no-probe"]),
    ("tls-secret-references", ["-A", "--no-probe"]),
    ("api-errors-and-malformed", ["-A", "--no-probe", "--allow-incomplete"]),
    ("probe-direct-v2-strict", ["-n", "team-a"]),
]


def _comparable(findings: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """What a finding says; a probe's evidence holds timings, which two runs never share."""
    return sorted(
        (
            f["code"],
            f["severity"],
            json.dumps(f["object"], sort_keys=True),
            json.dumps(f["gateway"], sort_keys=True),
            f["message"],
            f["hint"],
            json.dumps(f["evidence"], sort_keys=True) if f["check"] != "probe" else "",
        )
        for f in findings
    )


def _collect(lab: Any, args: list[str], bundle: Path) -> None:
    collect_args = [a for a in args if a != "--allow-incomplete"]
    result = run_cli("collect", "--kubeconfig", str(lab.kubeconfig_path), *collect_args, "-o", str(bundle))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert f"wrote {bundle}" in result.stderr


@pytest.mark.parametrize(("scenario", "args"), SCENARIOS, ids=[s for s, _ in SCENARIOS])
def test_the_bundle_gives_the_live_findings(scenario: str, args: list[str], tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.tar.gz"
    with lab_for(scenario, tmp_path / "lab") as lab:
        extra = probe_args(lab) if "--no-probe" not in args else []
        live = run_cli("check", "--kubeconfig", str(lab.kubeconfig_path), *args, *extra, "-o", "json")
        _collect(lab, [*args, *extra], bundle)
    # the lab is gone: the bundle is all there is
    offline_args = [a for a in args if a not in ("-A",)]
    offline = run_cli("check", "--from-bundle", str(bundle), *offline_args, "-o", "json")
    assert offline.exit_code == live.exit_code, offline.stderr
    # a fault scenario must say something for the comparison to mean anything; a healthy one is compared
    # on what it shows of the Gateways
    assert live.json["findings"] or scenario.endswith("-healthy")
    assert live.json["gateways"]
    if "--no-probe" in args:
        assert offline.json["gateways"] == live.json["gateways"]
    assert _comparable(offline.json["findings"]) == _comparable(live.json["findings"])
    assert offline.json["scope"] == live.json["scope"]
    assert offline.json["skippedChecks"] == live.json["skippedChecks"]
    source = offline.json["source"]
    assert source["mode"] == "bundle" and source["bundle"] == str(bundle) and source["recordedAt"]
    assert source["context"] == live.json["source"]["context"]
    if "--no-probe" not in args:
        # probe results are shown, marked as recorded, never sent again
        assert offline.json["probes"] == live.json["probes"] or len(offline.json["probes"]) == len(
            live.json["probes"]
        )
        assert offline.json["probeNotes"][0].startswith("recorded evidence")
        probe_findings = [f for f in offline.json["findings"] if f["check"] == "probe"]
        assert probe_findings and all(f["recordedAt"] == source["recordedAt"] for f in probe_findings)


def test_recorded_probe_evidence_is_marked_in_every_format(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.tar.gz"
    with lab_for("probe-direct-v2-strict", tmp_path / "lab") as lab:
        _collect(lab, ["-n", "team-a", *probe_args(lab)], bundle)
    marks = {
        "text": "recorded evidence",
        "json": '"recordedAt"',
        "yaml": "recordedAt",
        "junit": "recorded evidence: probe result recorded at",
        "sarif": '"recordedAt"',
        "markdown": "Recorded evidence: probe result recorded at",
    }
    assert set(marks) == {o.value for o in Output}
    for fmt, mark in marks.items():
        result = run_cli("check", "--from-bundle", str(bundle), "-o", fmt, "--no-color")
        assert result.exit_code in (0, 1), result.stderr
        assert mark in result.stdout, fmt
        assert "bundle" in result.stdout.lower() or fmt in ("junit", "sarif"), fmt
        if fmt == "json":
            assert schema_problems(result.json) == []


def test_the_manifest_says_what_was_read_and_what_was_not(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.tar.gz"
    with lab_for("api-errors-and-malformed", tmp_path / "lab") as lab:
        _collect(lab, ["-A", "--no-probe"], bundle)
    with tarfile.open(bundle) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert "snapshot.json" in names and any(n.startswith("objects/") for n in names)
    assert manifest["bundleVersion"] == 1
    assert manifest["serverVersion"].startswith("v1.")
    assert manifest["context"] and manifest["allNamespaces"] is True
    assert manifest["forbidden"] or manifest["failed"]
    assert manifest["probes"] == "not run"


@pytest.mark.parametrize("scenario", scenarios_with_secrets(), ids=lambda p: p.stem)
def test_no_secret_value_survives_into_a_bundle(scenario: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.tar.gz"
    with lab_for(scenario, tmp_path / "lab") as lab:
        secrets = [o for o in lab.store.objects() if o.get("kind") == "Secret"]
        material = secret_material(secrets)
        if not material:
            pytest.skip("no secret values in this scenario")
        # the credentials egdoctor used never go in either
        material |= {lab.token} if getattr(lab, "token", None) else set()
        _collect(lab, ["-A", "--no-probe"], bundle)
    with tarfile.open(bundle) as tar:
        for member in tar.getmembers():
            text = tar.extractfile(member).read().decode()  # type: ignore[union-attr]
            assert_no_leak(material, text, f"bundle member {member.name}")
    # and what the bundle holds is enough to judge the certificates offline
    offline = run_cli("check", "--from-bundle", str(bundle), "--allow-incomplete", "-o", "json")
    assert offline.exit_code in (0, 1), offline.stderr


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info, b""


MANIFEST = json.dumps({"bundleVersion": 1, "createdAt": "2026-01-01T00:00:00Z"}).encode()
SNAPSHOT = json.dumps({"namespaces": None, "fetched": [], "listed": []}).encode()


@pytest.mark.parametrize(
    ("members", "why"),
    [
        ([_file("../../etc/passwd", b"x")], "not one egdoctor writes"),
        ([_file("/abs/manifest.json", b"x")], "not one egdoctor writes"),
        ([_link("manifest.json", "/etc/passwd")], "not a regular file"),
        ([_file("manifest.json", b"{not json")], "not JSON"),
        ([_file("manifest.json", MANIFEST)], "no snapshot.json"),
        (
            [
                _file("manifest.json", MANIFEST),
                _file("snapshot.json", SNAPSHOT),
                _file("probes.json", json.dumps({"findings": [{"code": "EGD999"}]}).encode()),
            ],
            "not a probe code",
        ),
    ],
    ids=["traversal", "absolute", "symlink", "not-json", "incomplete", "forged-finding"],
)
def test_a_hostile_bundle_is_refused_in_one_line(
    members: list[tuple[tarfile.TarInfo, bytes]], why: str, tmp_path: Path
) -> None:
    bundle = tmp_path / "hostile.tar.gz"
    _tar(bundle, members)
    result = run_cli("check", "--from-bundle", str(bundle), "-o", "json")
    assert result.exit_code == 2, result.stderr
    assert result.stdout == ""
    assert why in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "etc").exists()


def test_a_member_larger_than_the_bound_is_refused_before_it_is_read(tmp_path: Path) -> None:
    # a header that claims 1 TiB: refused from the header, nothing is decompressed into memory
    bundle = tmp_path / "huge.tar.gz"
    info = tarfile.TarInfo("manifest.json")
    info.size = 1 << 40
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    import gzip

    bundle.write_bytes(gzip.compress(header + b"\0" * 1024))
    result = run_cli("check", "--from-bundle", str(bundle))
    assert result.exit_code == 2
    assert "too large" in result.stderr


def test_not_a_bundle_at_all(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"\x00" * 100)
    result = run_cli("check", "--from-bundle", str(junk))
    assert result.exit_code == 2 and "not a readable tar.gz" in result.stderr
    assert "Traceback" not in result.stderr
