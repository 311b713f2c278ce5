"""Plain ``kubectl apply`` against the lab API server, with kubectl's default ``--validate=strict``.

kubectl validates on the server when the server's OpenAPI v3 document declares the ``fieldValidation``
parameter on the kind's PATCH operation, and then sends ``fieldValidation=Strict``; the lab API server
publishes those documents (egdoctor_lab/openapi.py) and rejects unknown top-level fields as kube-apiserver
does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from egdoctor_lab.apiserver import LabApiServer

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
GW = "gateway.networking.k8s.io"

GATEWAY_AND_ROUTE = f"""\
apiVersion: {GW}/v1
kind: Gateway
metadata: {{name: applied, namespace: team-a}}
spec:
  gatewayClassName: eg
  listeners:
    - {{name: http, protocol: HTTP, port: 80}}
---
apiVersion: {GW}/v1
kind: HTTPRoute
metadata: {{name: applied, namespace: team-a}}
spec:
  parentRefs: [{{name: applied}}]
  rules:
    - backendRefs: [{{name: web, port: 80}}]
"""


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[LabApiServer]:
    with LabApiServer.from_scenario("_apiserver-selftest", state_dir=tmp_path / "lab") as server:
        yield server


def kubectl(
    lab: LabApiServer, tmp_path: Path, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    env = {**os.environ, "KUBECONFIG": str(lab.kubeconfig_path)}
    # a cache of our own: kubectl keeps discovery and OpenAPI answers per server address
    cache = ["--cache-dir", str(tmp_path / "kube-cache")]
    return subprocess.run(
        [KUBECTL, *cache, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_apply_with_default_validation_creates_and_then_patches(lab: LabApiServer, tmp_path: Path) -> None:
    created = kubectl(lab, tmp_path, "apply", "-f", "-", stdin=GATEWAY_AND_ROUTE)
    assert created.returncode == 0, created.stderr
    assert created.stderr == ""
    assert created.stdout.splitlines() == [
        f"gateway.{GW}/applied created",
        f"httproute.{GW}/applied created",
    ]
    route = lab.store.get("httproutes", "applied", "team-a")
    assert route is not None and route["spec"]["parentRefs"] == [{"name": "applied"}]
    writes = [r for r in lab.requests if r.get("verb") == "create"]
    assert [w["resource"] for w in writes] == ["gateways", "httproutes"]
    assert all(parse_qs(w["query"]).get("fieldValidation") == ["Strict"] for w in writes)

    changed = kubectl(
        lab, tmp_path, "apply", "-f", "-", stdin=GATEWAY_AND_ROUTE.replace("port: 80}]", "port: 8080}]")
    )
    assert changed.returncode == 0, changed.stderr
    assert f"httproute.{GW}/applied configured" in changed.stdout.splitlines()
    route = lab.store.get("httproutes", "applied", "team-a")
    assert route is not None and route["spec"]["rules"] == [{"backendRefs": [{"name": "web", "port": 8080}]}]


def test_a_misspelled_top_level_field_is_rejected_by_the_server(lab: LabApiServer, tmp_path: Path) -> None:
    """Rejected, as kube-apiserver does: kubectl sends ``fieldValidation=Strict`` and the server answers 400
    with a strict decoding error naming the field; nothing is stored. Updating an existing object the same way
    (a merge patch) is rejected too, with the 422 Invalid patch.go gives."""
    misspelled = GATEWAY_AND_ROUTE.split("---\n")[1].replace("spec:", "spc:")
    ran = kubectl(lab, tmp_path, "apply", "-f", "-", stdin=misspelled)
    assert ran.returncode == 1
    assert (
        'Error from server (BadRequest): error when creating "STDIN": HTTPRoute in version "v1" cannot be '
        'handled as a HTTPRoute: strict decoding error: unknown field "spc"'
    ) in ran.stderr
    assert lab.store.get("httproutes", "applied", "team-a") is None

    assert kubectl(lab, tmp_path, "apply", "-f", "-", stdin=GATEWAY_AND_ROUTE).returncode == 0
    ran = kubectl(lab, tmp_path, "apply", "-f", "-", stdin=GATEWAY_AND_ROUTE + "extra: true\n")
    assert ran.returncode == 1
    # an Invalid naming no kind is printed by kubectl as "The request is invalid", as for kube-apiserver
    assert ran.stderr.startswith('The request is invalid: patch: Invalid value: "{')
    assert ran.stderr.rstrip().endswith('}": strict decoding error: unknown field "extra"')
    route = lab.store.get("httproutes", "applied", "team-a")
    assert route is not None and "extra" not in route


def test_the_openapi_index_points_at_documents_that_declare_field_validation(
    lab: LabApiServer, tmp_path: Path
) -> None:
    ran = kubectl(lab, tmp_path, "get", "--raw", "/openapi/v3")
    assert ran.returncode == 0, ran.stderr
    index = json.loads(ran.stdout)["paths"]
    assert {"api/v1", f"apis/{GW}/v1", f"apis/{GW}/v1beta1"} <= set(index)
    assert "apis/cert-manager.io/v1" not in index  # absent from the scenario's cluster
    url = index[f"apis/{GW}/v1"]["serverRelativeURL"]
    assert url.startswith(f"/openapi/v3/apis/{GW}/v1?hash=")
    ran = kubectl(lab, tmp_path, "get", "--raw", url)
    assert ran.returncode == 0, ran.stderr
    paths = json.loads(ran.stdout)["paths"]
    patch = paths[f"/apis/{GW}/v1/namespaces/{{namespace}}/httproutes/{{name}}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": GW, "version": "v1", "kind": "HTTPRoute"}
    assert {"name": "fieldValidation", "in": "query"}.items() <= next(
        p for p in patch["parameters"] if p["name"] == "fieldValidation"
    ).items()
