"""The lab API server, exercised with the real ``kubernetes`` client over HTTPS."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client import ApiClient, ApiException

from egdoctor_lab.apiserver import LAB_USER, LabApiServer
from egdoctor_lab.scenario import ScenarioError, load_scenario, parse_scenario

SELFTEST = "_apiserver-selftest"
GW = "gateway.networking.k8s.io"
REPO = Path(__file__).resolve().parents[2]
LAB_SCRIPT = REPO / "scripts" / "lab"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabApiServer]:
    with LabApiServer.from_scenario(SELFTEST, state_dir=tmp_path_factory.mktemp("lab")) as server:
        yield server


@pytest.fixture(scope="module")
def api(lab: LabApiServer) -> Iterator[ApiClient]:
    api_client = config.new_client_from_config(config_file=str(lab.kubeconfig_path))
    yield api_client
    api_client.close()


# The generated client declares every model field Optional and custom objects as `object`; the tests
# assert on shapes directly, so these are typed loosely.
Core = Any
Custom = Any


@pytest.fixture(scope="module")
def core(api: ApiClient) -> Core:
    return client.CoreV1Api(api)


@pytest.fixture(scope="module")
def custom(api: ApiClient) -> Custom:
    return client.CustomObjectsApi(api)


def status_of(exc: ApiException) -> dict[str, Any]:
    assert exc.body is not None
    body = json.loads(exc.body)
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure"
    assert body["code"] == exc.status
    return body


def names(items: list[Any]) -> list[str]:
    return [i["metadata"]["name"] if isinstance(i, dict) else i.metadata.name for i in items]


# -- discovery ------------------------------------------------------------------------------------------


def test_discovery_lists_served_groups_and_hides_absent_ones(api: ApiClient) -> None:
    groups = {g.name: g for g in client.ApisApi(api).get_api_versions().groups}
    assert {GW, "gateway.envoyproxy.io", "acme.cert-manager.io", "discovery.k8s.io"} <= set(groups)
    assert "cert-manager.io" not in groups
    gateway_api = groups[GW]
    assert gateway_api.preferred_version is not None and gateway_api.preferred_version.version == "v1"
    assert [v.version for v in gateway_api.versions] == ["v1", "v1beta1", "v1alpha3", "v1alpha2"]
    assert client.CoreApi(api).get_api_versions().versions == ["v1"]
    assert client.VersionApi(api).get_code().major == "1"


def test_discovery_resource_lists(api: ApiClient, custom: Custom) -> None:
    core_resources = {r.name: r for r in client.CoreV1Api(api).get_api_resources().resources}
    assert {"namespaces", "services", "services/status", "secrets", "configmaps", "endpoints", "pods"} <= set(
        core_resources
    )
    assert core_resources["namespaces"].namespaced is False
    assert core_resources["services"].short_names == ["svc"]
    assert (
        core_resources["services"].kind == "Service" and core_resources["services"].singular_name == "service"
    )

    v1 = {r.name: r for r in custom.get_api_resources(GW, "v1").resources}
    assert v1["gatewayclasses"].namespaced is False
    assert {"gateways", "httproutes", "grpcroutes", "referencegrants", "backendtlspolicies"} <= set(v1)
    alpha2 = {r.name for r in custom.get_api_resources(GW, "v1alpha2").resources}
    assert alpha2 == {"tlsroutes", "tlsroutes/status", "udproutes", "udproutes/status"}  # tcproutes absent


def test_absent_group_and_kind_answer_404(custom: Custom) -> None:
    for call in (
        lambda: custom.list_namespaced_custom_object("cert-manager.io", "v1", "team-a", "certificates"),
        lambda: custom.get_api_resources("cert-manager.io", "v1"),
        lambda: custom.list_namespaced_custom_object(GW, "v1alpha2", "team-a", "tcproutes"),
        lambda: custom.list_namespaced_custom_object("example.com", "v1", "team-a", "widgets"),
    ):
        with pytest.raises(ApiException) as err:
            call()
        assert err.value.status == 404
        assert status_of(err.value)["reason"] == "NotFound"


# -- reads ----------------------------------------------------------------------------------------------


def test_core_reads_and_synthesised_namespaces(core: Core) -> None:
    namespaces = {n.metadata.name: n for n in core.list_namespace().items}
    assert {"default", "kube-system", "team-a", "team-b", "team-c", "envoy-gateway-system"} <= set(namespaces)
    team_a = core.read_namespace("team-a")
    assert team_a.metadata.labels == {"team": "a", "kubernetes.io/metadata.name": "team-a"}
    assert namespaces["team-c"].status.phase == "Active"

    assert names(core.list_namespaced_service("team-a").items) == ["api", "web"]
    web = core.read_namespaced_service("web", "team-a")
    assert web.spec.ports[0].target_port == 8080
    assert web.metadata.uid and web.metadata.resource_version and web.metadata.creation_timestamp
    assert names(core.list_namespaced_config_map("default").items) == ["no-namespace"]
    pod = core.read_namespaced_pod("envoy-team-a-eg-1a2b3c4d-xyz", "envoy-gateway-system")
    assert pod.status.phase == "Running"


def test_custom_objects_versions_and_verbatim_objects(custom: Custom) -> None:
    routes = custom.list_namespaced_custom_object(GW, "v1", "team-a", "httproutes")
    assert routes["kind"] == "HTTPRouteList" and routes["apiVersion"] == f"{GW}/v1"
    assert routes["metadata"]["resourceVersion"]
    assert names(routes["items"]) == ["api", "broken", "legacy", "web"]
    assert all(i["kind"] == "HTTPRoute" and i["apiVersion"] == f"{GW}/v1" for i in routes["items"])

    legacy = custom.get_namespaced_custom_object(GW, "v1beta1", "team-a", "httproutes", "legacy")
    assert legacy["apiVersion"] == f"{GW}/v1beta1"
    policy = custom.get_namespaced_custom_object(GW, "v1", "team-a", "backendtlspolicies", "api-tls")
    assert policy["apiVersion"] == f"{GW}/v1" and policy["spec"]["targetRefs"][0]["name"] == "api"

    broken = custom.get_namespaced_custom_object(GW, "v1", "team-a", "httproutes", "broken")
    assert broken["spec"] == "not-a-mapping"
    assert broken["status"] == [1, 2, 3]
    assert broken["metadata"]["labels"] == ["not", "a", "map"]

    gateway = custom.get_namespaced_custom_object(GW, "v1", "team-a", "gateways", "eg")
    assert gateway["metadata"]["generation"] == 3
    assert gateway["status"]["conditions"][0]["lastTransitionTime"] == "2025-01-01T00:00:00Z"
    assert custom.get_cluster_custom_object(GW, "v1", "gatewayclasses", "eg")["spec"]["controllerName"]

    everywhere = custom.list_cluster_custom_object(GW, "v1beta1", "referencegrants")
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere["items"]] == [
        ("team-b", "allow-team-a")
    ]


def test_unknown_settings_keys_and_unserved_objects(lab: LabApiServer) -> None:
    scenario = load_scenario(SELFTEST)
    assert scenario.name == "apiserver-selftest"
    assert scenario.settings["expect"] == {"findings": ["EGD-SELFTEST"]}
    assert scenario.settings["otherTool"] == {"envoy": {"replicas": 1}}
    skipped = " ".join(lab.skipped)
    assert "TCPRoute" in skipped and "Certificate" in skipped and "Widget" in skipped
    assert lab.store.get("httproutes", "web", "team-a") is not None
    assert lab.store.list("orders")[0]["metadata"]["name"] == "web-order"


# -- selectors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", ["web"]),
        ("app==web", ["web"]),
        ("app!=web", ["api", "broken", "legacy"]),
        ("tier", ["api", "web"]),
        ("!tier", ["broken", "legacy"]),
        ("app in (web, api)", ["api", "web"]),
        ("app notin (web)", ["api", "broken", "legacy"]),
        ("app=web,env=prod", ["web"]),
        ("tier,env!=prod", ["api"]),
        ("app in (nothing)", []),
    ],
)
def test_label_selectors(custom: Custom, selector: str, expected: list[str]) -> None:
    result = custom.list_namespaced_custom_object(GW, "v1", "team-a", "httproutes", label_selector=selector)
    assert names(result["items"]) == expected


def test_invalid_label_selector_is_400(core: Core) -> None:
    with pytest.raises(ApiException) as err:
        core.list_namespaced_service("team-a", label_selector="app in web")
    assert err.value.status == 400
    assert status_of(err.value)["reason"] == "BadRequest"


def test_field_selectors(core: Core, custom: Custom) -> None:
    by_name = custom.list_namespaced_custom_object(
        GW, "v1", "team-a", "httproutes", field_selector="metadata.name=web"
    )
    assert names(by_name["items"]) == ["web"]
    assert names(core.list_namespaced_service("team-a", field_selector="metadata.name!=web").items) == ["api"]
    in_team_c = core.list_config_map_for_all_namespaces(field_selector="metadata.namespace=team-c")
    assert names(in_team_c.items) == ["settings"]
    running = core.list_namespaced_pod("envoy-gateway-system", field_selector="status.phase=Running")
    assert len(running.items) == 1
    with pytest.raises(ApiException) as err:
        core.list_namespaced_service("team-a", field_selector="spec.type=LoadBalancer")
    assert err.value.status == 400
    assert status_of(err.value)["message"] == "field label not supported: spec.type"


def test_limit_and_continue_page_through_a_list(core: Core) -> None:
    everything = names(core.list_namespace().items)
    pages, token = [], None
    while True:
        page = core.list_namespace(limit=3, _continue=token)
        assert len(page.items) <= 3
        pages.extend(names(page.items))
        token = page.metadata._continue
        if not token:
            break
    assert pages == everything and len(everything) > 3


# -- writes ---------------------------------------------------------------------------------------------


def _route(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GW}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "labels": {"made-by": "test"}},
        "spec": {"parentRefs": [{"name": "eg"}]},
        "status": {"parents": ["ignored on create"]},
    }


def test_custom_object_create_patch_replace_delete(lab: LabApiServer, custom: Custom) -> None:
    created = custom.create_namespaced_custom_object(GW, "v1", "team-a", "httproutes", _route("probe"))
    assert created["metadata"]["namespace"] == "team-a"
    assert created["metadata"]["generation"] == 1
    assert created["metadata"]["uid"]
    assert "status" not in created  # status is only written through the subresource
    assert lab.requests[-1]["status"] == 201

    patched = custom.patch_namespaced_custom_object(
        GW, "v1", "team-a", "httproutes", "probe", {"spec": {"hostnames": ["probe.example.com"]}}
    )
    assert patched["spec"]["hostnames"] == ["probe.example.com"]
    assert patched["spec"]["parentRefs"] == [{"name": "eg"}]
    assert patched["metadata"]["generation"] == 2
    assert int(patched["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])

    with_status = custom.patch_namespaced_custom_object_status(
        GW, "v1", "team-a", "httproutes", "probe", {"status": {"parents": [{"controllerName": "x"}]}}
    )
    assert with_status["status"] == {"parents": [{"controllerName": "x"}]}
    assert with_status["metadata"]["generation"] == 2
    ignored = custom.patch_namespaced_custom_object(
        GW, "v1", "team-a", "httproutes", "probe", {"status": {"parents": []}}
    )
    assert ignored["status"] == {"parents": [{"controllerName": "x"}]}

    json_patched = custom.patch_namespaced_custom_object(
        GW,
        "v1",
        "team-a",
        "httproutes",
        "probe",
        [{"op": "add", "path": "/metadata/labels/extra", "value": "yes"}],
        _content_type="application/json-patch+json",
    )
    assert json_patched["metadata"]["labels"] == {"made-by": "test", "extra": "yes"}

    stale = dict(created, spec={"parentRefs": []})
    with pytest.raises(ApiException) as err:
        custom.replace_namespaced_custom_object(GW, "v1", "team-a", "httproutes", "probe", stale)
    assert err.value.status == 409
    assert status_of(err.value)["reason"] == "Conflict"

    current = custom.get_namespaced_custom_object(GW, "v1", "team-a", "httproutes", "probe")
    current["spec"] = {"parentRefs": [{"name": "other"}]}
    replaced = custom.replace_namespaced_custom_object(GW, "v1", "team-a", "httproutes", "probe", current)
    assert replaced["spec"] == {"parentRefs": [{"name": "other"}]}
    assert replaced["status"] == {"parents": [{"controllerName": "x"}]}

    deleted = custom.delete_namespaced_custom_object(GW, "v1", "team-a", "httproutes", "probe")
    assert deleted["metadata"]["name"] == "probe"
    assert lab.store.get("httproutes", "probe", "team-a") is None
    with pytest.raises(ApiException) as err:
        custom.get_namespaced_custom_object(GW, "v1", "team-a", "httproutes", "probe")
    assert err.value.status == 404


def test_cluster_scoped_create_and_namespace_cascade(lab: LabApiServer, core: Core, custom: Custom) -> None:
    body = {"apiVersion": f"{GW}/v1", "kind": "GatewayClass", "metadata": {"name": "probe-class"}, "spec": {}}
    created = custom.create_cluster_custom_object(GW, "v1", "gatewayclasses", body)
    assert "namespace" not in created["metadata"]
    assert (
        custom.get_cluster_custom_object(GW, "v1beta1", "gatewayclasses", "probe-class")["kind"]
        == "GatewayClass"
    )
    custom.delete_cluster_custom_object(GW, "v1", "gatewayclasses", "probe-class")
    assert lab.store.get("gatewayclasses", "probe-class") is None

    namespace = core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="probe-ns")))
    assert namespace.metadata.labels == {"kubernetes.io/metadata.name": "probe-ns"}
    core.create_namespaced_config_map("probe-ns", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cm")))
    assert lab.store.get("configmaps", "cm", "probe-ns") is not None
    core.delete_namespace("probe-ns")
    assert lab.store.get("configmaps", "cm", "probe-ns") is None
    assert lab.store.get("namespaces", "probe-ns") is None


def test_core_patch_content_types(core: Core) -> None:
    cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(generate_name="patchme-"), data={"a": "1"})
    created = core.create_namespaced_config_map("team-a", cm)
    name = created.metadata.name
    assert name.startswith("patchme-") and len(name) == len("patchme-") + 5
    try:
        merged = core.patch_namespaced_config_map(name, "team-a", {"data": {"b": "2"}})  # strategic merge
        assert merged.data == {"a": "1", "b": "2"}
        removed = core.patch_namespaced_config_map(name, "team-a", [{"op": "remove", "path": "/data/a"}])
        assert removed.data == {"b": "2"}
        with pytest.raises(ApiException) as err:
            core.patch_namespaced_config_map(
                name, "team-a", [{"op": "test", "path": "/data/b", "value": "9"}]
            )
        assert err.value.status == 422
    finally:
        core.delete_namespaced_config_map(name, "team-a")


def test_duplicate_create_is_409_and_missing_namespace_is_404(core: Core) -> None:
    cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="dup"))
    core.create_namespaced_config_map("team-b", cm)
    try:
        with pytest.raises(ApiException) as err:
            core.create_namespaced_config_map("team-b", cm)
        assert err.value.status == 409
        body = status_of(err.value)
        assert body["reason"] == "AlreadyExists"
        assert body["message"] == 'configmaps "dup" already exists'
        assert body["details"] == {"name": "dup", "kind": "configmaps"}
    finally:
        core.delete_namespaced_config_map("dup", "team-b")

    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("no-such-namespace", cm)
    assert err.value.status == 404
    assert status_of(err.value)["message"] == 'namespaces "no-such-namespace" not found'


def test_concurrent_writes_are_all_kept(lab: LabApiServer) -> None:
    def create(index: int) -> str:
        api_client = config.new_client_from_config(config_file=str(lab.kubeconfig_path))
        try:
            cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"par-{index}", labels={"par": "yes"}))
            created: Any = client.CoreV1Api(api_client).create_namespaced_config_map("team-b", cm)
            return str(created.metadata.resource_version)
        finally:
            api_client.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        versions = list(pool.map(create, range(16)))
    assert len(set(versions)) == 16
    kept = [o["metadata"]["name"] for o in lab.store.list("configmaps", "team-b")]
    assert sorted(n for n in kept if n.startswith("par-")) == sorted(f"par-{i}" for i in range(16))
    for index in range(16):
        lab.store.remove(lab.store.key_for(lab.store.resource_type("configmaps"), "team-b", f"par-{index}"))


def test_dry_run_create_does_not_persist(lab: LabApiServer, core: Core) -> None:
    cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="dry"))
    returned = core.create_namespaced_config_map("team-a", cm, dry_run="All")
    assert returned.metadata.name == "dry"
    assert lab.store.get("configmaps", "dry", "team-a") is None


# -- errors ---------------------------------------------------------------------------------------------


def test_missing_objects_are_404_with_status(core: Core, custom: Custom) -> None:
    with pytest.raises(ApiException) as err:
        core.read_namespaced_service("nope", "team-a")
    assert err.value.status == 404
    body = status_of(err.value)
    assert body["reason"] == "NotFound"
    assert body["message"] == 'services "nope" not found'
    assert body["details"] == {"name": "nope", "kind": "services"}

    with pytest.raises(ApiException) as err:
        custom.get_namespaced_custom_object(GW, "v1", "team-a", "httproutes", "nope")
    body = status_of(err.value)
    assert body["message"] == f'httproutes.{GW} "nope" not found'
    assert body["details"] == {"name": "nope", "group": GW, "kind": "httproutes"}


def _forbidden(call: Any) -> dict[str, Any]:
    with pytest.raises(ApiException) as err:
        call()
    assert err.value.status == 403
    body = status_of(err.value)
    assert body["reason"] == "Forbidden"
    return body


def test_denial_in_one_namespace(core: Core) -> None:
    body = _forbidden(lambda: core.list_namespaced_service("envoy-gateway-system"))
    assert body["message"] == (
        f'services is forbidden: User "{LAB_USER}" cannot list resource "services" in API group "" '
        'in the namespace "envoy-gateway-system"'
    )
    assert body["details"] == {"kind": "services"}
    # Other namespaces and other verbs stay allowed.
    assert names(core.list_namespaced_service("team-a").items) == ["api", "web"]
    assert core.read_namespaced_service("envoy-team-a-eg-1a2b3c4d", "envoy-gateway-system").spec.type


def test_namespaced_denial_also_denies_cluster_wide_requests(core: Core, custom: Custom) -> None:
    body = _forbidden(lambda: core.list_service_for_all_namespaces(label_selector="app=web"))
    assert body["message"] == (
        f'services is forbidden: User "{LAB_USER}" cannot list resource "services" in API group "" '
        "at the cluster scope"
    )
    body = _forbidden(lambda: custom.list_cluster_custom_object(GW, "v1", "httproutes"))
    assert body["message"].startswith(f"httproutes.{GW} is forbidden: ")
    assert body["details"] == {"group": GW, "kind": "httproutes"}
    assert custom.list_namespaced_custom_object(GW, "v1", "team-a", "httproutes")["items"]
    # Cluster-scoped kinds are untouched by a denial that names a namespace.
    assert custom.get_cluster_custom_object(GW, "v1", "gatewayclasses", "eg")["metadata"]["name"] == "eg"


def test_denial_of_every_verb(core: Core) -> None:
    body = _forbidden(lambda: core.read_namespaced_secret("web-tls", "team-a"))
    assert body["message"] == (
        f'secrets "web-tls" is forbidden: User "{LAB_USER}" cannot get resource "secrets" in API group "" '
        'in the namespace "team-a"'
    )
    assert body["details"] == {"name": "web-tls", "kind": "secrets"}
    _forbidden(lambda: core.list_secret_for_all_namespaces())
    _forbidden(
        lambda: core.create_namespaced_secret(
            "team-a", client.V1Secret(metadata=client.V1ObjectMeta(name="s"))
        )
    )


def test_access_review_agrees_with_denials(api: ApiClient) -> None:
    authz = client.AuthorizationV1Api(api)

    def allowed(verb: str, resource: str, namespace: str | None, group: str = "") -> bool:
        attrs = client.V1ResourceAttributes(verb=verb, resource=resource, namespace=namespace, group=group)
        review = client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attrs)
        )
        answer: Any = authz.create_self_subject_access_review(review)
        return bool(answer.status.allowed)

    assert not allowed("list", "services", "envoy-gateway-system")
    assert not allowed("list", "services", None)
    assert allowed("list", "services", "team-a")
    assert allowed("get", "gatewayclasses", None, GW)


def test_wrong_or_missing_token_is_401(lab: LabApiServer) -> None:
    for token in ("wrong-token", None):
        kubeconfig = lab.kubeconfig()
        if token is None:
            kubeconfig["users"][0]["user"] = {}
        else:
            kubeconfig["users"][0]["user"]["token"] = token
        api_client = config.new_client_from_config_dict(kubeconfig)
        try:
            with pytest.raises(ApiException) as err:
                client.CoreV1Api(api_client).list_namespace()
            assert err.value.status == 401
            body = status_of(err.value)
            assert body["reason"] == "Unauthorized" and body["message"] == "Unauthorized"
        finally:
            api_client.close()


def test_watch_is_refused_with_a_status(api: ApiClient) -> None:
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api).list_namespace(watch=True, timeout_seconds=1)
    assert err.value.status == 405
    assert status_of(err.value)["reason"] == "MethodNotAllowed"


# -- instances built in code ----------------------------------------------------------------------------


def test_latency_is_applied(tmp_path: Path) -> None:
    with LabApiServer([], {"latencyMs": 150}, tmp_path) as slow:
        api_client = config.new_client_from_config(config_file=str(slow.kubeconfig_path))
        try:
            core = client.CoreV1Api(api_client)
            core.list_namespace()  # connection set-up out of the way
            started = time.monotonic()
            core.list_namespace()
            assert time.monotonic() - started >= 0.15
        finally:
            api_client.close()
        assert slow.requests[-1]["durationMs"] >= 150


def test_request_log_is_written(tmp_path: Path) -> None:
    objects = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "x"}}]
    settings = {"context": {"namespace": "x"}, "denials": [{"verb": "get", "resource": "services"}]}
    with LabApiServer(objects, settings, tmp_path) as small:
        api_client = config.new_client_from_config(config_file=str(small.kubeconfig_path))
        try:
            core = client.CoreV1Api(api_client)
            assert names(core.list_namespaced_service("x", label_selector="a!=b").items) == ["s"]
            with pytest.raises(ApiException):
                core.read_namespaced_service("s", "x")
        finally:
            api_client.close()
        logged = small.requests
    lines = [json.loads(line) for line in (tmp_path / "requests.log").read_text().splitlines()]
    assert lines == logged
    listed, denied = lines[-2], lines[-1]
    assert listed["method"] == "GET" and listed["path"] == "/api/v1/namespaces/x/services"
    assert listed["query"] == "labelSelector=a%21%3Db" and listed["status"] == 200
    assert listed["verb"] == "list" and listed["resource"] == "services" and listed["namespace"] == "x"
    assert denied["status"] == 403 and denied["name"] == "s"
    assert all(entry["time"].endswith("Z") for entry in lines)


def test_kubeconfig_names_the_context_namespace(lab: LabApiServer) -> None:
    contexts, active = config.list_kube_config_contexts(config_file=str(lab.kubeconfig_path))
    assert [c["name"] for c in contexts] == ["lab"] and active["name"] == "lab"
    assert active["context"]["namespace"] == "team-a"
    assert lab.url.startswith("https://127.0.0.1:") and lab.ca_path.read_bytes().startswith(b"-----BEGIN")


def test_scenario_parsing_rules(tmp_path: Path) -> None:
    assert (
        load_scenario(SELFTEST).path
        == load_scenario(str(REPO / "egdoctor_lab/scenarios/_apiserver-selftest.yaml")).path
    )
    with pytest.raises(ScenarioError, match="scenario not found"):
        load_scenario(tmp_path / "missing.yaml")
    with pytest.raises(ScenarioError, match="needs a resource"):
        parse_scenario("apiVersion: lab.egdoctor.io/v1\nkind: LabScenario\nspec: {denials: [{verb: get}]}\n")
    duplicate = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n" * 2
    with pytest.raises(ScenarioError, match="duplicate object"):
        LabApiServer.from_scenario(parse_scenario(duplicate))
    listed = parse_scenario(
        "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: s}}\n"
    )
    assert [o["kind"] for o in listed.objects] == ["Secret"] and listed.settings == {}


# -- command line ---------------------------------------------------------------------------------------


def _lab_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [str(LAB_SCRIPT), *args], capture_output=True, text=True, timeout=60, env=env, cwd=REPO, check=False
    )


def test_cli_up_and_down_round_trip(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    up = _lab_cli("up", SELFTEST, "--json", "--state-dir", str(state_dir))
    assert up.returncode == 0, up.stderr
    info = json.loads(up.stdout)
    try:
        assert info["state_dir"] == str(state_dir.resolve())
        assert info["url"].startswith("https://127.0.0.1:")
        api_client = config.new_client_from_config(config_file=info["kubeconfig"])
        try:
            assert "team-a" in names(client.CoreV1Api(api_client).list_namespace().items)
        finally:
            api_client.close()
    finally:
        down = _lab_cli("down", "--state-dir", str(state_dir))
    assert down.returncode == 0, down.stderr
    assert f"pid {info['pid']}" in down.stdout
    port = int(info["url"].rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert _lab_cli("status", "--state-dir", str(state_dir)).returncode == 3
    again = _lab_cli("down", "--state-dir", str(state_dir))
    assert again.returncode == 0 and "no lab running" in again.stdout


def test_cli_bad_scenario_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = _lab_cli("up", str(tmp_path / "nope.yaml"), "--state-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "scenario not found" in result.stderr


def test_module_runs_without_the_wrapper() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "egdoctor_lab", "list", "--all"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "_apiserver-selftest" in result.stdout
