"""Hostile tenants: everything egdoctor prints or follows is chosen by someone with a namespace.

Driven through the installed CLI against the lab (the `hostile-*` scenarios) and against listeners of
this test's own, whose connection logs prove where probes went. Done when: no control character from
tenant data reaches the terminal, `-o json` always parses, no traceback, exit codes as documented, no
probe to a tenant- or DNS-chosen loopback/private/link-local address without --probe-allow, no Secret
read outside what a permitted certificateRef names, nothing left behind by --observe route.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import SCENARIOS, lab_for, probe_args, run_cli

TEXT = SCENARIOS / "hostile-tenant-text.yaml"
PROBES = SCENARIOS / "hostile-tenant-probes.yaml"
TENANT_ADDRESS = "127.66.9.9"  # the Gateway's spec.addresses in hostile-tenant-probes
DNS_ADDRESS = "127.66.9.10"  # a DNS answer this test adds for team-a.example.com
HOSTILE_SERVER = "127.66.9.11"

# C0 controls except the newline that ends each line, DEL, C1 controls, and bidi/zero-width format
# characters: none of these may come out of egdoctor except its own colour codes on a TTY.
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_SGR = re.compile("\x1b\\[[0-9;]*m")  # what rich emits for colour and bold
NO_ALLOW = {"EGDOCTOR_PROBE_ALLOW": ""}


def _assert_terminal_safe(output: str, colour: bool = False) -> None:
    text = _SGR.sub("", output) if colour else output
    bad = sorted({f"{m.group()!r}" for m in _CONTROL.finditer(text)})
    assert not bad, f"control characters reached the terminal: {bad}\n{output}"


def _expect_args(scenario: Path) -> list[list[str]]:
    for doc in yaml.safe_load_all(scenario.read_text()):
        if isinstance(doc, dict) and doc.get("kind") == "LabScenario":
            return [e.get("args", []) for e in doc["spec"].get("expect", [])]
    return []


# -- terminal and JSON ------------------------------------------------------------------------------------


def test_control_sequences_in_every_printed_field_reach_the_terminal_escaped(tmp_path: Path) -> None:
    with lab_for(TEXT, tmp_path / "lab") as lab:
        kubeconfig = str(lab.kubeconfig_path)
        for args in _expect_args(TEXT):
            text = run_cli("check", "--kubeconfig", kubeconfig, "--no-probe", *args)
            assert "Traceback" not in text.stderr
            assert text.exit_code == 1, text.stderr
            _assert_terminal_safe(text.stdout)
            _assert_terminal_safe(text.stderr)
            coloured = run_cli("check", "--kubeconfig", kubeconfig, "--no-probe", "--color", *args)
            assert _SGR.search(coloured.stdout), "--color should colour the report"
            _assert_terminal_safe(coloured.stdout, colour=True)
            report = run_cli("check", "--kubeconfig", kubeconfig, "--no-probe", "-o", "json", *args).json
            assert report["summary"]["exitCode"] == 1
        text = run_cli("check", "--kubeconfig", kubeconfig, "--no-probe", "-n", "tenant-x").stdout
        report = run_cli(
            "check", "--kubeconfig", kubeconfig, "--no-probe", "-n", "tenant-x", "-o", "json"
        ).json
    # shown, not dropped: the reader sees that the object holds escape sequences (the report wraps to the
    # terminal, so a field may continue on the next line: compare with the line breaks undone)
    unwrapped = " ".join(text.split())
    for field in (
        "Envoy replicas unavailable\\x1b[2J",  # a Gateway condition message
        "le\\x1b]8;;https://attacker.example/",  # the cert-manager.io/cluster-issuer annotation (OSC 8)
        "proxy-protocol: v2\\x1b]0;pwned\\x07\\x0d\\x0a",  # the LB Service annotation
        "lb\\x1b[31m.evil.example.com\\x0d\\x0aGateway",  # a status.addresses hostname
        "\\x7f\\x9b2J",  # DEL and the C1 CSI
        "evil\\x1b]0;pwned\\x07\\x1b[2J.example.com",  # the certificate's CN
        "BackendNotFound\\x1b[5m",  # a route condition reason
    ):
        assert field in unwrapped, f"{field!r} not shown escaped:\n{text}"
    # JSON stays faithful: the same text, escaped by the JSON encoder only
    messages = " ".join(f["message"] for f in report["findings"])
    assert "Envoy replicas unavailable\x1b[2J" in messages


def test_long_tenant_text_is_cut_with_an_ellipsis(tmp_path: Path) -> None:
    dump = tmp_path / "long.yaml"
    dump.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "Gateway",
                "metadata": {"name": "gw", "namespace": "team-a"},
                "spec": {
                    "gatewayClassName": "eg",
                    "listeners": [{"name": "h", "port": 80, "protocol": "HTTP"}],
                },
                "status": {
                    "conditions": [
                        {"type": "Programmed", "status": "False", "reason": "X", "message": "A" * 50_000}
                    ]
                },
            }
        )
    )
    result = run_cli("check", "-f", str(dump), "-A")
    assert "A" * 50_000 not in result.stdout
    assert "A…" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 2000
    # JSON is for machines: faithful, uncut
    assert "A" * 50_000 in json.dumps(run_cli("check", "-f", str(dump), "-A", "-o", "json").json)


def test_nan_timestamps_and_crlf_hostnames_in_a_dump_keep_json_valid(tmp_path: Path) -> None:
    """YAML has values JSON lacks (.nan, .inf, unquoted timestamps): a condition carrying them used to
    make -o json print a bare NaN or die with TypeError half-way, and a CR/LF listener hostname made the
    probe phase raise ValueError."""
    dump = tmp_path / "dump.yaml"
    dump.write_text(
        "apiVersion: gateway.networking.k8s.io/v1\n"
        "kind: Gateway\n"
        "metadata: {name: gw, namespace: team-a, creationTimestamp: 2024-01-01T00:00:00Z}\n"
        "spec:\n"
        "  gatewayClassName: eg\n"
        '  listeners: [{name: http, port: 80, protocol: HTTP, hostname: "a.example.com\\r\\nX-Evil: 1"}]\n'
        "status:\n"
        "  conditions:\n"
        "  - type: Programmed\n"
        '    status: "False"\n'
        "    reason: Broken\n"
        "    message: broken\n"
        "    observedGeneration: .nan\n"
        "    lastTransitionTime: 2024-01-01T00:00:00Z\n"
        "    weight: -.inf\n"
    )
    for extra in ([], ["--address", "127.0.0.1", "--probe-timeout", "1s"]):
        result = run_cli("check", "-f", str(dump), "-A", "-o", "json", *extra)
        assert "Traceback" not in result.stderr
        assert result.exit_code == 1, result.stderr
        report = json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"bare {c} in -o json"))
        condition = next(f for f in report["findings"] if f["code"] == "EGD103")["evidence"]["condition"]
        assert condition["observedGeneration"] == "NaN"
        assert condition["weight"] == "-Infinity"
        assert condition["lastTransitionTime"] == "2024-01-01T00:00:00Z"
        _assert_terminal_safe(run_cli("check", "-f", str(dump), "-A", *extra).stdout)


# -- deep objects -------------------------------------------------------------------------------------------


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": True}
    for _ in range(levels):
        value = {"config": value}
    return value


def _issuer(name: str, namespace: str, levels: int) -> dict[str, Any]:
    solver = {
        "dns01": {"webhook": {"groupName": "acme.example.com", "solverName": "x", "config": _nested(levels)}}
    }
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"acme": {"server": "https://acme.example/dir", "solvers": [solver]}},
    }


def test_a_deeply_nested_issuer_from_the_api_is_egd004_and_the_run_goes_on(tmp_path: Path) -> None:
    """A free-form webhook `config` nested 600 levels used to overflow the recursive freeze()."""
    # the lab (in this process) copies and serves objects recursively; egdoctor runs with its defaults
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        with lab_for(TEXT, tmp_path / "lab") as lab:
            lab.store.add(_issuer("deep", "tenant-x", 600))
            result = run_cli(
                "check",
                "--kubeconfig",
                str(lab.kubeconfig_path),
                "-n",
                "tenant-x",
                "--no-probe",
                "-o",
                "json",
            )
    finally:
        sys.setrecursionlimit(limit)
    assert "Traceback" not in result.stderr
    assert result.exit_code == 1, result.stderr
    deep = [
        f
        for f in result.json["findings"]
        if f["code"] == "EGD004" and (f["object"] or {}).get("name") == "deep"
    ]
    assert deep and "nested more than" in deep[0]["message"], result.json["findings"]
    assert "EGD401" in result.codes  # the other checks still ran


def test_deeply_nested_json_files_lose_only_the_deep_object(tmp_path: Path) -> None:
    """3,000 levels break json.loads itself; the file's other objects must survive."""
    deep = json.dumps(_issuer("deep", "team-a", 50)).replace(
        json.dumps(_nested(50)), '{"config":' * 3000 + "1" + "}" * 3000
    )
    gateway = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "gw", "namespace": "team-a"},
        "spec": {"gatewayClassName": "eg", "listeners": [{"name": "h", "port": 80, "protocol": "HTTP"}]},
    }
    dump = tmp_path / "list.json"
    dump.write_text('{"apiVersion":"v1","kind":"List","items":[' + deep + "," + json.dumps(gateway) + "]}")
    result = run_cli("check", "-f", str(dump), "-A", "-o", "json")
    assert "Traceback" not in result.stderr
    assert any(f["code"] == "EGD004" and f["object"]["name"] == "deep" for f in result.json["findings"])
    assert [g["name"] for g in result.json["gateways"]] == ["gw"]


def test_an_internal_error_is_one_line_and_exit_3(tmp_path: Path) -> None:
    """Whatever breaks inside, exit 1 ("findings") must never be the answer; --debug adds the traceback."""
    env = {"PYTHONPATH": str(tmp_path)}
    # a sitecustomize that breaks the renderer stands in for any unexpected bug
    (tmp_path / "sitecustomize.py").write_text(
        "import egdoctor.report.json_out as j\n"
        "def _broken(*a, **k):\n    raise RuntimeError('boom \\x1b[2J')\n"
        "j.report_json = _broken\n"
    )
    dump = tmp_path / "gw.yaml"
    dump.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n")
    result = run_cli("check", "-f", str(dump), "-A", "-o", "json", env=env)
    assert result.exit_code == 3
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "egdoctor: internal error: RuntimeError: boom \\x1b[2J (run with --debug for the traceback)"
    ]
    debug = run_cli("check", "-f", str(dump), "-A", "-o", "json", "--debug", env=env)
    assert debug.exit_code == 3 and "Traceback" in debug.stderr


# -- Secrets ---------------------------------------------------------------------------------------------


def test_secrets_are_read_only_where_a_permitted_certificate_ref_points(tmp_path: Path) -> None:
    """Gateway API: a certificateRef into another namespace is valid only when a ReferenceGrant in that
    namespace allows Gateways of the Gateway's namespace (gateway-api apis/v1/gateway_types.go,
    GatewayTLSConfig.CertificateRefs; apis/v1beta1/referencegrant_types.go). tenant-x points at
    kube-system/cloud-credentials without a grant; tenant-y at shared-certs/good-tls with one."""
    with lab_for(TEXT, tmp_path / "lab") as lab:
        for args in (["-A"], ["-n", "tenant-x"], ["-n", "tenant-y"]):
            result = run_cli(
                "check", "--kubeconfig", str(lab.kubeconfig_path), "--no-probe", "-o", "json", *args
            )
            assert result.exit_code == 1, result.stderr
        reads = [r for r in lab.requests if r.get("resource") == "secrets"]
        log = Path(lab.requests_log_path).read_text()
    assert not [r for r in reads if r.get("namespace") == "kube-system"], reads
    assert "kube-system/secrets" not in log
    assert not [r for r in reads if r.get("verb") != "get"], "Secrets must never be listed"
    assert {(r["namespace"], r["name"]) for r in reads} == {
        ("tenant-x", "evil-tls"),
        ("shared-certs", "good-tls"),
    }


def test_a_forbidden_cluster_wide_grant_list_is_retried_where_certificate_refs_point(tmp_path: Path) -> None:
    """-A by an identity that may not list ReferenceGrants in kube-system (and so not cluster-wide): the
    grants are listed again namespace by namespace, in the namespaces certificateRefs point to among
    them, so that the grant in shared-certs still permits tenant-y's Secret while kube-system, whose
    grants stay unreadable, permits nothing."""
    docs = list(yaml.safe_load_all(TEXT.read_text()))
    for doc in docs:
        if doc and doc.get("kind") == "LabScenario":
            doc["spec"].pop("expect", None)
            doc["spec"]["denials"] = [
                {"verb": "list", "resource": "referencegrants", "namespace": "kube-system"}
            ]
    scenario = tmp_path / "grants-forbidden.yaml"
    scenario.write_text(yaml.safe_dump_all(docs))
    with lab_for(scenario, tmp_path / "lab") as lab:
        result = run_cli("check", "--kubeconfig", str(lab.kubeconfig_path), "--no-probe", "-o", "json", "-A")
        reads = [r for r in lab.requests if r.get("resource") == "secrets"]
    assert result.exit_code == 1, result.stderr
    denied = [f for f in result.json["findings"] if f["code"] == "EGD002"]
    assert any("kube-system" in f["message"] for f in denied), denied
    assert {(r["namespace"], r["name"]) for r in reads} == {
        ("tenant-x", "evil-tls"),
        ("shared-certs", "good-tls"),
    }


# -- probe targets ---------------------------------------------------------------------------------------


class _Listener:
    """A TCP listener that records who connected and answers with fixed bytes."""

    def __init__(self, address: str, port: int, answer: bytes = b"") -> None:
        self.address, self.port, self.answer = address, port, answer
        self.connections: list[tuple[str, int]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except OSError:
                continue
            self.connections.append(peer)
            with conn:
                conn.settimeout(1.0)
                try:
                    conn.recv(65536)
                    conn.sendall(self.answer)
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


@contextmanager
def _listeners(*where: tuple[str, int, bytes]) -> Iterator[list[_Listener]]:
    started: list[_Listener] = []
    try:
        for address, port, answer in where:
            started.append(_Listener(address, port, answer))
        yield started
    finally:
        for listener in started:
            listener.close()


def _with_dns_answer(tmp_path: Path) -> Path:
    docs = list(yaml.safe_load_all(PROBES.read_text()))
    for doc in docs:
        if doc and doc.get("kind") == "LabScenario":
            doc["spec"].pop("expect", None)
            doc["spec"]["datapath"]["dns"] = {"team-a.example.com": ["@edge:gateway/shared", DNS_ADDRESS]}
    path = tmp_path / "hostile-dns.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return path


def _targets(report: dict[str, Any]) -> dict[str, str | None]:
    return {t["address"]: t["refused"] for t in report["probeTargets"]}


def test_tenant_and_dns_chosen_addresses_are_never_probed(tmp_path: Path) -> None:
    scenario = _with_dns_answer(tmp_path)
    honeypots = [
        (a, p, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        for a in (TENANT_ADDRESS, DNS_ADDRESS)
        for p in (80, 443)
    ]
    with _listeners(*honeypots) as pots, lab_for(scenario, tmp_path / "lab") as lab:
        kubeconfig = str(lab.kubeconfig_path)
        lb = lab.gateway_addresses("gateway", "shared").lb
        check = ("check", "--kubeconfig", kubeconfig, "-n", "team-a", "-o", "json", *probe_args(lab))

        # no allow-list: loopback is refused everywhere, and the report says why
        refused = run_cli(*check, env=NO_ALLOW)
        assert refused.json["probes"] == []
        assert "loopback address" in (_targets(refused.json)[lb] or "")

        # the engineer names the load balancer: it is probed, DNS answers still are not
        named = run_cli(*check, "--address", lb, env=NO_ALLOW)
        targets = _targets(named.json)
        assert targets[lb] is None
        assert "loopback address" in (targets[DNS_ADDRESS] or ""), targets
        # DNS rows carry no address: .get
        assert any(r.get("address") == lb for r in named.json["probes"])
        assert not any(r.get("address") == DNS_ADDRESS for r in named.json["probes"])
        assert all(p.connections == [] for p in pots), [(p.address, p.port, p.connections) for p in pots]

        # with the test default --probe-allow 127.0.0.0/8 the DNS answer is allowed (the user said so),
        # the address the Gateway's owner added still is not: it is not the load balancer's (EGD107)
        allowed = run_cli(*check)
        assert "EGD107" in allowed.codes
        assert _targets(allowed.json)[lb] is None
        assert "not an address of its load balancer" in (_targets(allowed.json)[TENANT_ADDRESS] or "")
        assert [p.connections for p in pots[:2]] == [[], []], "a probe reached the tenant-chosen address"


def test_refused_targets_are_listed_before_the_results_in_the_text_report(tmp_path: Path) -> None:
    with lab_for(PROBES, tmp_path / "lab") as lab:
        lb = lab.gateway_addresses("gateway", "shared").lb
        # wide enough that each target, with its reason, is one line to hold to that reason
        result = run_cli(
            "check",
            "--kubeconfig",
            str(lab.kubeconfig_path),
            "-n",
            "team-a",
            *probe_args(lab),
            env={**NO_ALLOW, "COLUMNS": "400"},
        )
    lines = result.stdout.splitlines()
    refused = [i for i, line in enumerate(lines) if "target" in line and "refused:" in line]
    assert refused, result.stdout
    assert f"{lb} is a loopback address" in lines[refused[0]]
    assert any(TENANT_ADDRESS in lines[i] and "EGD107" in lines[i] for i in refused), result.stdout
    _assert_terminal_safe(result.stdout)


def test_a_probed_server_cannot_write_to_the_terminal_or_pose_as_a_client_ip(tmp_path: Path) -> None:
    """The reason phrase and the echoed client address come from whatever answers the probe."""
    body = json.dumps(
        {"headers": {"X-Envoy-External-Address": "\x1b[31m6.6.6.6\x1b[0m", "X-Forwarded-For": "\x1b[2Jx"}}
    ).encode()
    answer = (
        b"HTTP/1.1 200 \x1b]0;pwned\x07OK\x1b[2J\x9b1A\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    with _listeners((HOSTILE_SERVER, 80, answer)) as (server,), lab_for(TEXT, tmp_path / "lab") as lab:
        args = (
            "check",
            "--kubeconfig",
            str(lab.kubeconfig_path),
            "-n",
            "tenant-x",
            "--address",
            HOSTILE_SERVER,
            "--observe",
            "echo:/headers",
            "--probe-timeout",
            "2s",
            "--fail-on",
            "none",
        )
        text = run_cli(*args, env=NO_ALLOW)
        report = run_cli(*args, "-o", "json", env=NO_ALLOW).json
    assert server.connections, "the named --address should have been probed"
    assert text.exit_code == 0 and "Traceback" not in text.stderr
    _assert_terminal_safe(text.stdout)
    assert "\\x1b]0;pwned\\x07OK" in text.stdout
    assert all(g["observedClientIP"] is None for g in report["gateways"])
    assert "6.6.6.6" not in " ".join(f["message"] for f in report["findings"])
    assert any("not an IP address" in n for n in report["probeNotes"]), report["probeNotes"]


def test_a_yaml_document_too_deep_to_parse_costs_only_itself(tmp_path: Path) -> None:
    gateway = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "gw", "namespace": "team-a"},
        "spec": {"gatewayClassName": "eg", "listeners": [{"name": "h", "port": 80, "protocol": "HTTP"}]},
    }
    deep = (
        "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: deep, namespace: team-a}\n"
        "spec: {acme: {solvers: [{dns01: {webhook: {config: " + "{x: " * 600 + "1" + "}" * 600 + "}}}]}}\n"
    )
    dump = tmp_path / "dump.yaml"
    dump.write_text(yaml.safe_dump(gateway) + "---\n" + deep)
    result = run_cli("check", "-f", str(dump), "-A", "-o", "json")
    assert "Traceback" not in result.stderr
    assert [g["name"] for g in result.json["gateways"]] == ["gw"]
    broken = [f for f in result.json["findings"] if f["code"] == "EGD004"]
    assert broken and broken[0]["object"]["name"] == f"{dump} (document 2)"
