"""Fix plans: findings with one deterministic fix carry `fix` (command, merge patch); `--fix-plan` prints
them as one shell script that egdoctor never runs. Here the script is run, with the real kubectl, against
the lab API server, and the finding it fixes is gone on the next check."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from egdoctor_lab.apiserver import LabApiServer
from egdoctor_lab.scenario import load_scenario
from tests.conftest import SCENARIOS, run_cli
from tests.report_schema import schema_problems

KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")


def _lab(scenario: str, tmp_path: Path) -> LabApiServer:
    return LabApiServer.from_scenario(SCENARIOS / f"{scenario}.yaml", state_dir=tmp_path / "lab")


def _check(lab: LabApiServer, *args: str) -> Any:
    return run_cli("check", "--kubeconfig", str(lab.kubeconfig_path), "--no-probe", *args)


def _run_plan(plan: str, lab: LabApiServer, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "fix.sh"
    script.write_text(plan)
    env = {**os.environ, "KUBECONFIG": str(lab.kubeconfig_path)}
    return subprocess.run(
        ["sh", str(script)], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def _fix(report: dict[str, Any], code: str) -> dict[str, Any]:
    fixes = [f["fix"] for f in report["findings"] if f["code"] == code and "fix" in f]
    assert len(fixes) == 1, report["findings"]
    return fixes[0]


@needs_kubectl
def test_the_opt_in_label_fix_runs_and_the_finding_is_gone(tmp_path: Path) -> None:
    with _lab("route-namespace-unlabelled", tmp_path) as lab:
        before = _check(lab, "-n", "team-a", "-o", "json")
        assert schema_problems(before.json) == []
        fix = _fix(before.json, "EGD203")
        assert fix["command"] == "kubectl label namespace team-a shared-gateway-access=true"
        assert fix["patch"] == {"metadata": {"labels": {"shared-gateway-access": "true"}}}
        assert fix["object"] == {"kind": "Namespace", "namespace": None, "name": "team-a"}
        plan = _check(lab, "-n", "team-a", "--fix-plan")
        assert plan.exit_code == 1  # the plan is printed; the exit code still judges the findings
        assert plan.stdout.startswith("#!/bin/sh\n")
        assert "kubectl --context lab label namespace team-a shared-gateway-access=true" in plan.stdout
        # printing the plan changed nothing
        assert (
            "shared-gateway-access" not in (lab.store.get("namespaces", "team-a") or {})["metadata"]["labels"]
        )
        ran = _run_plan(plan.stdout, lab, tmp_path)
        assert ran.returncode == 0, ran.stderr
        after = _check(lab, "-n", "team-a", "-o", "json")
    assert "EGD203" not in after.codes


@needs_kubectl
def test_the_proxy_protocol_patch_runs_and_the_mismatch_is_gone(tmp_path: Path) -> None:
    with _lab("probe-direct-v2-ctp-no-proxy", tmp_path) as lab:
        before = _check(lab, "-n", "team-a", "-o", "json")
        fix = _fix(before.json, "EGD305")
        assert fix["patch"] == {"spec": {"proxyProtocol": {"optional": False}}}
        assert fix["object"] == {"kind": "ClientTrafficPolicy", "namespace": "gateway", "name": "client-ip"}
        ran = _run_plan(_check(lab, "-n", "team-a", "--fix-plan").stdout, lab, tmp_path)
        assert ran.returncode == 0, ran.stderr
        after = _check(lab, "-n", "team-a", "-o", "json")
    assert "EGD305" not in after.codes


@needs_kubectl
def test_the_reference_grant_fix_creates_the_narrowest_grant(tmp_path: Path) -> None:
    with _lab("route-backend-cross-namespace", tmp_path) as lab:
        fix = _fix(_check(lab, "-n", "team-a", "-o", "json").json, "EGD204")
        assert fix["command"].startswith("kubectl apply -f - <<'EGDOCTOR_MANIFEST'\n")
        manifest = yaml.safe_load(fix["command"].split("\n", 1)[1].rsplit("\nEGDOCTOR_MANIFEST", 1)[0])
        assert manifest["kind"] == "ReferenceGrant" and manifest["metadata"]["namespace"] == "shared-services"
        assert manifest["spec"]["from"] == [
            {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "team-a"}
        ]
        assert manifest["spec"]["to"] == [{"group": "", "kind": "Service", "name": "auth"}]
        # plain kubectl: apply validates strictly, through the lab API server's OpenAPI v3 documents
        ran = _run_plan(_check(lab, "-n", "team-a", "--fix-plan").stdout, lab, tmp_path)
        assert ran.returncode == 0, ran.stderr
        assert lab.store.get("referencegrants", manifest["metadata"]["name"], "shared-services") is not None


def test_the_deprecated_field_is_replaced_by_a_merge_patch(tmp_path: Path) -> None:
    dump = SCENARIOS / "gatewaynamespace-v1-deprecated.yaml"
    report = run_cli("check", "-A", "--from-file", str(dump), "-o", "json").json
    fix = _fix(report, "EGD307")
    assert fix["patch"] == {"spec": {"enableProxyProtocol": None, "proxyProtocol": {"optional": False}}}


def test_a_missing_ctp_in_direct_mode_gets_one(tmp_path: Path) -> None:
    # probe-direct-v2-ctp-no-proxy without its ClientTrafficPolicy: the load balancer sends PROXY v2 and
    # nothing tells Envoy to expect it
    docs = [d for d in yaml.safe_load_all((SCENARIOS / "probe-direct-v2-ctp-no-proxy.yaml").read_text()) if d]
    dump = tmp_path / "dump.yaml"
    dump.write_text(yaml.safe_dump_all([d for d in docs if d.get("kind") != "ClientTrafficPolicy"]))
    report = run_cli("check", "-A", "--from-file", str(dump), "-o", "json").json
    fix = _fix(report, "EGD305")
    assert fix["object"] == {
        "kind": "ClientTrafficPolicy",
        "namespace": "gateway",
        "name": "shared-client-ip",
    }
    manifest = yaml.safe_load(fix["command"].split("\n", 1)[1].rsplit("\nEGDOCTOR_MANIFEST", 1)[0])
    assert manifest["kind"] == "ClientTrafficPolicy"
    assert manifest["spec"]["proxyProtocol"] == {"optional": False}
    assert manifest["spec"]["targetRefs"][0]["name"] == "shared"
    # with --expect-mode xff the load balancer is what is wrong: no CTP is offered
    xff = run_cli("check", "-A", "--from-file", str(dump), "--expect-mode", "xff", "-o", "json").json
    assert not [
        f for f in xff["findings"] if "fix" in f and f["fix"]["object"]["kind"] == "ClientTrafficPolicy"
    ]


def test_no_ctp_in_xff_mode_with_known_hops_gets_one(tmp_path: Path) -> None:
    # the layout of ctp-direct-source-ip.yaml without its ClientTrafficPolicy: nothing sets the client IP,
    # the load balancer sends no PROXY header; only the user knows the mode and the proxies in front
    scenario = load_scenario(SCENARIOS / "ctp-direct-source-ip.yaml")
    objects = [o for o in scenario.objects if o.get("kind") != "ClientTrafficPolicy"]
    with LabApiServer(objects, scenario.settings, tmp_path / "lab") as lab:
        plain = _check(lab, "-n", "team-a", "-o", "json")
        assert "EGD301" in plain.codes
        assert not [f for f in plain.json["findings"] if f["code"] == "EGD301" and "fix" in f]
        report = _check(lab, "-n", "team-a", "--expect-mode", "xff", "--expect-hops", "2", "-o", "json").json
    fix = _fix(report, "EGD301")
    manifest = yaml.safe_load(fix["command"].split("\n", 1)[1].rsplit("\nEGDOCTOR_MANIFEST", 1)[0])
    assert manifest["spec"]["clientIPDetection"] == {"xForwardedFor": {"numTrustedHops": 2}}
    assert manifest["spec"]["targetRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "shared"}
    ]


def test_tenant_text_is_never_executed(tmp_path: Path) -> None:
    """A dump (anyone can write one) whose namespace and selector carry shell syntax: no fix names them,
    and the plan, run with a kubectl that records its arguments, runs only egdoctor's own words."""
    docs = [d for d in yaml.safe_load_all((SCENARIOS / "route-namespace-unlabelled.yaml").read_text()) if d]
    for d in docs:
        if d.get("kind") == "Gateway":
            for listener in d["spec"]["listeners"]:
                selector = listener["allowedRoutes"]["namespaces"].get("selector")
                if selector:
                    selector["matchLabels"] = {"x": "$(touch PWNED)", "ok": "y"}
    dump = tmp_path / "dump.yaml"
    dump.write_text(yaml.safe_dump_all(docs))
    plan = run_cli("check", "-A", "--from-file", str(dump), "--fix-plan")
    assert "$(touch PWNED)" not in [line for line in plan.stdout.splitlines() if not line.startswith("#")]
    fake = tmp_path / "bin"
    fake.mkdir()
    recorder = fake / "kubectl"
    recorder.write_text('#!/bin/sh\nprintf "%s\\n" "$@" >> "$(dirname "$0")/argv"\n')
    recorder.chmod(recorder.stat().st_mode | stat.S_IEXEC)
    script = tmp_path / "fix.sh"
    script.write_text(plan.stdout)
    subprocess.run(["sh", str(script)], cwd=tmp_path, env={**os.environ, "PATH": f"{fake}:/usr/bin:/bin"},
                   check=False, timeout=30)  # fmt: skip
    assert not (tmp_path / "PWNED").exists()


def test_a_clean_run_plans_nothing(tmp_path: Path) -> None:
    with _lab("shared-direct-healthy", tmp_path) as lab:
        result = _check(lab, "-n", "team-a", "--fix-plan")
    assert result.exit_code == 0
    assert "no finding has a deterministic fix" in result.stdout
    assert subprocess.run(["sh", "-n"], input=result.stdout, text=True, check=False).returncode == 0
