"""The CLI as a user meets it: help, usage errors, cluster access failures, offline input, colour."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import SCENARIOS, lab_for, run_cli

HEALTHY = SCENARIOS / "shared-direct-healthy.yaml"


def _healthy_objects() -> list[dict]:
    """The healthy scenario as a cluster would export it (the lab fills its certificates at load)."""
    from egdoctor_lab.scenario import load_scenario

    return [dict(o) for o in load_scenario(HEALTHY).objects]


@pytest.fixture
def healthy_dump(tmp_path: Path) -> Path:
    path = tmp_path / "healthy-dump.yaml"
    path.write_text(yaml.safe_dump_all(_healthy_objects()))
    return path


def test_help_does_not_import_the_kubernetes_client() -> None:
    code = (
        "import sys\nsys.argv=['egdoctor','--help']\nfrom egdoctor.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "loaded = any(m == 'kubernetes' or m.startswith('kubernetes.') for m in sys.modules)\n"
        "print('LOADED' if loaded else 'CLEAN')"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert "check" in proc.stdout
    assert proc.stdout.strip().endswith("CLEAN"), proc.stdout


def test_version() -> None:
    result = run_cli("version")
    assert result.exit_code == 0
    assert result.stdout.startswith("egdoctor ")


@pytest.mark.parametrize(
    "args",
    [
        ["check", "-n", "a", "-A", "--from-file", str(HEALTHY)],
        ["check", "--request-timeout", "soon", "--from-file", str(HEALTHY)],
        ["check", "--namespace-label", "novalue", "--from-file", str(HEALTHY)],
        ["check", "-n", "Not_A_Namespace", "--from-file", str(HEALTHY)],
        ["check", "--expect-mode", "sideways", "--from-file", str(HEALTHY)],
        ["check", "--from-file", "/does/not/exist.yaml"],
        ["check", "--no-such-flag"],
    ],
)
def test_usage_errors_exit_2_without_traceback(args: list[str]) -> None:
    result = run_cli(*args)
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kubeconfig(tmp_path: Path, server: str, token: str = "t", ca: str | None = None) -> Path:
    cluster: dict[str, object] = {"server": server}
    if ca:
        cluster["certificate-authority"] = ca
    else:
        cluster["insecure-skip-tls-verify"] = True
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u", "namespace": "team-a"}}],
        "current-context": "ctx",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _assert_egd001(result, *, json_out: bool) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "EGD001" in lines[0], result.stderr
    if json_out:
        assert [f["code"] for f in json.loads(result.stdout)["findings"]] == ["EGD001"]


def test_unreachable_server_is_egd001(tmp_path: Path) -> None:
    kc = _kubeconfig(tmp_path, f"https://127.0.0.1:{_free_port()}")
    result = run_cli("check", "--kubeconfig", str(kc), "--request-timeout", "2s", "-o", "json")
    _assert_egd001(result, json_out=True)
    assert "refused" in result.stderr


def test_missing_kubeconfig_is_egd001(tmp_path: Path) -> None:
    _assert_egd001(run_cli("check", "--kubeconfig", str(tmp_path / "nope")), json_out=False)


def test_no_kubeconfig_at_all_is_egd001() -> None:
    result = run_cli("check")
    _assert_egd001(result, json_out=False)
    assert "kubeconfig" in result.stderr


def test_garbage_kubeconfig_is_egd001(tmp_path: Path) -> None:
    kc = tmp_path / "kubeconfig"
    kc.write_text("clusters: [this is: not: valid")
    _assert_egd001(run_cli("check", "--kubeconfig", str(kc)), json_out=False)


def test_unknown_context_is_egd001(tmp_path: Path) -> None:
    kc = _kubeconfig(tmp_path, "https://127.0.0.1:1")
    result = run_cli("check", "--kubeconfig", str(kc), "--context", "prod")
    _assert_egd001(result, json_out=False)
    assert "prod" in result.stderr


def test_wrong_token_is_egd001(tmp_path: Path) -> None:
    with lab_for(HEALTHY, tmp_path / "lab") as lab:
        kc = _kubeconfig(tmp_path, lab.url, token="wrong", ca=str(lab.ca_path))
        result = run_cli("check", "--kubeconfig", str(kc), "-o", "json")
    _assert_egd001(result, json_out=True)
    assert "401" in result.stderr or "unauthorized" in result.stderr.lower()


def test_untrusted_server_certificate_is_egd001(tmp_path: Path) -> None:
    with lab_for(HEALTHY, tmp_path / "lab") as lab:
        cfg = yaml.safe_load(Path(lab.kubeconfig_path).read_text())
        for c in cfg["clusters"]:
            c["cluster"].pop("certificate-authority-data", None)
            c["cluster"].pop("certificate-authority", None)
        kc = tmp_path / "untrusting"
        kc.write_text(yaml.safe_dump(cfg))
        result = run_cli("check", "--kubeconfig", str(kc), "--request-timeout", "3s")
    _assert_egd001(result, json_out=False)


def test_default_namespace_comes_from_the_context(tmp_path: Path) -> None:
    with lab_for(HEALTHY, tmp_path / "lab") as lab:
        result = run_cli("check", "--kubeconfig", str(lab.kubeconfig_path), "-o", "json")
    assert result.json["scope"]["namespaces"] == ["team-a"]


def test_kubeconfig_from_environment(tmp_path: Path) -> None:
    with lab_for(HEALTHY, tmp_path / "lab") as lab:
        result = run_cli("check", "-o", "json", "-A", env={"KUBECONFIG": str(lab.kubeconfig_path)})
    assert result.exit_code == 0, result.stderr
    assert result.json["scope"]["allNamespaces"] is True
    assert [g["name"] for g in result.json["gateways"]] == ["shared"]


def test_one_list_per_kind_and_scope(tmp_path: Path) -> None:
    """The snapshot never fetches object by object: every request is discovery or a list."""
    with lab_for(HEALTHY, tmp_path / "lab") as lab:
        result = run_cli("check", "--kubeconfig", str(lab.kubeconfig_path), "-n", "team-a", "-o", "json")
        requests = list(lab.requests)
    assert result.exit_code == 0
    lists = [r for r in requests if r["method"] == "GET" and r["path"].count("/") >= 3]
    keys = [(r["path"], r.get("query", "")) for r in lists]
    assert len(keys) == len(set(keys)), "a list was repeated"
    assert all(r["method"] == "GET" for r in requests)
    gets_by_name = [r for r in lists if "/namespaces/" in r["path"] and r["path"].rstrip("/").count("/") >= 7]
    assert not gets_by_name, f"per-object GETs: {gets_by_name[:3]}"


# -- offline input ----------------------------------------------------------------------------------------


def test_from_file_matches_live_result(healthy_dump: Path) -> None:
    offline = run_cli("check", "--from-file", str(healthy_dump), "-n", "team-a", "-o", "json")
    assert offline.exit_code == 0, offline.stderr
    assert offline.json["gateways"][0]["mode"] == "direct"
    assert offline.json["source"]["mode"] == "files"


def test_from_file_reads_kubectl_lists_and_directories(tmp_path: Path) -> None:
    docs = _healthy_objects()
    (tmp_path / "dump").mkdir()
    (tmp_path / "dump" / "list.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": docs[:8]})
    )
    (tmp_path / "dump" / "rest.json").write_text(
        json.dumps({"apiVersion": "v1", "kind": "List", "items": docs[8:]})
    )
    (tmp_path / "dump" / "notes.txt").write_text("ignored")
    result = run_cli("check", "--from-file", str(tmp_path / "dump"), "-A", "-o", "json")
    assert result.exit_code == 0, result.stdout
    assert result.json["gateways"][0]["loadBalancer"]["proxyProtocol"] == "v2"
    assert len(result.json["source"]["files"]) == 2


def test_malformed_objects_and_files_become_egd004_and_the_rest_runs(tmp_path: Path) -> None:
    docs = _healthy_objects()
    bad_route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "broken", "namespace": "team-a"},
        "spec": {"parentRefs": "shared"},
    }
    bad_gateway = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "odd", "namespace": "team-a"},
        "spec": {
            "gatewayClassName": "eg",
            "listeners": [{"name": "x", "port": "eighty", "protocol": "HTTP"}],
        },
    }
    (tmp_path / "a.yaml").write_text(yaml.safe_dump_all([*docs, bad_route, bad_gateway]))
    (tmp_path / "b.yaml").write_text("kind: [unclosed")
    result = run_cli("check", "--from-file", str(tmp_path), "-n", "team-a", "-o", "json")
    found = {(f["code"], (f["object"] or {}).get("name")) for f in result.json["findings"]}
    assert ("EGD004", "broken") in found
    assert ("EGD004", "odd") in found
    assert any(code == "EGD004" and name and name.endswith("b.yaml") for code, name in found)
    assert result.json["gateways"][0]["name"] == "shared"
    assert "Traceback" not in result.stderr


# -- terminal output ---------------------------------------------------------------------------------------


def test_text_output_honours_no_color_and_keeps_marks(healthy_dump: Path) -> None:
    plain = run_cli("check", "--from-file", str(healthy_dump), "-n", "team-a", env={"NO_COLOR": "1"})
    assert "\x1b[" not in plain.stdout
    assert "✓" in plain.stdout and "mode: direct" in plain.stdout
    forced = run_cli("check", "--from-file", str(healthy_dump), "-n", "team-a", "--color")
    assert "\x1b[" in forced.stdout


def test_fail_on_threshold(tmp_path: Path) -> None:
    docs = _healthy_objects()
    for d in docs:
        if d["kind"] == "Gateway":
            d["status"]["conditions"][1] = {
                "type": "Programmed",
                "status": "False",
                "reason": "AddressNotAssigned",
                "message": "No addresses have been assigned to the Gateway",
            }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump_all(docs))
    failing = run_cli("check", "--from-file", str(tmp_path / "s.yaml"), "-n", "team-a", "-o", "json")
    assert failing.exit_code == 1 and "EGD103" in failing.codes
    relaxed = run_cli("check", "--from-file", str(tmp_path / "s.yaml"), "-n", "team-a", "--fail-on", "none")
    assert relaxed.exit_code == 0


def test_hostile_dumps_become_findings_not_tracebacks(tmp_path: Path) -> None:
    """YAML aliases (a few lines that expand into gigabytes), deep nesting and odd metadata types."""
    (tmp_path / "bomb.yaml").write_text(
        "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nkind: ConfigMap\n"
    )
    (tmp_path / "deep.json").write_text("[" * 200_000 + "]" * 200_000)
    odd = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "odd", "namespace": {"not": "a string"}, "labels": {"a": 5}},
        "spec": {},
    }
    (tmp_path / "odd.yaml").write_text(yaml.safe_dump(odd))
    result = run_cli("check", "--from-file", str(tmp_path), "-A", "-o", "json", timeout=60)
    assert "Traceback" not in result.stderr
    malformed = {
        (f["object"] or {}).get("name", "") for f in result.json["findings"] if f["code"] == "EGD004"
    }
    assert any(n.endswith("bomb.yaml") for n in malformed), malformed
    assert any(n.endswith("deep.json") for n in malformed), malformed
    assert "odd" in malformed


def test_credentials_in_the_server_url_are_never_printed(tmp_path: Path) -> None:
    kc = _kubeconfig(tmp_path, f"https://admin:S3CRET-PW@127.0.0.1:{_free_port()}")
    result = run_cli("check", "--kubeconfig", str(kc), "--request-timeout", "2s", "-o", "json")
    assert result.exit_code == 3
    assert "S3CRET-PW" not in result.stdout + result.stderr
    assert "127.0.0.1" in result.stderr
