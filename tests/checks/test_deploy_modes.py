"""Envoy Gateway's three Envoy layouts (default, mergeGateways, GatewayNamespace), the EG version, and the
advice that depends on it; in process, from small objects.

Upstream behaviour relied on (envoyproxy/gateway v1.9.1): internal/gatewayapi/helpers.go OwnerLabels and
IsMergeGatewaysEnabled (merged Envoys are labelled by GatewayClass; the class's EnvoyProxy decides);
internal/infrastructure/kubernetes/proxy_infra.go GetResourceNamespace and proxy/resource_provider.go Name
(GatewayNamespace mode: the Gateway's namespace, the Gateway's name); internal/gatewayapi/globalresources.go
processServiceClusterForGateway (EG looks for the Service only there); internal/gatewayapi/resource/
resource.go Sort (merged Gateways in creation order); api/v1alpha1/clienttrafficpolicy_types.go at v1.4.0
and v1.5.0 (proxyProtocol arrives in v1.5.0, deprecating enableProxyProtocol).
"""

from __future__ import annotations

from typing import Any

from egdoctor.model.eg_version import version_from_image
from egdoctor.model.topology import DEFAULT_MODE, GATEWAY_NAMESPACE_MODE, MERGED_MODE
from tests.checks.test_clientip import (
    DIRECT,
    PP,
    codes,
    ctp,
    diagnose,
    envoy_service,
    gateway,
    only,
    route,
)

CLASS_LABEL = "gateway.envoyproxy.io/owning-gatewayclass"


def gateway_class(proxy: str | None = "merged-proxy") -> dict[str, Any]:
    spec: dict[str, Any] = {"controllerName": "gateway.envoyproxy.io/gatewayclass-controller"}
    if proxy:
        spec["parametersRef"] = {
            "group": "gateway.envoyproxy.io",
            "kind": "EnvoyProxy",
            "name": proxy,
            "namespace": "envoy-gateway-system",
        }
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": {"name": "eg"},
        "spec": spec,
    }


def envoy_proxy(merge: bool | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"provider": {"type": "Kubernetes"}}
    if merge is not None:
        spec["mergeGateways"] = merge
    return {
        "apiVersion": "gateway.envoyproxy.io/v1alpha1",
        "kind": "EnvoyProxy",
        "metadata": {"name": "merged-proxy", "namespace": "envoy-gateway-system"},
        "spec": spec,
    }


def class_service(annotations: dict[str, str] | None = None) -> dict[str, Any]:
    svc = envoy_service(annotations if annotations is not None else {PP: "v2"}, name="envoy-eg-9a8b7c6d")
    svc["metadata"]["labels"] = {CLASS_LABEL: "eg"}
    return svc


def controller(image: str) -> dict[str, Any]:
    labels = {"control-plane": "envoy-gateway"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "envoy-gateway", "namespace": "envoy-gateway-system", "labels": labels},
        "spec": {"template": {"spec": {"containers": [{"name": "envoy-gateway", "image": image}]}}},
    }


def test_the_classes_one_service_is_found_by_its_class_label() -> None:
    d = diagnose([gateway_class(), envoy_proxy(True), gateway(), route(), class_service()], ns=None)
    gv = d.topology.gateways[("gateway", "shared")]
    assert gv.deployment.mode == MERGED_MODE
    assert gv.envoy_service is not None and gv.envoy_service.name == "envoy-eg-9a8b7c6d"
    assert "EGD312" not in codes(d)


def test_the_class_label_alone_tells_merged_when_the_envoyproxy_is_unreadable() -> None:
    d = diagnose([gateway_class(), gateway(), route(), class_service()], ns=None)
    assert d.topology.gateways[("gateway", "shared")].deployment.mode == MERGED_MODE
    assert "EGD312" not in codes(d) and "EGD108" not in [f.code for f in d.findings]


def test_merged_without_the_classes_service_names_the_class_label() -> None:
    d = diagnose([gateway_class(), envoy_proxy(True), gateway(), route()], ns=None)
    found = only(d, "EGD312")
    assert f"{CLASS_LABEL}=eg" in found.message and "mergeGateways" in found.message


def test_a_per_gateway_service_under_merge_gateways_is_egd108() -> None:
    d = diagnose([gateway_class(), envoy_proxy(True), gateway(), route(), envoy_service({PP: "v2"})], ns=None)
    found = only(d, "EGD108")
    assert "sets mergeGateways: true" in found.message
    assert "EGD312" not in codes(d)  # the Service traffic reaches today is still diagnosed


def test_the_classes_service_with_merge_gateways_false_is_egd108() -> None:
    d = diagnose([gateway_class(), envoy_proxy(False), gateway(), route(), class_service()], ns=None)
    assert "mergeGateways: false" in only(d, "EGD108").message


def test_gateway_namespace_mode_is_read_from_where_the_service_is() -> None:
    svc = envoy_service({PP: "v2"}, name="shared", ns="gateway")
    d = diagnose([gateway(), route(), svc, ctp(DIRECT)], ns=None)
    gv = d.topology.gateways[("gateway", "shared")]
    assert gv.deployment.mode == GATEWAY_NAMESPACE_MODE
    assert not [f for f in d.findings if f.code.startswith("EGD3")]


def test_a_labelled_service_where_eg_never_looks_is_ignored() -> None:
    """A tenant can label a Service in its own namespace as the shared Gateway's Envoy; EG never reads it."""
    decoy = envoy_service({}, name="aaa-fake", ns="apps")
    real = envoy_service({PP: "v2"})
    d = diagnose([gateway(), route(), decoy, real, ctp(DIRECT)], ns=None)
    gv = d.topology.gateways[("gateway", "shared")]
    assert gv.envoy_service is not None and gv.envoy_service.namespace == "envoy-gateway-system"
    assert gv.deployment.mode == DEFAULT_MODE
    assert "EGD304" not in codes(d)


def test_merged_gateways_share_a_plain_http_port_across_gateways() -> None:
    """The first plain-HTTP listener on a port (Gateways in creation order) sets PROXY for the port."""
    first = gateway([("http", 80, "HTTP", None)])
    second = gateway([("http-internal", 80, "HTTP", "internal.example.com")], name="internal")
    second["metadata"]["creationTimestamp"] = "2026-01-12T09:01:00Z"
    objs = [gateway_class(), envoy_proxy(True), first, second, class_service(), ctp(DIRECT)]
    objs.append(
        route(name="tools", ns="team-b", hostnames=["internal.example.com"], gw=("gateway", "internal"))
    )
    d = diagnose(objs, ns=None)
    internal = d.topology.gateways[("gateway", "internal")].listener("http-internal")
    assert internal is not None
    assert internal.client_ip.proxy_protocol == "strict"
    assert internal.client_ip.proxy_from_gateway == ("gateway", "shared")
    assert "EGD305" not in codes(d)
    assert "EGD105" not in [f.code for f in d.findings]  # one Envoy, one load balancer


def test_without_merge_gateways_each_gateway_keeps_its_own_port() -> None:
    first = gateway([("http", 80, "HTTP", None)])
    second = gateway([("http-internal", 80, "HTTP", "internal.example.com")], name="internal")
    svc2 = envoy_service({PP: "v2"}, name="envoy-gateway-internal-1", gw=("gateway", "internal"))
    d = diagnose([first, second, envoy_service({PP: "v2"}), svc2, ctp(DIRECT)], ns=None)
    internal = d.topology.gateways[("gateway", "internal")].listener("http-internal")
    assert internal is not None and internal.client_ip.proxy_protocol == "off"
    assert "EGD305" in codes(d)


def test_version_from_the_controller_image() -> None:
    assert version_from_image("docker.io/envoyproxy/gateway:v1.9.1") == (1, 9, 1)
    assert version_from_image("registry:5000/envoyproxy/gateway:v1.4.0@sha256:abc") == (1, 4, 0)
    assert version_from_image("envoyproxy/gateway-dev:latest") is None
    assert version_from_image("envoyproxy/gateway") is None


LEGACY = {"enableProxyProtocol": True}


def test_enable_proxy_protocol_is_not_deprecated_before_v1_5() -> None:
    base = [gateway(), route(), envoy_service({PP: "v2"}), ctp(LEGACY)]
    assert "EGD307" not in codes(
        diagnose([*base, controller("docker.io/envoyproxy/gateway:v1.4.2")], ns=None)
    )
    assert "EGD307" in codes(diagnose([*base, controller("docker.io/envoyproxy/gateway:v1.5.0")], ns=None))
    unknown = only(diagnose(base, ns=None), "EGD307")
    assert "v1.5 or later" in unknown.hint or "v1.5 or later" in unknown.message
