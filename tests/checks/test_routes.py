"""EGD201-EGD207 (routes and backends) and the EGD1xx fixes, on lab scenarios loaded straight into a snapshot.

Status shapes are Envoy Gateway's: route parent reasons and messages from internal/gatewayapi/route.go
(processAllowedListenersForParentRefs, the hostname intersection, backend resolution) and
internal/gatewayapi/status/error.go (EG-specific reasons such as PortNotFound and EndpointsNotFound).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pytest

from egdoctor.checks.engine import Diagnosis, run_checks
from egdoctor.checks.registry import Options
from egdoctor.findings.model import Finding
from egdoctor.snapshot.assemble import assemble, derive_envoy_services
from egdoctor.snapshot.kinds import KINDS, spec_for_object
from egdoctor.snapshot.model import AccessProblem, Source
from egdoctor_lab.scenario import builtin_scenarios, load_scenario

ROUTE_CODES = ("EGD201", "EGD202", "EGD203", "EGD204", "EGD205", "EGD206", "EGD207")
GATEWAY_CODES = ("EGD101", "EGD102", "EGD103", "EGD104", "EGD105", "EGD106", "EGD111")
EG = "gateway.envoyproxy.io/gatewayclass-controller"
SHARED_REF = {
    "group": "gateway.networking.k8s.io",
    "kind": "Gateway",
    "name": "shared",
    "namespace": "gateway",
}

Mutate = Callable[[list[dict[str, Any]]], None]


def diagnose(
    scenario: str,
    namespaces: Iterable[str] | None = None,
    mutate: Mutate | None = None,
    mode: str = "cluster",
    problems: Iterable[AccessProblem] = (),
    **options: Any,
) -> Diagnosis:
    """The scenario's objects as a reader would hand them over, optionally changed first."""
    objects = copy.deepcopy(load_scenario(scenario).objects)
    if mutate:
        mutate(objects)
    raw: dict[str, list[Mapping[str, Any]]] = {name: [] for name in KINDS}
    for obj in objects:
        found = spec_for_object(obj["apiVersion"], obj["kind"])
        if found is not None:
            raw[found.name].append(obj)
    raw["EnvoyService"] = derive_envoy_services(raw)
    snapshot = assemble(
        raw,
        frozenset(namespaces) if namespaces is not None else None,
        Source(mode),
        problems=list(problems),
        fetched=set(KINDS),
    )
    return run_checks(snapshot, Options(**options))


def obj(objects: list[dict[str, Any]], kind: str, namespace: str | None, name: str) -> dict[str, Any]:
    for o in objects:
        meta = o.get("metadata", {})
        if o.get("kind") == kind and meta.get("namespace") == namespace and meta.get("name") == name:
            return o
    raise KeyError((kind, namespace, name))


def of(d: Diagnosis, code: str, name: str | None = None) -> list[Finding]:
    return [
        f for f in d.findings if f.code == code and (name is None or (f.subject and f.subject.name == name))
    ]


def codes(d: Diagnosis) -> set[str]:
    return {f.code for f in d.findings}


def forbidden(kind: str, namespace: str | None = None) -> AccessProblem:
    return AccessProblem(kind, "forbidden", "list", KINDS[kind].plural, namespace, "forbidden")


def parents(
    route: dict[str, Any], *conds: tuple[str, str, str, str], ref: Mapping[str, Any] = SHARED_REF
) -> None:
    route["status"] = {
        "parents": [
            {
                "parentRef": dict(ref),
                "controllerName": EG,
                "conditions": [{"type": t, "status": s, "reason": r, "message": m} for t, s, r, m in conds],
            }
        ]
    }


ACCEPTED = ("Accepted", "True", "Accepted", "Route is accepted")
RESOLVED = ("ResolvedRefs", "True", "ResolvedRefs", "Resolved all the Object references for the Route")
NOT_ALLOWED = (
    "Accepted",
    "False",
    "NotAllowedByListeners",
    "No listeners included by this parent ref allowed this attachment.",
)


# -- the healthy layout ---------------------------------------------------------------------------------


@pytest.mark.parametrize("namespaces", [None, ["team-a"], ["team-b"], ["gateway"]])
def test_route_and_gateway_codes_stay_silent_on_the_healthy_layout(namespaces: list[str] | None) -> None:
    d = diagnose("shared-direct-healthy", namespaces)
    noisy = [f for f in d.findings if f.code in ROUTE_CODES + GATEWAY_CODES]
    assert not noisy, [(f.code, f.message) for f in noisy]
    assert not [s for s in d.skipped.values() if s.startswith("internal error")], d.skipped


SCENARIOS = (
    "route-namespace-unlabelled",
    "route-namespace-unlabelled-namespaces-forbidden",
    "route-parent-gateway-missing",
    "route-section-name-wrong",
    "route-status-stale",
    "routes-not-reconciled",
    "route-hostname-mismatch",
    "route-unlabelled-and-wrong-hostname",
    "route-backend-not-found",
    "route-backend-cross-namespace",
    "backend-no-ready-endpoints",
    "tcproute-grpcroute-faults",
    "gateway-class-missing",
    "gateways-per-namespace",
    "listener-from-same-and-team-b-cert",
    "gateway-not-programmed",
    "gateway-invalid-parameters",
    "listener-selector-typo",
)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_route_scenarios_are_shipped_and_run_without_internal_errors(scenario: str) -> None:
    assert scenario in {p.stem for p in builtin_scenarios()}
    d = diagnose(scenario)
    assert not [f for f in d.findings if f.code == "EGD004"], scenario
    assert not [s for s in d.skipped.values() if s.startswith("internal error")], d.skipped
    assert codes(d) & set(ROUTE_CODES + GATEWAY_CODES), scenario  # every one of them shows a fault


# -- EGD201 ---------------------------------------------------------------------------------------------


def test_parent_ref_without_namespace_names_the_gateway_that_exists() -> None:
    d = diagnose("route-parent-gateway-missing", ["team-a"])
    (web,) = of(d, "EGD201", "web")
    assert "team-a/shared" in web.message and "gateway/shared exists" in web.message
    assert "namespace: gateway" in web.hint
    (api,) = of(d, "EGD201", "api")
    assert "gateway/shraed, which does not exist" in api.message
    assert "gateway/shared" in api.hint  # the Gateways of the class are offered
    assert not of(d, "EGD206")


def test_a_missing_gateway_is_not_claimed_when_gateways_could_not_be_read() -> None:
    d = diagnose("route-parent-gateway-missing", ["team-a"], problems=[forbidden("Gateway", "gateway")])
    assert not of(d, "EGD201")
    assert "route-parent-refs" in d.skipped


def test_offline_files_without_any_gateway_say_nothing_about_missing_gateways() -> None:
    def drop_gateways(objects: list[dict[str, Any]]) -> None:
        objects[:] = [o for o in objects if o["kind"] != "Gateway"]

    d = diagnose("route-parent-gateway-missing", ["team-a"], drop_gateways, mode="files")
    assert not of(d, "EGD201")
    # with the Gateways in the files, the same dump does show the problem
    assert of(diagnose("route-parent-gateway-missing", ["team-a"], mode="files"), "EGD201", "web")


def test_wrong_section_name_is_left_to_the_controllers_no_matching_parent() -> None:
    d = diagnose("route-section-name-wrong", ["team-a"])
    assert not of(d, "EGD201")
    (web,) = of(d, "EGD202", "web")
    assert "NoMatchingParent" in web.message and "sectionName https" in web.message
    assert web.gateway is not None and web.gateway.listener == "https"


def test_wrong_section_name_without_status_is_derived_from_the_objects() -> None:
    d = diagnose("route-status-stale", ["team-a"])
    (f,) = of(d, "EGD201", "web")
    assert "listener https-a" in f.message and "https-team-a (port 443)" in f.message
    assert "drop or fix port" not in f.hint  # the parentRef has no port


# -- EGD202 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "name", "reason", "cause"),
    [
        (
            "route-namespace-unlabelled",
            "web",
            "NotAllowedByListeners",
            "allowedRoutes do not admit HTTPRoutes",
        ),
        ("route-hostname-mismatch", "web", "NoMatchingListenerHostname", "www.team-a.example.org"),
        ("route-section-name-wrong", "admin", "NoMatchingParent", "port 8443 in parentRefs[0]"),
        ("tcproute-grpcroute-faults", "api", "NoMatchingListenerHostname", "grpc.team-a.example.org"),
    ],
)
def test_not_accepted_carries_reason_message_and_cause(
    scenario: str, name: str, reason: str, cause: str
) -> None:
    (f,) = of(diagnose(scenario, ["team-a"]), "EGD202", name)
    assert f"{reason}: " in f.message and cause in f.message


def test_not_allowed_hint_uses_the_configured_opt_in_label() -> None:
    d = diagnose(
        "route-namespace-unlabelled-namespaces-forbidden", ["team-a"], namespace_label=("ingress", "yes")
    )
    (f,) = of(d, "EGD202", "web")
    assert "kubectl label namespace team-a ingress=yes" in f.hint


# -- EGD203 ---------------------------------------------------------------------------------------------


def test_unlabelled_namespace_names_the_label_and_the_listeners() -> None:
    d = diagnose("route-namespace-unlabelled", ["team-a"])
    (f,) = of(d, "EGD203", "web")
    assert "shared-gateway-access=true (the opt-in label of the shared Gateway)" in f.message
    assert "http, https-team-a, https-team-b of gateway/shared" in f.message
    assert f.hint == "kubectl label namespace team-a shared-gateway-access=true"


def test_a_wrong_label_value_needs_overwrite() -> None:
    def wrong_value(objects: list[dict[str, Any]]) -> None:
        obj(objects, "Namespace", None, "team-a")["metadata"]["labels"]["shared-gateway-access"] = "yes"

    (f,) = of(diagnose("route-namespace-unlabelled", ["team-a"], wrong_value), "EGD203")
    assert f.hint.endswith("shared-gateway-access=true --overwrite")


def test_namespace_check_is_skipped_when_namespaces_are_forbidden_and_the_verdict_remains() -> None:
    d = diagnose("route-namespace-unlabelled", ["team-a"], problems=[forbidden("Namespace")])
    assert "route-namespace-label" in d.skipped
    assert not of(d, "EGD203")
    assert of(d, "EGD202", "web")


def test_selector_typo_points_at_the_selector_not_the_namespace() -> None:
    d = diagnose("listener-selector-typo", None)
    assert {f.subject.name for f in of(d, "EGD203") if f.subject} == {"web", "shop"}
    for f in of(d, "EGD203"):
        assert "shared-gateway-acess=true" in f.message
        assert "fix the allowedRoutes selector of Gateway gateway/shared" in f.hint
    assert len(of(d, "EGD106")) == 3


def test_a_labelled_namespace_is_silent() -> None:
    def label(objects: list[dict[str, Any]]) -> None:
        obj(objects, "Namespace", None, "team-a")["metadata"]["labels"]["shared-gateway-access"] = "true"

    assert not of(diagnose("route-namespace-unlabelled", ["team-a"], label), "EGD203")


# -- EGD204 ---------------------------------------------------------------------------------------------


def test_resolved_refs_false_is_reported_once_per_route_and_verdict() -> None:
    def two_parents(objects: list[dict[str, Any]]) -> None:
        web = obj(objects, "HTTPRoute", "team-a", "web")
        section = {**SHARED_REF, "sectionName": "https-team-a"}
        web["spec"]["parentRefs"] = [dict(SHARED_REF), section]
        entry = web["status"]["parents"][0]
        web["status"]["parents"].append({**copy.deepcopy(entry), "parentRef": section})

    d = diagnose("route-backend-not-found", ["team-a"], two_parents)
    (f,) = of(d, "EGD204", "web")
    assert "gateway/shared, gateway/shared listener https-team-a" in f.message
    assert "BackendNotFound" in f.message
    (static,) = of(d, "EGD204", "static")
    assert "PortNotFound" in static.message and "not the targetPort" in static.hint


def test_ref_not_permitted_hint_spells_out_the_reference_grant() -> None:
    (f,) = of(diagnose("route-backend-cross-namespace", ["team-a"]), "EGD204", "web")
    assert "RefNotPermitted" in f.message
    assert "kind HTTPRoute, namespace team-a" in f.hint


def test_backends_are_derived_from_objects_only_when_the_controller_is_silent() -> None:
    d = diagnose("routes-not-reconciled", ["team-a"])
    (f,) = of(d, "EGD204", "api")
    assert "(Service team-a/api) does not exist (BackendNotFound)" in f.message
    assert "no ResolvedRefs status" in f.message

    def with_status(objects: list[dict[str, Any]]) -> None:
        parents(obj(objects, "HTTPRoute", "team-a", "api"), ACCEPTED, RESOLVED)

    assert not of(diagnose("routes-not-reconciled", ["team-a"], with_status), "EGD204")


def test_derived_backends_cover_ports_and_reference_grants() -> None:
    def unreconciled(objects: list[dict[str, Any]]) -> None:
        web = obj(objects, "HTTPRoute", "team-a", "web")
        del web["status"]
        web["spec"]["rules"][0]["backendRefs"][0]["port"] = 8080

    d = diagnose("route-backend-cross-namespace", ["team-a"], unreconciled)
    messages = sorted(f.message for f in of(d, "EGD204", "web"))
    assert len(messages) == 2, messages
    assert "has no port 8080 (it has: 80) (PortNotFound)" in messages[0]
    assert "no ReferenceGrant in shared-services allows HTTPRoutes from team-a" in messages[1]

    def grant_team_a(objects: list[dict[str, Any]]) -> None:
        unreconciled(objects)
        grant = obj(objects, "ReferenceGrant", "shared-services", "allow-team-b-routes")
        grant["spec"]["from"].append(
            {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "team-a"}
        )

    (only,) = of(diagnose("route-backend-cross-namespace", ["team-a"], grant_team_a), "EGD204", "web")
    assert "PortNotFound" in only.message


def test_an_unreadable_backend_namespace_is_not_called_missing() -> None:
    d = diagnose("routes-not-reconciled", ["team-a"], problems=[forbidden("Service", "team-a")])
    assert not of(d, "EGD204")

    # offline, a dump without Services of the namespace cannot tell either
    def no_services(objects: list[dict[str, Any]]) -> None:
        objects[:] = [
            o for o in objects if not (o["kind"] == "Service" and o["metadata"]["namespace"] == "team-a")
        ]

    assert not of(diagnose("routes-not-reconciled", ["team-a"], no_services, mode="files"), "EGD204")


# -- EGD205 ---------------------------------------------------------------------------------------------


def test_no_ready_endpoints_from_slices_and_from_the_controller() -> None:
    d = diagnose("backend-no-ready-endpoints", None)
    (web,) = of(d, "EGD205", "web")
    assert "team-a/web" in web.message and "2 endpoint(s), none ready" in web.message
    assert "kubectl get pods -n team-a -l app=web" in web.hint
    (shop,) = of(d, "EGD205", "shop")  # slices and BackendsAvailable agree: one finding
    assert "no endpoints at all" in shop.message


def test_the_controllers_endpoints_verdict_stands_in_for_unread_slices() -> None:
    def no_slices(objects: list[dict[str, Any]]) -> None:
        objects[:] = [o for o in objects if o["kind"] != "EndpointSlice"]

    d = diagnose("backend-no-ready-endpoints", None, no_slices, mode="files")
    (shop,) = of(d, "EGD205", "shop")
    assert "backend Service team-b/shop has" in shop.message  # the message's final period is not the name
    assert not of(d, "EGD205", "web")  # nothing says team-a's pods are unready


@pytest.mark.parametrize(
    ("conditions", "usable"),
    [
        ({"ready": True, "serving": True, "terminating": False}, True),
        ({"ready": False, "serving": False, "terminating": False}, False),
        ({"ready": False, "serving": True, "terminating": True}, False),
        ({}, True),  # unknown readiness counts as ready (discovery/v1 EndpointConditions)
        ({"ready": False}, False),
    ],
)
def test_endpoint_readiness_follows_envoy_gateway(conditions: dict[str, Any], usable: bool) -> None:
    def set_conditions(objects: list[dict[str, Any]]) -> None:
        for ep in obj(objects, "EndpointSlice", "team-a", "web-7x2kq")["endpoints"]:
            ep["conditions"] = dict(conditions)

    d = diagnose("shared-direct-healthy", ["team-a"], set_conditions)
    assert bool(of(d, "EGD205")) is not usable


def test_weight_zero_backends_do_not_need_endpoints() -> None:
    def weight_zero(objects: list[dict[str, Any]]) -> None:
        obj(objects, "HTTPRoute", "team-a", "web")["spec"]["rules"][0]["backendRefs"][0]["weight"] = 0

    assert of(diagnose("backend-no-ready-endpoints", ["team-a"]), "EGD205", "web")
    assert not of(diagnose("backend-no-ready-endpoints", ["team-a"], weight_zero), "EGD205", "web")


# -- EGD206 ---------------------------------------------------------------------------------------------


def test_unreconciled_route_and_stale_status() -> None:
    (fresh,) = of(diagnose("routes-not-reconciled", ["team-a"]), "EGD206", "api")
    assert "never reconciled" in fresh.message
    (stale,) = of(diagnose("route-status-stale", ["team-a"]), "EGD206", "web")
    assert "earlier parentRef (the whole Gateway)" in stale.message


def test_no_status_is_expected_for_gateways_envoy_gateway_did_not_accept() -> None:
    assert not of(diagnose("gateway-class-missing", ["team-a"]), "EGD206")

    def rejected(objects: list[dict[str, Any]]) -> None:
        gw = obj(objects, "Gateway", "gateway", "shared")
        gw["status"]["conditions"][0].update(status="False", reason="InvalidParameters")

    assert not of(diagnose("routes-not-reconciled", ["team-a"], rejected), "EGD206")


def test_status_from_another_controller_is_named() -> None:
    def foreign(objects: list[dict[str, Any]]) -> None:
        api = obj(objects, "HTTPRoute", "team-a", "api")
        parents(api, ACCEPTED)
        api["status"]["parents"][0]["controllerName"] = "example.com/other-controller"

    (f,) = of(diagnose("routes-not-reconciled", ["team-a"], foreign), "EGD206", "api")
    assert "only example.com/other-controller wrote status" in f.message


# -- EGD207 ---------------------------------------------------------------------------------------------


def test_hostname_mismatch_is_reported_where_the_controller_did_not_check_it() -> None:
    d = diagnose("route-unlabelled-and-wrong-hostname", ["team-a"])
    (f,) = of(d, "EGD207", "web")
    assert "team-a.example.net" in f.message and "(team-a.example.com)" in f.message
    # the controller's NoMatchingListenerHostname already says it: no repeat
    assert not of(diagnose("route-hostname-mismatch", ["team-a"]), "EGD207")


@pytest.mark.parametrize(
    ("listener_host", "route_host", "fires"),
    [
        ("*.team-a.example.com", "app.team-a.example.com", False),
        ("*.team-a.example.com", "team-a.example.com", True),  # a wildcard does not cover the bare domain
        ("team-a.example.com", "*.example.com", False),  # a wildcard route covers the listener's host
        ("team-a.example.com", "team-a.example.net", True),
    ],
)
def test_hostname_intersection_follows_gateway_api(listener_host: str, route_host: str, fires: bool) -> None:
    def setup(objects: list[dict[str, Any]]) -> None:
        gw = obj(objects, "Gateway", "gateway", "shared")
        gw["spec"]["listeners"][1]["hostname"] = listener_host
        web = obj(objects, "HTTPRoute", "team-a", "web")
        web["spec"]["hostnames"] = [route_host]
        web["spec"]["parentRefs"] = [{**SHARED_REF, "sectionName": "https-team-a"}]
        del web["status"]  # the controller has not looked: the objects decide

    assert bool(of(diagnose("shared-direct-healthy", ["team-a"], setup), "EGD207")) is fires


def test_without_section_name_any_listener_of_the_route_kind_may_match() -> None:
    def setup(objects: list[dict[str, Any]]) -> None:
        web = obj(objects, "HTTPRoute", "team-a", "web")
        web["spec"]["hostnames"] = ["www.elsewhere.example"]
        del web["status"]

    # listener http has no hostname, so it matches every hostname
    assert not of(diagnose("shared-direct-healthy", ["team-a"], setup), "EGD207")

    def no_http(objects: list[dict[str, Any]]) -> None:
        setup(objects)
        gw = obj(objects, "Gateway", "gateway", "shared")
        gw["spec"]["listeners"] = gw["spec"]["listeners"][1:]

    (f,) = of(diagnose("shared-direct-healthy", ["team-a"], no_http), "EGD207")
    assert "https-team-a, https-team-b" in f.message


def test_tcp_routes_have_no_hostnames_to_compare() -> None:
    d = diagnose("tcproute-grpcroute-faults", ["team-a"])
    assert not of(d, "EGD207")
    (db,) = of(d, "EGD204", "db")
    assert db.subject is not None and db.subject.kind == "TCPRoute"
    assert "tcp-postgres" in db.message and "PortNotFound" in db.message


# -- EGD1xx fixes ---------------------------------------------------------------------------------------


def test_a_gateway_nobody_reconciled_is_one_egd103_not_a_rejection() -> None:
    d = diagnose("gateway-class-missing", ["team-a"])
    assert not of(d, "EGD102")
    (f,) = of(d, "EGD103", "web")
    assert "not been reconciled" in f.message and "EGD101" in f.message
    (cls,) = of(d, "EGD101")
    assert cls.subject is not None and cls.subject.name == "envoy"


def test_from_same_needs_no_namespace_list() -> None:
    d = diagnose("listener-from-same-and-team-b-cert", ["team-a"], problems=[forbidden("Namespace")])
    (f,) = of(d, "EGD106")
    assert f.gateway is not None and f.gateway.listener == "https-team-a"
    assert "allowed-routes" in d.skipped and "allowed-routes-same" not in d.skipped


# -- scope ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["cluster", "files"])
def test_team_bs_faults_stay_out_of_team_as_report(mode: str) -> None:
    a = diagnose("listener-from-same-and-team-b-cert", ["team-a"], mode=mode)
    assert codes(a) & {"EGD104", "EGD204"} == set(), [(f.code, f.message) for f in a.findings]
    assert of(a, "EGD106")
    b = diagnose("listener-from-same-and-team-b-cert", ["team-b"], mode=mode)
    assert {"EGD104", "EGD204"} <= codes(b) and not of(b, "EGD106")


def test_another_teams_route_findings_stay_out_of_an_offline_report() -> None:
    # Offline every object is loaded; team-a's route attaches to the whole shared Gateway (no sectionName).
    b = diagnose("route-namespace-unlabelled", ["team-b"], mode="files")
    assert not [f for f in b.findings if f.subject and f.subject.namespace == "team-a"]
