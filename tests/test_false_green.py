"""No false green: a run that looked at nothing must not exit 0 (a CI gate would read it as a pass)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, SCENARIOS, lab_for, run_cli


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_a_namespace_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with lab_for("shared-direct-healthy", tmp_path) as lab:
        kc = str(lab.kubeconfig_path)
        missing = run_cli("check", "--kubeconfig", kc, "-n", "nosuchns", "--no-probe")
        present = run_cli("check", "--kubeconfig", kc, "-n", "team-a", "--no-probe", "-o", "json")
    assert missing.exit_code == 2, missing.stdout
    assert "nosuchns" in _one_line(missing.stderr) and "not found" in missing.stderr
    assert missing.stdout == ""
    assert present.exit_code == 0, present.stderr


def test_a_namespace_the_namespace_list_cannot_prove_absent_still_runs(tmp_path: Path) -> None:
    # An identity that may not list Namespaces learns nothing from the missing list: no refusal.
    with lab_for("route-namespace-unlabelled-namespaces-forbidden", tmp_path) as lab:
        result = run_cli("check", "--kubeconfig", str(lab.kubeconfig_path), "-n", "team-a", "--no-probe")
    assert result.exit_code != 2, result.stderr


def test_a_dump_with_nothing_in_the_asked_namespace_is_an_error(tmp_path: Path) -> None:
    dump = tmp_path / "dump.yaml"
    dump.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}))
    result = run_cli("check", "--from-file", str(dump), "-n", "nosuchns")
    assert result.exit_code == 2
    assert "nosuchns" in _one_line(result.stderr)


@pytest.mark.parametrize(
    ("content", "where"),
    [
        (None, "README.md:"),  # Markdown is not YAML
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "not a text file"),
        (b"kind: [unclosed", "broken.yaml:1:16:"),
        (b'{"kind": "Gateway",\n  "metadata": }', "broken.json:2:15:"),
        (b"just: a mapping\n---\n- a list\n", "no Kubernetes object"),
    ],
)
def test_inputs_of_which_none_parse_end_with_one_line(
    tmp_path: Path, content: bytes | None, where: str
) -> None:
    if content is None:
        path = ROOT / "README.md"
    else:
        path = tmp_path / ("broken.json" if content.startswith(b"{") else "broken.yaml")
        path.write_bytes(content)
    result = run_cli("check", "--from-file", str(path), "-A", "-o", "json")
    assert result.exit_code == 2, result.stdout
    line = _one_line(result.stderr)
    assert where in line, line
    assert result.stdout == ""


def test_a_broken_file_beside_good_ones_is_egd004_saying_what_ran(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text((SCENARIOS / "shared-direct-healthy.yaml").read_text())
    (tmp_path / "bad.yaml").write_text("kind: [unclosed")
    result = run_cli("check", "--from-file", str(tmp_path), "-n", "team-a", "-o", "json")
    broken = [f for f in result.json["findings"] if f["code"] == "EGD004"]
    assert len(broken) == 1, broken
    assert "bad.yaml:1:16" in broken[0]["message"]
    assert "other files" in broken[0]["hint"] and "the rest of the report ran" not in broken[0]["hint"]


def test_a_broken_document_among_good_ones_names_its_line_in_the_file(tmp_path: Path) -> None:
    """A multi-document file is read document by document when its whole parse fails: the good
    documents are diagnosed, the broken one is EGD004 with FILE:LINE:COLUMN counted from the file's top."""
    gateway = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "gw", "namespace": "team-a"},
        "spec": {"gatewayClassName": "eg", "listeners": [{"name": "h", "port": 80, "protocol": "HTTP"}]},
    }
    head = yaml.safe_dump(gateway)
    broken = "kind: Issuer\nmetadata: {name: x\n  bad: [\n"
    dump = tmp_path / "dump.yaml"
    dump.write_text(
        head + "---\n" + broken + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n"
    )
    result = run_cli("check", "--from-file", str(dump), "-A", "-o", "json")
    assert [g["name"] for g in result.json["gateways"]] == ["gw"]
    egd004 = [f for f in result.json["findings"] if f["code"] == "EGD004"]
    assert [f["object"]["name"] for f in egd004] == [f"{dump} (document 2)"]
    # the broken document starts after the Gateway and the `---` line; `bad:` is its third line
    line = head.count("\n") + 1 + 3
    assert f"{dump}:{line}:6:" in egd004[0]["message"], egd004[0]["message"]
