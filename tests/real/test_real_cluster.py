"""egdoctor against a real kube-apiserver with Envoy Gateway's controller reconciling (the demo scenario).

Upstream behaviour relied on: EG writes ``Programmed`` with "Address assigned to the Gateway, N/M envoy
replicas available" from the Envoy Deployment's availableReplicas (EG v1.9.1
``internal/gatewayapi/status/gateway.go``); EG names the Envoy Deployment and Service
``envoy-<gateway ns>-<gateway name>-<hash>``
(``internal/infrastructure/kubernetes/proxy/resource_provider.go``); the API server proxies ``pods/log``
to the Node's kubelet endpoint (k8s.io/kubernetes v1.36.3 ``pkg/kubelet/client/kubelet_client.go``).
"""

from __future__ import annotations

import http.client
import json
import time

import pytest

from egdoctor_lab.scenario import load_scenario
from tests.conftest import SCENARIOS
from tests.real.conftest import RealLab

# One machine runs one real cluster at a time: keep the tier on one test worker (scripts/test runs
# pytest with --dist loadgroup), so a module's cluster serves all its tests in order.
pytestmark = pytest.mark.xdist_group("real-cluster")


def _demo_expectation() -> dict:
    return load_scenario(SCENARIOS / "demo.yaml").settings["expect"][0]


def test_the_api_server_is_a_real_kube_apiserver(real_lab: RealLab) -> None:
    out = real_lab.kubectl("version", "-o", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["serverVersion"]["gitVersion"] == "v1.36.3"
    assert real_lab.info["versions"]["kube-apiserver"] == "v1.36.3"
    assert real_lab.info["versions"]["envoy-gateway"] == "v1.9.1"


def test_eg_created_the_envoy_deployment_and_wrote_statuses(real_lab: RealLab) -> None:
    deployments = json.loads(
        real_lab.kubectl("get", "deploy", "-n", "envoy-gateway-system", "-o", "json").stdout
    )
    names = [d["metadata"]["name"] for d in deployments["items"]]
    assert any(n.startswith("envoy-gateway-shared-") for n in names), names
    gateways = json.loads(real_lab.kubectl("get", "gateway", "-A", "-o", "json").stdout)["items"]
    conditions = {c["type"]: c for c in gateways[0]["status"]["conditions"]}
    assert conditions["Programmed"]["status"] == "True"
    assert "envoy replicas available" in conditions["Programmed"]["message"]
    assert gateways[0]["status"]["addresses"][0]["value"].startswith("127.")
    # the scenario's hand-written status (203.0.113.20) is not what the cluster holds
    assert gateways[0]["status"]["addresses"][0]["value"] != "203.0.113.20"


def test_the_load_balancer_service_carries_the_platform_s_octavia_annotation(real_lab: RealLab) -> None:
    services = json.loads(real_lab.kubectl("get", "svc", "-n", "envoy-gateway-system", "-o", "json").stdout)
    lb = [s for s in services["items"] if s["spec"]["type"] == "LoadBalancer"]
    assert lb, "EG created no LoadBalancer Service"
    assert lb[0]["metadata"]["annotations"]["loadbalancer.openstack.org/proxy-protocol"] == "v2"
    assert lb[0]["status"]["loadBalancer"]["ingress"][0]["ipMode"] == "Proxy"


def test_demo_gives_the_stand_in_s_findings(real_lab: RealLab) -> None:
    expect = _demo_expectation()
    result = real_lab.check(*expect["args"])
    assert result.exit_code == expect["exit"], result.stderr
    codes = set(result.codes)
    assert set(expect["codes"]) <= codes, result.json["findings"]
    assert not codes & set(expect["absent"]), result.json["findings"]
    assert codes == set(expect["codes"]), "the real cluster shows findings the stand-in demo does not"
    assert result.json["probeObserver"] == "access log"
    verified = [f for f in result.json["findings"] if f["code"] == "EGD607"]
    assert verified and verified[0]["evidence"]["observed"] == "127.0.0.1"


def test_container_logs_come_through_the_api_server(real_lab: RealLab) -> None:
    """A request through the load balancer shows up in ``kubectl logs`` of the Envoy container: Envoy's
    access log (stdout, flushed every 10 s by default) served by the node, proxied by the API server."""
    lb = next(iter(real_lab.info["loadBalancers"].values()))["lb"]
    connection = http.client.HTTPConnection(lb, 80, timeout=5)
    connection.request("GET", "/logs-through-the-api", headers={"Host": "team-a.example.com"})
    assert connection.getresponse().status == 200
    pods = json.loads(real_lab.kubectl("get", "pods", "-n", "envoy-gateway-system", "-o", "json").stdout)[
        "items"
    ]
    envoy = next(p for p in pods if p["metadata"]["name"].startswith("envoy-gateway-shared-"))
    deadline = time.monotonic() + 20
    while True:
        out = real_lab.kubectl("logs", "-n", "envoy-gateway-system", envoy["metadata"]["name"], "-c", "envoy")
        assert out.returncode == 0, out.stderr
        if "/logs-through-the-api" in out.stdout or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert "/logs-through-the-api" in out.stdout, out.stdout[-2000:]


def test_route_observer_end_to_end(real_lab: RealLab) -> None:
    started = time.monotonic()
    result = real_lab.check("-n", "team-a", "--observe", "route")
    elapsed = time.monotonic() - started
    assert result.json["probeObserver"].startswith("route team-a/"), result.json["probeObserver"]
    assert "EGD607" in result.codes, result.json["findings"]
    routes = json.loads(real_lab.kubectl("get", "httproute", "-n", "team-a", "-o", "json").stdout)["items"]
    assert sorted(r["metadata"]["name"] for r in routes) == ["api", "web"], "the probe route was not deleted"
    assert elapsed < 60


def test_support_identities_see_what_admin_sees(real_lab: RealLab) -> None:
    for who in ("support", "support-token"):
        result = real_lab.check("-n", "team-a", who=who)
        assert set(result.codes) == {"EGD204", "EGD607"}, (who, result.json["findings"])


def test_tenant_run_degrades_under_real_rbac(real_lab: RealLab) -> None:
    result = real_lab.check("-n", "team-a", who="tenant")
    assert "Traceback" not in result.stderr
    assert "EGD204" in result.codes  # its own route is still diagnosed
    denied = [f["message"] for f in result.json["findings"] if f["code"] == "EGD002"]
    assert any("gateways in namespace gateway" in m and "skipped checks" in m for m in denied), denied
    assert any("clienttrafficpolicies" in m for m in denied), denied


def test_the_real_authorizer_denies_the_tenant_outside_its_namespace(real_lab: RealLab) -> None:
    out = real_lab.kubectl("get", "gateways", "-n", "gateway", who="tenant")
    assert out.returncode != 0
    assert 'User "tenant" cannot list resource "gateways"' in out.stderr
    assert real_lab.kubectl("get", "httproutes", "-n", "team-a", who="tenant").returncode == 0


def test_wait_turns_green_while_eg_rolls_a_new_gateway_out(real_lab: RealLab) -> None:
    """`check --wait` straight after `kubectl apply` of a new Gateway (with the ClientTrafficPolicy its
    class's PROXY-protocol load balancer needs): the first rounds see it not yet Programmed, EG deploys
    Envoy and the cloud controller gives the Service an address, and the run ends green."""
    gateway = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "rollout", "namespace": "rollout"},
        "spec": {"gatewayClassName": "eg", "listeners": [{"name": "http", "port": 8089, "protocol": "HTTP"}]},
    }
    policy = {
        "apiVersion": "gateway.envoyproxy.io/v1alpha1",
        "kind": "ClientTrafficPolicy",
        "metadata": {"name": "client-ip", "namespace": "rollout"},
        "spec": {
            "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "rollout"}],
            "proxyProtocol": {},
        },
    }
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "rollout"}}
    manifest = {"apiVersion": "v1", "kind": "List", "items": [namespace, gateway, policy]}
    applied = real_lab.kubectl("apply", "-f", "-", input_text=json.dumps(manifest))
    assert applied.returncode == 0, applied.stderr
    try:
        started = time.monotonic()
        result = real_lab.check("-n", "rollout", "--no-probe", "--wait", "90s")
        took = time.monotonic() - started
        rounds = [line for line in result.stderr.splitlines() if line.startswith("egdoctor: --wait:")]
        print(f"--wait on a new Gateway: green after {took:.1f} s, {len(rounds)} rounds")
        assert result.exit_code == 0, result.stderr
        assert any("checking again" in line for line in rounds), result.stderr
        assert "nothing at or above --fail-on remains" in rounds[-1]
        assert result.json["gateways"][0]["programmed"] is True
    finally:
        real_lab.kubectl("delete", "namespace", "rollout", "--wait=false")


def test_zz_a_missing_crd_is_reported(real_lab: RealLab) -> None:
    """Last in the module: it removes cert-manager's CRDs from the running cluster."""
    crds = json.loads(real_lab.kubectl("get", "crd", "-o", "json").stdout)["items"]
    for crd in crds:
        if crd["spec"]["group"].endswith("cert-manager.io"):
            assert real_lab.kubectl("delete", "crd", crd["metadata"]["name"], "--wait=true").returncode == 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if "cert-manager.io" not in real_lab.kubectl("api-versions").stdout:
            break
        time.sleep(0.5)
    result = real_lab.check("-n", "team-a", "--no-probe")
    assert "EGD406" in result.codes, result.json["findings"]
    message = next(f["message"] for f in result.json["findings"] if f["code"] == "EGD406")
    assert "cert-manager.io/v1 is not served" in message


def _condition(gateway: dict, kind: str) -> str | None:
    for c in (gateway.get("status") or {}).get("conditions") or []:
        if c["type"] == kind:
            return str(c["status"])
    return None


def test_a_gateway_created_mid_run_becomes_programmed(real_lab: RealLab) -> None:
    """The API server defaults a new Gateway's conditions to Unknown/Pending ("Waiting for controller",
    the CRD's defaults in sigs.k8s.io/gateway-api v1.6.1); EG accepts it, creates its Deployment and
    Service, and marks it Programmed once Envoy is ready and the load balancer has an address."""
    manifest = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "later", "namespace": "gateway"},
        "spec": {
            "gatewayClassName": "eg",
            "listeners": [{"name": "http", "port": 8088, "protocol": "HTTP"}],
        },
    }
    created = time.monotonic()
    applied = real_lab.kubectl("create", "-o", "json", "-f", "-", input_text=json.dumps(manifest))
    assert applied.returncode == 0, applied.stderr
    first = json.loads(applied.stdout)
    assert _condition(first, "Programmed") == "Unknown"
    early = real_lab.check("-n", "gateway", "--no-probe")
    seen: dict[str, float] = {}
    while time.monotonic() - created < 60 and "Programmed" not in seen:
        gw = json.loads(real_lab.kubectl("get", "gateway", "-n", "gateway", "later", "-o", "json").stdout)
        for kind in ("Accepted", "Programmed"):
            if kind not in seen and _condition(gw, kind) == "True":
                seen[kind] = round(time.monotonic() - created, 2)
        time.sleep(0.2)
    print(f"Gateway created -> Accepted {seen.get('Accepted')} s, -> Programmed {seen.get('Programmed')} s")
    assert "Programmed" in seen, gw.get("status")
    late = real_lab.check("-n", "gateway", "--no-probe")
    later_findings = [f["code"] for f in late.json["findings"] if f["object"].get("name") == "later"]
    early_findings = [f["code"] for f in early.json["findings"] if f["object"].get("name") == "later"]
    print(f"egdoctor on the new Gateway: at creation {early_findings}, once Programmed {later_findings}")
    assert early_findings != later_findings or not early_findings
    assert real_lab.kubectl("delete", "gateway", "-n", "gateway", "later").returncode == 0
