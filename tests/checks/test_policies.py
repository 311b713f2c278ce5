"""Checks of the other Envoy Gateway policies (EGD701-EGD704), in process from small objects.

Status shapes follow envoyproxy/gateway internal/gatewayapi/status/policy.go; the CA lookup follows
internal/gatewayapi/backendtlspolicy.go (ConfigMap or Secret in the policy's namespace, key ca.crt).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from egdoctor.checks.engine import run_checks
from egdoctor.checks.registry import Options
from egdoctor.findings.model import Severity
from egdoctor.snapshot.files import load_files
from tests.checks.test_clientip import (
    ACCEPTED,
    DIRECT,
    EG,
    GW_GROUP,
    PP,
    SCENARIOS,
    XFF1,
    ancestors,
    codes,
    condition,
    ctp,
    diagnose,
    envoy_service,
    gateway,
    mine,
    only,
    route,
)

PEM = "-----BEGIN CERTIFICATE-----\nTEFC\n-----END CERTIFICATE-----\n"


def policy(
    kind: str,
    spec: Mapping[str, Any],
    name: str = "p",
    ns: str = "team-a",
    targets: Iterable[tuple[str, str]] = (("HTTPRoute", "web"),),
    status: Mapping[str, Any] | None = None,
) -> dict:
    group = "gateway.networking.k8s.io/v1" if kind == "BackendTLSPolicy" else "gateway.envoyproxy.io/v1alpha1"
    target_group = "" if kind == "BackendTLSPolicy" else GW_GROUP
    refs = [{"group": target_group, "kind": k, "name": n} for k, n in targets]
    return {
        "apiVersion": group,
        "kind": kind,
        "metadata": {"name": name, "namespace": ns},
        "spec": {"targetRefs": refs, **spec},
        "status": dict(status) if status is not None else ancestors(ACCEPTED),
    }


def service(name: str, ns: str = "team-a") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"ports": [{"port": 443}]},
    }


def configmap(name: str, data: Mapping[str, str], ns: str = "team-a") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": dict(data),
    }


def base(spec: Mapping[str, Any] | None = DIRECT, annotation: str | None = "v2") -> list[dict]:
    objs = [
        gateway(),
        route(),
        envoy_service({PP: annotation} if annotation else {}, ranges=["198.51.100.0/24"]),
    ]
    if spec is not None:
        objs.append(ctp(spec))
    return objs


OFFICE = {
    "authorization": {
        "defaultAction": "Deny",
        "rules": [{"action": "Allow", "principal": {"clientCIDRs": ["192.0.2.0/24"]}}],
    }
}
DISTINCT = {
    "rateLimit": {
        "type": "Global",
        "global": {
            "rules": [
                {
                    "clientSelectors": [{"sourceCIDR": {"type": "Distinct", "value": "0.0.0.0/0"}}],
                    "limit": {"requests": 10, "unit": "Second"},
                }
            ]
        },
    }
}
EXACT = {
    "rateLimit": {
        "local": {
            "rules": [
                {
                    "clientSelectors": [{"sourceCIDR": {"value": "192.0.2.0/24"}}],
                    "limit": {"requests": 10, "unit": "Second"},
                }
            ]
        }
    }
}
HASH = {"loadBalancer": {"type": "ConsistentHash", "consistentHash": {"type": "SourceIP"}}}


@pytest.mark.parametrize("scenario", ["shared-direct-healthy.yaml", "shared-xff-healthy.yaml"])
def test_healthy_scenarios_report_no_policy_codes(scenario: str) -> None:
    d = run_checks(load_files([str(SCENARIOS / scenario)], None), Options())
    assert mine(d, ("EGD7",)) == []


# -- EGD701 --------------------------------------------------------------------------------------------------


def test_701_conflicted_carries_reason_and_message() -> None:
    msg = "Unable to target HTTPRoute web, another BackendTrafficPolicy has already attached to it"
    p = policy(
        "BackendTrafficPolicy",
        {"retry": {"numRetries": 2}},
        status=ancestors(condition("Accepted", "False", "Conflicted", msg)),
    )
    f = only(diagnose([*base(), p]), "EGD701")
    assert "Accepted=False (Conflicted)" in f.message and msg in f.message
    assert f.severity is Severity.ERROR
    assert f.gateway is None  # a route-level policy belongs to its namespace, not to every Gateway user


def test_701_overridden_gateway_policy_is_a_warning_shown_to_gateway_users() -> None:
    msg = "This policy is being overridden by other securityPolicies for these routes: [team-a/web]"
    p = policy(
        "SecurityPolicy",
        {"cors": {"allowOrigins": ["https://x.example.com"]}},
        ns="gateway",
        targets=[("Gateway", "shared")],
        status=ancestors(ACCEPTED, condition("Overridden", "True", "Overridden", msg)),
    )
    d = diagnose([*base(), p], ns="team-a")
    f = only(d, "EGD701")
    assert f.severity is Severity.WARNING and msg in f.message
    assert f.gateway is not None and f.gateway.key == ("gateway", "shared")


def test_701_target_that_does_not_exist() -> None:
    p = policy("SecurityPolicy", OFFICE, targets=[("HTTPRoute", "web-v1")], status={})
    f = only(diagnose([*base(), p]), "EGD701")
    assert "HTTPRoute team-a/web-v1, which does not exist" in f.message and f.severity is Severity.ERROR


def test_701_existing_target_without_status_is_a_warning() -> None:
    p = policy("BackendTrafficPolicy", {"retry": {"numRetries": 2}}, status={})
    f = only(diagnose([*base(), p]), "EGD701")
    assert f.severity is Severity.WARNING and "no status from Envoy Gateway" in f.message


def test_701_ignores_policies_of_other_controllers() -> None:
    status = {
        "ancestors": [
            {
                "ancestorRef": {"name": "other"},
                "controllerName": "example.com/ctl",
                "conditions": [condition("Accepted", "False", "Invalid", "x")],
            }
        ]
    }
    p = policy(
        "BackendTLSPolicy",
        {"validation": {"hostname": "a", "wellKnownCACertificates": "System"}},
        targets=[("Service", "web")],
        status=status,
    )
    assert codes(diagnose([*base(), service("web"), p])) == []


def test_701_leaves_ca_problems_of_backend_tls_policies_to_704() -> None:
    status = ancestors(
        condition("ResolvedRefs", "False", "InvalidCACertificateRef", "configmap ca not found"),
        condition("Accepted", "False", "NoValidCACertificate", "configmap ca not found"),
    )
    p = policy(
        "BackendTLSPolicy",
        {
            "validation": {
                "hostname": "api",
                "caCertificateRefs": [{"group": "", "kind": "ConfigMap", "name": "ca"}],
            }
        },
        targets=[("Service", "api")],
        status=status,
    )
    d = diagnose([*base(), service("api"), p])
    assert codes(d) == ["EGD704"]


def test_701_backend_tls_policy_on_a_deleted_service() -> None:
    p = policy(
        "BackendTLSPolicy",
        {"validation": {"hostname": "a", "wellKnownCACertificates": "System"}},
        targets=[("Service", "gone")],
        status={},
    )
    assert "Service team-a/gone, which does not exist" in only(diagnose([*base(), p]), "EGD701").message


# -- EGD702 / EGD703 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "annotation", "seen"),
    [
        (None, None, "the load balancer's internal address"),
        ({**DIRECT, **XFF1}, "v2", "an address the client writes into X-Forwarded-For"),
        (DIRECT, None, "only addresses clients forge"),
        (None, "v2", "no client at all"),
    ],
)
def test_702_client_cidrs_where_envoy_cannot_see_clients(
    spec: Any, annotation: str | None, seen: str
) -> None:
    f = only(diagnose([*base(spec, annotation), policy("SecurityPolicy", OFFICE)]), "EGD702")
    assert seen in f.message and "192.0.2.0/24" in f.message


@pytest.mark.parametrize(("spec", "annotation"), [(DIRECT, "v2"), (XFF1, None)])
def test_702_silent_in_a_consistent_mode(spec: Any, annotation: str | None) -> None:
    assert "EGD702" not in codes(diagnose([*base(spec, annotation), policy("SecurityPolicy", OFFICE)]))


def test_702_only_on_the_listeners_the_route_uses() -> None:
    objs = [*base(), ctp({"timeout": {}}, name="https-t", section="https")]
    f = only(diagnose([*objs, policy("SecurityPolicy", OFFICE)]), "EGD702")
    assert "listener https of Gateway gateway/shared" in f.message


def test_702_on_a_gateway_policy_is_scoped_to_the_gateway() -> None:
    p = policy("SecurityPolicy", OFFICE, ns="gateway", targets=[("Gateway", "shared")])
    f = only(diagnose([*base(None, None), p], ns="team-a"), "EGD702")
    assert f.gateway is not None and f.gateway.key == ("gateway", "shared")


@pytest.mark.parametrize(
    ("spec", "text", "severity"),
    [
        (DISTINCT, "every client shares one counter", Severity.ERROR),
        (EXACT, "applies to every client or to none", Severity.ERROR),
        (HASH, "every client hashes to the same backend endpoint", Severity.WARNING),
    ],
)
def test_703_client_ip_keyed_settings(spec: Mapping[str, Any], text: str, severity: Severity) -> None:
    f = only(diagnose([*base(None, None), policy("BackendTrafficPolicy", spec)]), "EGD703")
    assert text in f.message and f.severity is severity


def test_703_forged_addresses_escape_the_limit() -> None:
    f = only(diagnose([*base({**DIRECT, **XFF1}), policy("BackendTrafficPolicy", DISTINCT)]), "EGD703")
    assert "escape the limit" in f.message


def test_703_silent_in_direct_mode() -> None:
    assert "EGD703" not in codes(diagnose([*base(), policy("BackendTrafficPolicy", {**DISTINCT, **HASH})]))


# -- EGD704 --------------------------------------------------------------------------------------------------


def tls_policy(validation: Mapping[str, Any], status: Mapping[str, Any] | None = None) -> dict:
    return policy(
        "BackendTLSPolicy",
        {"validation": dict(validation)},
        name="api-tls",
        targets=[("Service", "api")],
        status=status,
    )


CA_REF = {
    "caCertificateRefs": [{"group": "", "kind": "ConfigMap", "name": "api-ca"}],
    "hostname": "api.internal",
}


@pytest.mark.parametrize(
    ("objs", "text"),
    [
        ([], "ConfigMap team-a/api-ca does not exist"),
        ([configmap("api-ca", {"ca.pem": PEM, "notes": "x"})], "has no ca.crt key and not exactly one key"),
        ([configmap("api-ca", {"ca.crt": "not a certificate"})], "holds no PEM certificate"),
    ],
)
def test_704_ca_configmap(objs: list[dict], text: str) -> None:
    f = only(diagnose([*base(), service("api"), tls_policy(CA_REF), *objs]), "EGD704")
    assert text in f.message


@pytest.mark.parametrize("key", ["ca.pem", "tls.crt"])
def test_705_ca_under_a_key_eg_falls_back_to(key: str) -> None:
    """EG takes ca.crt, then tls.crt, then the only key of the ConfigMap (getFirstMatchOrFirstFromData in
    internal/gatewayapi/helpers.go, envoyproxy/gateway v1.9.1): accepted, so a warning, never EGD704."""
    data = {key: PEM} if key != "tls.crt" else {key: PEM, "tls.key": "k"}
    d = diagnose([*base(), service("api"), tls_policy(CA_REF), configmap("api-ca", data)])
    assert "EGD704" not in codes(d)
    assert f"takes the CA from key {key}" in only(d, "EGD705").message


def test_704_healthy_configmap() -> None:
    assert (
        codes(diagnose([*base(), service("api"), tls_policy(CA_REF), configmap("api-ca", {"ca.crt": PEM})]))
        == []
    )


def test_704_no_hostname_and_no_ca() -> None:
    d = diagnose([*base(), service("api"), tls_policy({})])
    messages = [f.message for f in d.findings if f.code == "EGD704"]
    assert any("sets no validation.hostname" in m for m in messages)
    assert any("neither validation.caCertificateRefs nor wellKnownCACertificates" in m for m in messages)


def test_704_secret_reference_falls_back_to_the_controller_status() -> None:
    status = ancestors(
        condition("ResolvedRefs", "False", "InvalidCACertificateRef", "secret api-ca not found")
    )
    validation = {"caCertificateRefs": [{"group": "", "kind": "Secret", "name": "api-ca"}], "hostname": "api"}
    f = only(diagnose([*base(), service("api"), tls_policy(validation, status)]), "EGD704")
    assert "InvalidCACertificateRef" in f.message and "secret api-ca not found" in f.message


def test_704_secret_reference_with_a_healthy_status_is_silent() -> None:
    validation = {"caCertificateRefs": [{"group": "", "kind": "Secret", "name": "api-ca"}], "hostname": "api"}
    assert codes(diagnose([*base(), service("api"), tls_policy(validation)])) == []


def test_controller_name_constant_matches_the_fixtures() -> None:
    assert EG == "gateway.envoyproxy.io/gatewayclass-controller"
