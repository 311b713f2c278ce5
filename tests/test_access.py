"""RBAC denials and missing APIs: never a crash, always a finding that names what was skipped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from egdoctor.checks.registry import all_checks
from egdoctor.snapshot.kinds import KINDS
from tests.conftest import SCENARIOS, lab_for, run_cli

HEALTHY = SCENARIOS / "shared-direct-healthy.yaml"


# EnvoyProxy objects are read only where a parametersRef points, so the variant that denies them names one
SHARED_PROXY = {
    "apiVersion": "gateway.envoyproxy.io/v1alpha1",
    "kind": "EnvoyProxy",
    "metadata": {"name": "shared-proxy", "namespace": "envoy-gateway-system"},
    "spec": {"provider": {"type": "Kubernetes"}},
}


def _variant(tmp_path: Path, parameters: bool = False, **settings: Any) -> Path:
    docs = list(yaml.safe_load_all(HEALTHY.read_text()))
    for doc in docs:
        if doc and doc.get("kind") == "LabScenario":
            doc["spec"].update(settings)
            doc["spec"].pop("expect", None)
        if parameters and doc and doc.get("kind") == "GatewayClass":
            doc["spec"]["parametersRef"] = {
                "group": "gateway.envoyproxy.io",
                "kind": "EnvoyProxy",
                "name": "shared-proxy",
                "namespace": "envoy-gateway-system",
            }
    if parameters:
        docs.append(SHARED_PROXY)
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return path


def _run(tmp_path: Path, scenario: Path, *args: str) -> Any:
    with lab_for(scenario, tmp_path / "lab") as lab:
        return run_cli("check", "--kubeconfig", str(lab.kubeconfig_path), "-o", "json", *args)


# Only kinds some check reads are fetched at all, so those are the ones a denial can affect. Quiet kinds
# (the controller Deployment, read for the EG version) are said in the header instead: tested below.
RESOURCES = sorted({KINDS[i].plural for c in all_checks().values() for i in c.inputs if not KINDS[i].quiet})


@pytest.mark.parametrize("resource", RESOURCES)
def test_denying_any_one_kind_never_crashes_and_names_skipped_checks(tmp_path: Path, resource: str) -> None:
    # Secrets are read one by one by name (get), never listed; every other kind is listed
    verb = "get" if resource == "secrets" else "list"
    scenario = _variant(
        tmp_path, parameters=resource == "envoyproxies", denials=[{"verb": verb, "resource": resource}]
    )
    result = _run(tmp_path, scenario, "-n", "team-a")
    assert result.exit_code in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    readers = sorted(
        c.id for c in all_checks().values() if any(KINDS[i].plural == resource for i in c.inputs)
    )
    denied = [f for f in result.json["findings"] if f["code"] == "EGD002" and resource in f["message"]]
    assert denied, result.json["findings"]
    named = " ".join(f["message"] for f in denied)
    for check_id in readers:
        assert check_id in named, named
        assert check_id in result.json["skippedChecks"]
    # the rest of the report still ran
    assert result.json["summary"]["total"] == len(result.json["findings"])


def test_denial_in_one_namespace_is_named(tmp_path: Path) -> None:
    scenario = _variant(
        tmp_path, denials=[{"verb": "list", "resource": "services", "namespace": "envoy-gateway-system"}]
    )
    result = _run(tmp_path, scenario, "-n", "team-a")
    denied = [f for f in result.json["findings"] if f["code"] == "EGD002"]
    assert any("envoy-gateway-system" in f["message"] for f in denied), denied
    assert "EGD312" not in result.codes  # unreadable is not missing


def test_missing_envoy_gateway_crds_is_egd003(tmp_path: Path) -> None:
    scenario = _variant(tmp_path, absentGroups=["gateway.envoyproxy.io"])
    result = _run(tmp_path, scenario, "-n", "team-a")
    missing = [f for f in result.json["findings"] if f["code"] == "EGD003"]
    assert any("ClientTrafficPolicy" in f["message"] for f in missing), missing
    assert result.json["gateways"], "Gateway checks still ran"


def test_missing_optional_route_kinds_are_quiet(tmp_path: Path) -> None:
    scenario = _variant(
        tmp_path, absentKinds=["gateway.networking.k8s.io/TCPRoute", "gateway.networking.k8s.io/TLSRoute"]
    )
    result = _run(tmp_path, scenario, "-n", "team-a")
    assert result.exit_code == 0
    assert "EGD003" not in result.codes


def test_secrets_are_never_listed_only_the_referenced_ones_read(tmp_path: Path) -> None:
    """Even with -A, Secrets (private keys travel in every list) are never listed: each Secret a listener
    certificateRef names is read by name."""
    with lab_for(HEALTHY, tmp_path / "lab") as lab:
        result = run_cli("check", "--kubeconfig", str(lab.kubeconfig_path), "-A", "--no-probe", "-o", "json")
        secret_reads = [r["path"] for r in lab.requests if "/secrets" in r["path"]]
    assert result.exit_code == 0, result.stderr
    assert secret_reads and not [p for p in secret_reads if p.endswith("/secrets")]
    assert all(p.startswith("/api/v1/namespaces/gateway/secrets/") for p in secret_reads), secret_reads


def test_unreadable_client_traffic_policies_make_the_mode_unknown(tmp_path: Path) -> None:
    scenario = _variant(tmp_path, denials=[{"verb": "list", "resource": "clienttrafficpolicies"}])
    result = _run(tmp_path, scenario, "-n", "team-a", "--no-probe")
    assert result.json["gateways"][0]["mode"] == "unknown"
    assert "EGD301" not in result.codes and "EGD305" not in result.codes


def test_a_run_that_could_read_nothing_is_exit_3_not_a_pass(tmp_path: Path) -> None:
    scenario = _variant(tmp_path, denials=[{"verb": "*", "resource": "*"}])
    result = _run(tmp_path, scenario, "-n", "team-a", "--no-probe")
    assert result.exit_code == 3, result.stderr
    assert "could not run" in result.stderr
    assert "EGD002" in result.codes


def test_an_unreadable_controller_deployment_is_said_once_in_the_header(tmp_path: Path) -> None:
    """Tenants usually may not read envoy-gateway-system: the EG version is then unknown, said in the
    header, and no EGD002 is added for it."""
    scenario = _variant(
        tmp_path, denials=[{"verb": "*", "resource": "deployments", "namespace": "envoy-gateway-system"}]
    )
    result = _run(tmp_path, scenario, "-n", "team-a", "--no-probe")
    assert result.exit_code == 0, result.stderr
    assert "EGD002" not in result.codes
    assert result.json["envoyGateway"] == {
        "version": None,
        "image": None,
        "unknown": "not allowed to read Deployments in envoy-gateway-system",
    }


def test_envoyproxies_are_read_only_where_parameters_refs_point(tmp_path: Path) -> None:
    """A GatewayClass's parametersRef names the EnvoyProxy's namespace; egdoctor lists EnvoyProxies there
    and nowhere else, even with -A (no cluster-wide list of another team's objects)."""
    scenario = _variant(tmp_path, parameters=True)
    for args in (["-n", "team-a"], ["-A"]):
        with lab_for(scenario, tmp_path / f"lab{len(args)}{args[-1]}") as lab:
            result = run_cli(
                "check", "--kubeconfig", str(lab.kubeconfig_path), "--no-probe", "-o", "json", *args
            )
            reads = [r["path"] for r in lab.requests if r["path"].endswith("/envoyproxies")]
        assert result.exit_code == 0, result.stderr
        assert reads == [
            "/apis/gateway.envoyproxy.io/v1alpha1/namespaces/envoy-gateway-system/envoyproxies"
        ], reads
