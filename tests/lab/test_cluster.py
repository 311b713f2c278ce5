"""The whole lab (API stand-in + real HAProxy and Envoy) driven by the probe-* scenarios.

What is held here: the addresses the data path binds are what the official kubernetes client reads
from Gateway and Service status; raw exchanges to those addresses behave as each scenario's row says
(see the rows in the scenario files and tests/lab/test_datapath.py for why); the Envoy pod's log is
the real access log; the lab answers client-created HTTPRoutes as Envoy Gateway would, both in status
and on the wire; and ``scripts/lab up``/``down`` leave no process behind.

Probes leave from 127.0.0.77: Envoy treats exactly 127.0.0.1 as "itself" (lab-findings P1).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rcode
import pytest
from kubernetes import client, config

from egdoctor.probes import proxy_protocol as pp
from egdoctor.probes.transport import ExchangeResult, TlsOptions, exchange
from egdoctor_lab.cluster import LabCluster
from egdoctor_lab.datapath import missing_binaries
from egdoctor_lab.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
CLIENT = "127.0.0.77"
MARKER = "203.0.113.7"
FORGED = "198.51.100.9"
EG = "gateway.envoyproxy.io"
GW = "gateway.networking.k8s.io"
ENVOY_NS = "envoy-gateway-system"
SERVICE = "envoy-gateway-shared-b2034d54"


def _runnable() -> None:
    missing = missing_binaries()
    if missing:
        pytest.skip("the data-path lab needs " + "; ".join(missing))
    if os.geteuid() != 0:
        try:
            if int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text()) > 80:
                pytest.skip("the LB binds ports 80/443: needs root or ip_unprivileged_port_start<=80")
        except (OSError, ValueError):
            pytest.skip("cannot tell whether ports 80/443 may be bound")


def _cluster(scenario: str, tmp: Path) -> LabCluster:
    _runnable()
    return LabCluster.from_scenario(scenario, tmp)


def _lab(scenario: str, tmp: Path) -> Iterator[LabCluster]:
    with _cluster(scenario, tmp) as lab:
        yield lab


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabCluster]:
    yield from _lab("probe-direct-v2-strict", tmp_path_factory.mktemp("direct"))


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabCluster]:
    yield from _lab("probe-direct-lb-plain", tmp_path_factory.mktemp("plain"))


@pytest.fixture(scope="module")
def xff(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabCluster]:
    yield from _lab("probe-xff-edge1-hops1", tmp_path_factory.mktemp("xff"))


def kube(lab: LabCluster) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(lab.kubeconfig_path))


def probe(
    lab: LabCluster, *, via: str | None = None, port: int = 80, **kw: Any
) -> tuple[ExchangeResult, Any]:
    """One exchange to the Gateway (its entry point unless ``via``) and the access-log line it produced."""
    assert lab.datapath is not None
    gw = lab.gateway_addresses("gateway", "shared")
    mark = lab.datapath.access_log_mark(gw.key)
    result = exchange(via or gw.entry, port, source_address=CLIENT, timeout=kw.pop("timeout", 3.0), **kw)
    wait = 0.5 if result.outcome == "http" else 0.2
    return result, lab.datapath.wait_for_access_log(
        gw.key, after=mark, user_agent=result.user_agent, timeout=wait
    )


def remote(entry: Any) -> str:
    assert entry is not None, "expected an access-log line"
    return str(entry["downstream_remote_address"]).rsplit(":", 1)[0]


# ------------------------------------------------------------------------------------- addresses


@pytest.mark.parametrize("which", ["direct", "plain", "xff"])
def test_lab_addresses_land_in_status(which: str, request: pytest.FixtureRequest) -> None:
    lab: LabCluster = request.getfixturevalue(which)
    gw = lab.gateway_addresses("gateway", "shared")
    api = kube(lab)
    gateway = client.CustomObjectsApi(api).get_namespaced_custom_object(
        GW, "v1", "gateway", "gateways", "shared"
    )
    assert gateway["status"]["addresses"] == [{"type": "IPAddress", "value": gw.lb}]
    service = client.CoreV1Api(api).read_namespaced_service(SERVICE, ENVOY_NS)
    assert [i.ip for i in service.status.load_balancer.ingress] == [gw.lb]
    assert gw.lb.startswith(f"127.{lab.address_octet}.")
    selector = (
        "app.kubernetes.io/name=envoy,app.kubernetes.io/component=proxy,app.kubernetes.io/managed-by=envoy-gateway,"
        "gateway.envoyproxy.io/owning-gateway-name=shared,gateway.envoyproxy.io/owning-gateway-namespace=gateway"
    )
    pods = client.CoreV1Api(api).list_namespaced_pod(ENVOY_NS, label_selector=selector).items
    assert [(p.status.phase, p.status.pod_ip) for p in pods] == [("Running", gw.envoy)]
    assert [c.name for c in pods[0].spec.containers] == ["envoy", "shutdown-manager"]
    info = lab.info()
    assert info["gateways"]["gateway/shared"]["lb"] == gw.lb
    assert info["dns"] == "{}:{}".format(*lab.dns_address or ("", ""))
    assert info["caFile"] and Path(info["caFile"]).read_bytes() == lab.lab_ca_pem


# ------------------------------------------------------------------------------------- matrix rows


def test_row_a_lb_v2_ctp_strict_sees_client_and_logs_it(direct: LabCluster) -> None:
    result, entry = probe(direct, path="/row-a")
    assert result.status == 200, result
    assert remote(entry) == CLIENT
    forged, _ = probe(direct, prefix=pp.encode_v2(MARKER, CLIENT, 40000, 80))
    assert forged.status == 400, "a second PROXY header reaches the HTTP codec"
    pod_ns, pod = direct.envoy_pod("gateway", "shared")
    text = client.CoreV1Api(kube(direct)).read_namespaced_pod_log(pod, pod_ns, container="envoy")
    lines = [json.loads(line) for line in text.splitlines()]
    mine = [e for e in lines if e["user-agent"] == result.user_agent]
    assert len(mine) == 1 and mine[0]["x-envoy-origin-path"] == "/row-a"
    assert mine[0]["downstream_remote_address"].startswith(CLIENT + ":")


def test_row_b_lb_plain_ctp_strict_is_empty_and_spoofable(plain: LabCluster) -> None:
    result, _ = probe(plain)
    assert result.outcome == "empty", result
    forged, entry = probe(plain, prefix=pp.encode_v2(MARKER, CLIENT, 40000, 80))
    assert forged.status == 200
    assert remote(entry) == MARKER


def test_row_f_xff_through_the_edge_and_ranges_close_the_lb(xff: LabCluster) -> None:
    gw = xff.gateway_addresses("gateway", "shared")
    assert gw.entry == gw.edges[0] != gw.lb
    result, entry = probe(xff)
    assert result.status == 200
    assert remote(entry) == CLIENT
    bypass, entry = probe(xff, via=gw.lb, headers=[("X-Forwarded-For", FORGED)], timeout=2)
    assert bypass.outcome in ("reset", "empty"), bypass
    assert entry is None


def test_row_j_blackholed_lb_accepts_and_never_answers(tmp_path: Path) -> None:
    with _cluster("probe-lb-blackhole", tmp_path) as lab:
        started = time.monotonic()
        result, entry = probe(lab, timeout=1.0)
        assert result.outcome == "timeout" and result.phase == "receive", result
        assert result.connect_s is not None and time.monotonic() - started < 2
        assert entry is None


def test_dns_faults(tmp_path: Path) -> None:
    def ask(lab: LabCluster, name: str) -> dns.message.Message:
        assert lab.dns_address is not None
        host, port = lab.dns_address
        return dns.query.udp(dns.message.make_query(name, "A"), host, port=port, timeout=2)

    with _cluster("probe-dns-elsewhere", tmp_path / "elsewhere") as lab:
        answer = ask(lab, "team-a.example.com")
        assert [r.to_text() for rr in answer.answer for r in rr] == ["127.0.0.99"]
        right = ask(lab, "team-b.example.com")
        assert [r.to_text() for rr in right.answer for r in rr] == [
            lab.gateway_addresses("gateway", "shared").lb
        ]
    with _cluster("probe-dns-nxdomain", tmp_path / "nxdomain") as lab:
        assert ask(lab, "team-a.example.com").rcode() == dns.rcode.NXDOMAIN


def test_served_certificate_differs_from_the_secret(tmp_path: Path) -> None:
    with _cluster("probe-tls-served-cert-mismatch", tmp_path) as lab:
        assert lab.lab_ca_path is not None
        ca = str(lab.lab_ca_path)
        lb = lab.gateway_addresses("gateway", "shared").lb
        wrong = exchange(lb, 443, tls=TlsOptions("team-a.example.com", ca), source_address=CLIENT, timeout=3)
        assert wrong.outcome == "tls_error", wrong
        right = exchange(lb, 443, tls=TlsOptions("team-b.example.com", ca), source_address=CLIENT, timeout=3)
        assert right.status == 200, right


# ------------------------------------------------------------------------------------- the controller


def _filter(name: str, body: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{EG}/v1alpha1",
        "kind": "HTTPRouteFilter",
        "metadata": {"name": name},
        "spec": {
            "directResponse": {
                "statusCode": 200,
                "contentType": "application/json",
                "body": {"type": "Inline", "inline": body},
            }
        },
    }


def _route(name: str, path: str, filter_name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GW}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name},
        "spec": {
            "parentRefs": [{"name": "shared", "namespace": "gateway", "sectionName": "http"}],
            "hostnames": ["team-a.example.com"],
            "rules": [
                {
                    "matches": [{"path": {"type": "Exact", "value": path}}],
                    "filters": [
                        {
                            "type": "ResponseHeaderModifier",
                            "responseHeaderModifier": {
                                "set": [
                                    {
                                        "name": "x-egdoctor-client",
                                        "value": "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%",
                                    }
                                ]
                            },
                        },
                        {
                            "type": "ExtensionRef",
                            "extensionRef": {"group": EG, "kind": "HTTPRouteFilter", "name": filter_name},
                        },
                    ],
                }
            ],
        },
    }


def _conditions(route: dict[str, Any]) -> dict[str, tuple[str, str]]:
    [parent] = route["status"]["parents"]
    assert parent["controllerName"] == "gateway.envoyproxy.io/gatewayclass-controller"
    return {c["type"]: (c["status"], c["reason"]) for c in parent["conditions"]}


def _attached(api: client.CustomObjectsApi) -> int:
    gateway = api.get_namespaced_custom_object(GW, "v1", "gateway", "gateways", "shared")
    return next(int(lst["attachedRoutes"]) for lst in gateway["status"]["listeners"] if lst["name"] == "http")


def test_created_route_with_direct_response_reports_the_client(direct: LabCluster) -> None:
    api = client.CustomObjectsApi(kube(direct))
    path = "/.well-known/egdoctor/client"
    before = _attached(api)
    body = '{"client":"%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"}'
    api.create_namespaced_custom_object(
        EG, "v1alpha1", "team-a", "httproutefilters", _filter("egd-echo", body)
    )
    api.create_namespaced_custom_object(
        GW, "v1", "team-a", "httproutes", _route("egd-probe", path, "egd-echo")
    )
    try:
        route = api.get_namespaced_custom_object(GW, "v1", "team-a", "httproutes", "egd-probe")
        assert _conditions(route) == {
            "Accepted": ("True", "Accepted"),
            "ResolvedRefs": ("True", "ResolvedRefs"),
        }
        assert _attached(api) == before + 1
        result, entry = probe(direct, path=path, host_header="team-a.example.com")
        assert result.status == 200 and result.json() == {"client": CLIENT}
        assert result.header("x-egdoctor-client") == CLIENT
        assert result.header("content-type") == "application/json"
        assert entry is not None and entry["route_name"] == "httproute/team-a/egd-probe/rule/0/match/0"
        other_host, _ = probe(direct, path=path, host_header="team-b.example.com")
        assert other_host.json()["path"] == path, "the route is limited to its hostname"
    finally:
        api.delete_namespaced_custom_object(GW, "v1", "team-a", "httproutes", "egd-probe")
        api.delete_namespaced_custom_object(EG, "v1alpha1", "team-a", "httproutefilters", "egd-echo")
    gone, _ = probe(direct, path=path, host_header="team-a.example.com")
    assert gone.json()["path"] == path, "after the delete the echo backend answers again"
    assert _attached(api) == before


def test_route_to_a_missing_filter_is_unresolved_and_answers_500(direct: LabCluster) -> None:
    api = client.CustomObjectsApi(kube(direct))
    path = "/.well-known/egdoctor/missing"
    api.create_namespaced_custom_object(GW, "v1", "team-a", "httproutes", _route("egd-missing", path, "nope"))
    try:
        route = api.get_namespaced_custom_object(GW, "v1", "team-a", "httproutes", "egd-missing")
        assert _conditions(route) == {
            "Accepted": ("True", "Accepted"),
            "ResolvedRefs": ("False", "UnsupportedValue"),
        }
        messages = [c["message"] for c in route["status"]["parents"][0]["conditions"]]
        assert "Unable to translate HTTPRouteFilter: team-a/nope." in messages
        result, _ = probe(direct, path=path, host_header="team-a.example.com")
        assert result.status == 500
    finally:
        api.delete_namespaced_custom_object(GW, "v1", "team-a", "httproutes", "egd-missing")


# ------------------------------------------------------------------------------------- pod logs


def test_pod_log_options(direct: LabCluster) -> None:
    core = client.CoreV1Api(kube(direct))
    for n in range(3):
        probe(direct, path=f"/log-{n}")
    pod_ns, pod = direct.envoy_pod("gateway", "shared")
    last = core.read_namespaced_pod_log(pod, pod_ns, container="envoy", tail_lines=1)
    assert last.count("\n") == 1 and json.loads(last)["x-envoy-origin-path"] == "/log-2"
    assert len(core.read_namespaced_pod_log(pod, pod_ns, container="envoy", limit_bytes=10)) == 10
    assert core.read_namespaced_pod_log(pod, pod_ns, container="envoy", since_seconds=60).count("\n") >= 3
    assert core.read_namespaced_pod_log(pod, pod_ns, container="shutdown-manager") == ""
    for kwargs, message in (
        ({}, "a container name must be specified"),
        ({"container": "sidecar"}, "container sidecar is not valid"),
    ):
        with pytest.raises(client.ApiException) as err:
            core.read_namespaced_pod_log(pod, pod_ns, **kwargs)
        assert err.value.status == 400 and message in json.loads(err.value.body)["message"]


def test_pod_log_denial_is_403(tmp_path: Path) -> None:
    scenario = load_scenario("probe-direct-v2-strict")
    scenario.settings = {**scenario.settings, "denials": [{"verb": "get", "resource": "pods/log"}]}
    del scenario.settings["datapath"]  # the authorizer answers before any log is read
    with LabCluster(scenario, tmp_path) as lab:
        core = client.CoreV1Api(kube(lab))
        assert core.list_namespaced_pod(ENVOY_NS).items == []
        with pytest.raises(client.ApiException) as err:
            core.read_namespaced_pod_log("envoy-x", ENVOY_NS, container="envoy")
    status = json.loads(err.value.body)
    assert (err.value.status, status["reason"]) == (403, "Forbidden")
    assert (
        'cannot get resource "pods/log" in API group "" in the namespace "envoy-gateway-system"'
        in (status["message"])
    )


# ------------------------------------------------------------------------------------- scripts/lab


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def test_scripts_lab_up_and_down_leave_nothing_behind(tmp_path: Path) -> None:
    _runnable()
    state = tmp_path / "state"
    lab = [str(ROOT / "scripts" / "lab")]
    pids: list[int] = []
    up = subprocess.run(
        [*lab, "up", "probe-direct-lb-plain", "--json", "--state-dir", str(state)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    try:
        assert up.returncode == 0, up.stderr
        info = json.loads(up.stdout)
        gateway = info["gateways"]["gateway/shared"]
        assert info["dns"] and Path(info["caFile"]).is_file()
        children = json.loads((state / "datapath" / "pids.json").read_text())
        assert set(children) == {"envoy", "haproxy"}
        pids += [info["pid"], *children.values()]
        assert all(_alive(p) for p in pids)
        result = exchange(gateway["lb"], 80, source_address=CLIENT, timeout=3)
        assert result.outcome == "empty", "row (b) through the lab that scripts/lab started"
    finally:
        down = subprocess.run(
            [*lab, "down", "--state-dir", str(state)], capture_output=True, text=True, timeout=30
        )
    assert down.returncode == 0, down.stderr
    assert not [p for p in pids if _alive(p)]
