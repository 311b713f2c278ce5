"""The probe phase end to end: the installed CLI against the lab (API stand-in + real HAProxy and Envoy).

What the client IP should be in each row, and why, is documented in the probe scenarios
(egdoctor_lab/scenarios/probe-*.yaml) whose `spec.expect` the scenario runner holds the CLI to; these tests
cover what the runner cannot express: the temporary route's life cycle (success, failure, forbidden,
Ctrl-C, SIGTERM), observer fallbacks, the allow-list, bounds on time, and the report's shape.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from egdoctor_lab.datapath import missing_binaries
from tests.conftest import SCENARIOS, egdoctor_command, lab_for, probe_args, run_cli
from tests.probes.gateway_probe import probe_at

pytestmark = pytest.mark.skipif(bool(missing_binaries()), reason="the data-path lab needs envoy and haproxy")

HEALTHY = SCENARIOS / "probe-direct-v2-strict.yaml"
BLACKHOLE = SCENARIOS / "probe-lb-blackhole.yaml"
XFF = SCENARIOS / "probe-xff-edge1-hops1.yaml"
LB_PLAIN = SCENARIOS / "probe-direct-lb-plain.yaml"
MANAGED = "app.kubernetes.io/managed-by"


def _variant(
    tmp_path: Path, source: Path, edit: Any = None, extra: list[dict[str, Any]] | None = None, **settings: Any
) -> Path:
    """A copy of a scenario with its settings changed, objects edited, or objects added."""
    docs = [d for d in yaml.safe_load_all(source.read_text()) if d]
    for doc in docs:
        if doc.get("kind") == "LabScenario":
            doc["spec"].update(settings)
            doc["spec"].pop("expect", None)
        elif edit is not None:
            edit(doc)
    docs += extra or []
    path = tmp_path / f"variant-{source.name}"
    path.write_text(yaml.safe_dump_all(docs))
    return path


def _leftovers(lab: Any) -> list[str]:
    return [
        f"{o.get('kind')} {o['metadata'].get('namespace')}/{o['metadata'].get('name')}"
        for o in lab.store.objects()
        if (o.get("metadata", {}).get("labels") or {}).get(MANAGED) == "egdoctor"
    ]


def _check(lab: Any, *args: str, env: dict[str, str] | None = None) -> Any:
    return run_cli(
        "check", "--kubeconfig", str(lab.kubeconfig_path), "-o", "json", *probe_args(lab), *args, env=env
    )


def _writes(lab: Any) -> list[tuple[str, str]]:
    return [
        (r["method"], r.get("resource", "")) for r in lab.api.requests if r["method"] in ("POST", "DELETE")
    ]


def test_route_observer_creates_then_deletes_its_objects(tmp_path: Path) -> None:
    with lab_for(HEALTHY, tmp_path) as lab:
        result = _check(lab, "-n", "team-a", "--observe", "route")
        assert _leftovers(lab) == []
        writes = _writes(lab)
    assert result.exit_code == 0, result.stdout
    assert result.json["probeObserver"].startswith("route team-a/egdoctor-probe-")
    assert ("POST", "httproutefilters") in writes and ("POST", "httproutes") in writes
    # the route goes first, so Envoy never routes to a filter that is already gone
    assert writes.index(("DELETE", "httproutes")) < writes.index(("DELETE", "httproutefilters"))


def test_route_not_accepted_is_cleaned_up_and_falls_back(tmp_path: Path) -> None:
    def unlabel(doc: dict[str, Any]) -> None:
        if doc.get("kind") == "Namespace" and doc["metadata"]["name"] == "team-a":
            doc["metadata"]["labels"].pop("shared-gateway-access", None)

    scenario = _variant(tmp_path, HEALTHY, edit=unlabel)
    with lab_for(scenario, tmp_path / "lab") as lab:
        result = _check(lab, "-n", "team-a", "--observe", "route")
        assert _leftovers(lab) == []
    notes = " ".join(result.json["probeNotes"])
    assert "not accepted by Gateway gateway/shared" in notes, notes
    assert "EGD608" in result.codes  # judged by connection behaviour only, and says so


def test_route_forbidden_is_a_note_not_a_failure(tmp_path: Path) -> None:
    scenario = _variant(tmp_path, HEALTHY, denials=[{"verb": "create", "resource": "httproutefilters"}])
    with lab_for(scenario, tmp_path / "lab") as lab:
        result = _check(lab, "-n", "team-a", "--observe", "route")
        assert _leftovers(lab) == []
    assert "Traceback" not in result.stderr
    notes = " ".join(result.json["probeNotes"])
    assert "cannot create HTTPRouteFilter" in notes and "403 forbidden" in notes, notes
    assert "EGD608" in result.codes


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_mid_probe_deletes_the_route(tmp_path: Path, sig: signal.Signals) -> None:
    """The black-holed LB keeps every probe waiting for its full timeout, so the signal lands mid-probe."""
    with lab_for(BLACKHOLE, tmp_path) as lab:
        env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "NO_COLOR")}
        env.update(HOME="/nonexistent-home", EGDOCTOR_PROBE_ALLOW="127.0.0.0/8")
        cmd = [
            *egdoctor_command(),
            "check",
            "--kubeconfig",
            str(lab.kubeconfig_path),
            *probe_args(lab),
            "-n",
            "team-a",
            "--observe",
            "route",
            "--probe-timeout",
            "8s",
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            deadline = time.monotonic() + 30
            while not any("HTTPRoute " in o for o in _leftovers(lab)):
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the route never appeared"
                time.sleep(0.05)
            time.sleep(0.5)  # the route is Accepted at once; the probes are now waiting on the black hole
            assert proc.poll() is None
            sent = time.monotonic()
            proc.send_signal(sig)
            _, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert _leftovers(lab) == []
    assert proc.returncode == 130, stderr
    assert stderr.splitlines() == ["egdoctor: interrupted"], stderr
    # the probes in flight are abandoned; deleting the route takes a few API calls
    assert time.monotonic() - sent < 2


def test_unreadable_logs_fall_back_to_connection_behaviour(tmp_path: Path) -> None:
    scenario = _variant(tmp_path, HEALTHY, denials=[{"verb": "get", "resource": "pods/log"}])
    with lab_for(scenario, tmp_path / "lab") as lab:
        result = _check(lab, "-n", "team-a")
    report = result.json
    assert report["probeObserver"] == "none"
    assert any("access log not readable" in n and "forbidden" in n for n in report["probeNotes"])
    egd608 = [f for f in report["findings"] if f["code"] == "EGD608"]
    assert egd608 and "a client cannot forge its IP with a PROXY header" in egd608[0]["message"]
    assert "--observe route" in egd608[0]["hint"]
    assert result.exit_code == 0


def test_explicit_logs_observer_says_why_it_is_not_used(tmp_path: Path) -> None:
    scenario = _variant(tmp_path, HEALTHY, denials=[{"verb": "list", "resource": "pods"}])
    with lab_for(scenario, tmp_path / "lab") as lab:
        result = _check(lab, "-n", "team-a", "--observe", "logs")
    assert any(n.startswith("--observe logs:") for n in result.json["probeNotes"])


def test_older_envoy_gateway_is_observed_through_response_headers(tmp_path: Path) -> None:
    """The release is read where the report header reads it: the controller Deployment in
    envoy-gateway-system, labelled as the Helm chart does (charts/gateway-helm/templates/
    envoy-gateway-deployment.yaml). A Pod with that label elsewhere, which any tenant can create, is not
    asked."""
    labels = {"control-plane": "envoy-gateway"}
    pod_spec = {"containers": [{"name": "envoy-gateway", "image": "docker.io/envoyproxy/gateway:v1.5.2"}]}
    controller = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "envoy-gateway", "namespace": "envoy-gateway-system", "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }
    decoy = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "envoy-gateway-decoy", "namespace": "team-a", "labels": labels},
        "spec": {"containers": [{"name": "envoy-gateway", "image": "docker.io/envoyproxy/gateway:v1.2.0"}]},
        "status": {"phase": "Running"},
    }
    scenario = _variant(tmp_path, HEALTHY, extra=[controller, decoy])
    with lab_for(scenario, tmp_path / "lab") as lab:
        result = _check(lab, "-n", "team-a", "--observe", "route")
        assert _leftovers(lab) == []
    assert any("Envoy Gateway 1.5" in n and "response headers" in n for n in result.json["probeNotes"])
    assert result.json["probeGateways"][0]["observedClientIP"] == "127.0.0.1"
    assert "EGD607" in result.codes


@pytest.mark.parametrize(("scenario", "via"), [(HEALTHY, "to "), (XFF, "through edge proxy")])
def test_echo_observer(tmp_path: Path, scenario: Path, via: str) -> None:
    """The lab's backend echoes request headers as JSON; every path not taken by a route reaches it."""
    with lab_for(scenario, tmp_path) as lab:
        result = _check(lab, "-n", "team-a", "--observe", "echo:/echo")
    egd607 = [f for f in result.json["findings"] if f["code"] == "EGD607"]
    assert egd607, result.stdout
    assert via in egd607[0]["message"] and "observed client IP 127.0.0.1" in egd607[0]["message"]


def test_allow_list_keeps_every_probe_away(tmp_path: Path) -> None:
    with lab_for(HEALTHY, tmp_path) as lab:
        before = len(lab.datapath.access_log("gateway/shared"))
        result = _check(lab, "-n", "team-a", env={"EGDOCTOR_PROBE_ALLOW": "10.0.0.0/8"})
        time.sleep(0.1)
        after = len(lab.datapath.access_log("gateway/shared"))
    report = result.json
    assert report["probes"] == [] and after == before
    assert any(
        "outside the probe allow-list 10.0.0.0/8 (EGDOCTOR_PROBE_ALLOW)" in n for n in report["probeNotes"]
    )
    assert not [c for c in result.codes if c.startswith(("EGD5", "EGD6"))]


def test_probe_allow_option_wins_over_the_environment(tmp_path: Path) -> None:
    with lab_for(HEALTHY, tmp_path) as lab:
        result = _check(lab, "-n", "team-a", "--probe-allow", "10.0.0.0/8")
    assert any("(--probe-allow)" in n for n in result.json["probeNotes"])


def test_json_shape(tmp_path: Path) -> None:
    with lab_for(HEALTHY, tmp_path) as lab:
        result = _check(lab, "-n", "team-a")
        lb = lab.gateway_addresses("gateway", "shared").lb
    report = result.json
    assert report["gateways"][0]["observedClientIP"] == "127.0.0.1"
    rows = report["probes"]
    # typed rows: every kind carries what was sent, received and proven; requests add where and how
    common = {"kind", "gateway", "listener", "sent", "received", "proves", "verdict", "elapsedSeconds"}
    request = common | {"address", "port", "probe", "outcome", "status", "observedClientIP"}
    shapes = {"dns": common, "cert": common | {"address", "port"}, "http": request, "tls": request}
    assert all(set(r) == shapes[r["kind"]] for r in rows), rows
    assert {r["kind"] for r in rows} == {"dns", "http", "tls", "cert"}
    plain = next(r for r in rows if r.get("probe") == "plain" and r["port"] == 80)
    assert plain == {
        **plain,
        "kind": "http",
        "gateway": "gateway/shared",
        "address": lb,
        "listener": "http",
        "outcome": "http",
        "status": 200,
        "observedClientIP": "127.0.0.1",
    }
    assert next(r for r in rows if r.get("probe") == "plain" and r["port"] == 443)["kind"] == "tls"
    forged = next(r for r in rows if r.get("probe") == "forged-proxy" and r["port"] == 80)
    assert forged["status"] == 400 and "cannot forge" in forged["proves"]
    assert report["probeGateways"][0]["verified"] is True


def test_terminal_report(tmp_path: Path) -> None:
    with lab_for(HEALTHY, tmp_path) as lab:
        result = run_cli(
            "check",
            "--kubeconfig",
            str(lab.kubeconfig_path),
            *probe_args(lab),
            "-n",
            "team-a",
            env={"NO_COLOR": "1"},
        )
        lb = lab.gateway_addresses("gateway", "shared").lb
    out = result.stdout
    assert f"Probe {lb}:80" in out
    assert "forged PROXY v2 (src 203.0.113.180) + GET" in out and "-> 400 Bad Request" in out
    # the client-IP verdict, one mark on one line (the terminal may be as narrow as 80 columns)
    assert "✓ Client IP: Envoy observed 127.0.0.1  (this machine: 127.0.0.1)" in out
    assert out.splitlines()[0] == "✓ no problems: client IP verified"


def test_probe_command_reports_only_what_traffic_showed(tmp_path: Path) -> None:
    with lab_for(LB_PLAIN, tmp_path) as lab:
        result = run_cli(
            "probe", "--kubeconfig", str(lab.kubeconfig_path), "-o", "json", *probe_args(lab), "-n", "team-a"
        )
    codes = set(result.codes)
    assert {"EGD603", "EGD604"} <= codes
    assert "EGD304" not in codes  # a static finding: `check` reports it, `probe` does not
    assert result.exit_code == 1


def test_no_probe_sends_nothing(tmp_path: Path) -> None:
    with lab_for(HEALTHY, tmp_path) as lab:
        result = _check(lab, "-n", "team-a", "--no-probe")
        assert lab.datapath.access_log("gateway/shared") == []
    assert result.json["probes"] == [] and result.json["probeNotes"] == ["probes not run (--no-probe)"]


def test_from_file_skips_probes_and_says_so_once(tmp_path: Path) -> None:
    result = run_cli(
        "check",
        "--from-file",
        str(SCENARIOS / "shared-direct-healthy.yaml"),
        "-n",
        "team-a",
        env={"NO_COLOR": "1"},
    )
    assert result.stdout.count("probes skipped") == 1, result.stdout
    report = run_cli("check", "--from-file", str(SCENARIOS / "shared-direct-healthy.yaml"), "-o", "json").json
    assert report["probes"] == [] and len(report["probeNotes"]) == 1


@pytest.fixture
def silent_gateway() -> Iterator[str]:
    """Servers on 80 and 443 of a loopback address that accept connections and never answer."""
    address = f"127.{77 + os.getpid() % 100}.{os.getpid() % 250}.9"
    socks = []
    held: list[socket.socket] = []
    stop = threading.Event()
    for port in (80, 443):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((address, port))
        s.listen(16)
        s.settimeout(0.1)
        socks.append(s)

    def hold() -> None:
        while not stop.is_set():
            for s in socks:
                with contextlib.suppress(OSError):  # the 0.1 s accept timeout
                    held.append(s.accept()[0])

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    yield address
    stop.set()
    thread.join(2)
    for s in socks + held:
        s.close()


def test_a_server_that_never_answers_is_bounded_by_the_probe_timeout(silent_gateway: str) -> None:
    result, wall = probe_at(silent_gateway, 1.0)
    report = result.json
    assert report["probeElapsedSeconds"] < 1.0 + 1.5, report["probeElapsedSeconds"]
    assert wall < 15
    egd601 = [f for f in report["findings"] if f["code"] == "EGD601"]
    assert (
        egd601
        and f"{silent_gateway}:80 (listener http) is unreachable: no answer within 1s" in egd601[0]["message"]
    )
    # one probe per port: after a silent answer nothing more is sent there
    probes = sorted((r["port"], r["probe"]) for r in report["probes"] if r["kind"] != "dns")
    assert probes == [(80, "plain"), (443, "plain")]


def test_probe_options_are_validated_before_anything_runs() -> None:
    for args, word in (
        (["--observe", "sometimes"], "--observe"),
        (["--address", "gw.example.com"], "--address"),
        (["--probe-timeout", "soon"], "--probe-timeout"),
        (["--probe-allow", "10.0.0.0/40"], "--probe-allow"),
        (["--resolver", "dns.example"], "--resolver"),
        (["--ca-file", "/does/not/exist.pem"], "--ca-file"),
    ):
        result = run_cli("check", "--from-file", str(SCENARIOS / "shared-direct-healthy.yaml"), *args)
        assert result.exit_code == 2, (args, result.stderr)
        assert word in result.stderr


def test_json_report_is_stable_without_a_gateway(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}))
    report = json.loads(
        run_cli("check", "--from-file", str(path), "-o", "json", "--address", "127.0.0.1").stdout
    )
    assert report["probes"] == []


def test_expect_client_ip_is_what_the_observed_address_is_held_to(tmp_path: Path) -> None:
    with lab_for(HEALTHY, tmp_path) as lab:
        result = _check(lab, "-n", "team-a", "--expect-client-ip", "198.51.100.77")
    egd606 = [f for f in result.json["findings"] if f["code"] == "EGD606"]
    assert egd606, result.stdout
    assert (
        "observed client IP 127.0.0.1, not the address given with --expect-client-ip (198.51.100.77)"
        in (egd606[0]["message"])
    )
    assert result.json["probeGateways"][0]["expectedClientIP"] == "198.51.100.77"
    assert result.exit_code == 1
