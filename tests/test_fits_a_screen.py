"""`check -A` on a big cluster fits a screen: a summary table of the namespaces with findings first, then
only the objects with findings; the healthy ones are counted, and `--show-all` lists them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import SCENARIOS, run_cli

NAMESPACES, ROUTES_PER_NAMESPACE = 300, 5


def _big_cluster(
    broken: tuple[str, ...] = (), namespaces: int = NAMESPACES, routes: int = ROUTES_PER_NAMESPACE
) -> list[dict[str, Any]]:
    """shared-direct-healthy with team-b's namespace, route, Service and EndpointSlice copied into 300
    namespaces of 5 routes each (1,500 routes); in the `broken` namespaces route shop-0's backend is gone."""
    from egdoctor_lab.scenario import load_scenario

    objects = [dict(o) for o in load_scenario(SCENARIOS / "shared-direct-healthy.yaml").objects]
    team_b = [o for o in objects if "team-b" in (o["metadata"].get("namespace"), o["metadata"]["name"])]
    out = [o for o in objects if not any(o is b for b in team_b)]
    for i in range(namespaces):
        namespace = f"app-{i:03d}"
        for template in team_b:
            copies = routes if template["kind"] == "HTTPRoute" else 1
            for n in range(copies):
                o = copy.deepcopy(template)
                if o["kind"] == "Namespace":
                    o["metadata"]["name"] = namespace
                    o["metadata"]["labels"]["kubernetes.io/metadata.name"] = namespace
                else:
                    o["metadata"]["namespace"] = namespace
                if o["kind"] == "HTTPRoute":
                    o["metadata"]["name"] = f"shop-{n}"
                    if namespace in broken and n == 0:
                        _break_backend(o)
                out.append(o)
    return out


def _break_backend(route: dict[str, Any]) -> None:
    route["spec"]["rules"][0]["backendRefs"][0]["name"] = "gone"
    for parent in route["status"]["parents"]:
        for c in parent["conditions"]:
            if c["type"] == "ResolvedRefs":
                c.update(status="False", reason="BackendNotFound", message="service gone not found")


@pytest.fixture(scope="module")
def healthy_dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "healthy.yaml"
    path.write_text(yaml.safe_dump_all(_big_cluster()))
    return path


def test_a_healthy_big_cluster_fits_in_40_lines(healthy_dump: Path) -> None:
    result = run_cli("check", "-A", "--from-file", str(healthy_dump), env={"COLUMNS": "100"}, timeout=120)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) <= 40, result.stdout
    assert lines[0].startswith("✓ no problems")
    assert "302 namespaces healthy (1501 routes)" in result.stdout  # the 300, team-a and gateway
    assert "1501 routes healthy" in result.stdout
    assert "shop-0" not in result.stdout


def test_show_all_lists_every_route(healthy_dump: Path) -> None:
    result = run_cli("check", "-A", "--show-all", "--from-file", str(healthy_dump), timeout=120)
    assert result.exit_code == 0
    assert result.stdout.count("HTTPRoute app-") == NAMESPACES * ROUTES_PER_NAMESPACE
    assert "healthy (--show-all" not in result.stdout


def test_only_the_broken_namespaces_and_routes_are_shown(tmp_path: Path) -> None:
    dump = tmp_path / "broken.yaml"
    dump.write_text(yaml.safe_dump_all(_big_cluster(broken=("app-007", "app-123"))))
    result = run_cli("check", "-A", "--from-file", str(dump), env={"COLUMNS": "100"}, timeout=120)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) <= 40, result.stdout
    assert lines[0].startswith("✗ 2 errors")
    table = [line.split() for line in lines if line.startswith(("  namespace ", "  app-"))]
    assert table[0] == ["namespace", "Gateway", "mode", "routes", "errors", "warnings"]
    assert [row[0] for row in table[1:]] == ["app-007", "app-123"]
    assert all(row[-3:] == ["5", "1", "0"] for row in table[1:]), table
    assert "300 namespaces healthy" in result.stdout
    shown_routes = [line for line in lines if line.startswith("  ✗ HTTPRoute app-")]
    assert len(shown_routes) == 2 and "1499 routes healthy" in result.stdout


def test_json_is_never_summarised(healthy_dump: Path) -> None:
    result = run_cli("check", "-A", "--from-file", str(healthy_dump), "-o", "json", timeout=120)
    listeners = result.json["gateways"][0]["listeners"]
    assert sum(len(lv["routes"]) for lv in listeners) >= NAMESPACES * ROUTES_PER_NAMESPACE


def test_one_namespace_with_many_routes_is_summarised_too(tmp_path: Path) -> None:
    dump = tmp_path / "many.yaml"
    dump.write_text(yaml.safe_dump_all(_big_cluster(broken=("app-000",), namespaces=1, routes=60)))
    result = run_cli("check", "-n", "app-000", "--from-file", str(dump), env={"COLUMNS": "100"})
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) <= 40, result.stdout
    assert "59 routes healthy" in result.stdout
    small = run_cli("check", "-n", "team-a", "--from-file", str(dump), env={"COLUMNS": "100"})
    assert "HTTPRoute team-a/web" in small.stdout and "healthy (--show-all" not in small.stdout
