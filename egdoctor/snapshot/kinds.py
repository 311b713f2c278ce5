"""The kinds egdoctor reads, and where each is fetched from.

A check names the kinds it reads (its inputs); the snapshot fetches exactly the union of the inputs of
the checks that run. `EnvoyService` is not a Kubernetes kind but a view: the Services Envoy Gateway
creates for Gateways, found by its owning-gateway (or, with mergeGateways, owning-gatewayclass) labels in
whichever namespace they live.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Scope(enum.Enum):
    CLUSTER = "cluster"  # cluster-scoped kind: one list
    ROUTES = "routes"  # the asked namespaces (all namespaces when a Gateway is in scope)
    GATEWAYS = "gateways"  # the asked namespaces plus the namespaces of Gateways routes point at
    BACKENDS = "backends"  # the asked namespaces plus the namespaces of route backends
    LISTENER_SECRETS = "listener-secrets"  # the namespaces listener certificateRefs point at
    ENVOY_SERVICE = "envoy-service"  # Services labelled by Envoy Gateway, across namespaces
    # what GatewayClass spec.parametersRef (namespace given) and Gateway spec.infrastructure.parametersRef
    # (the Gateway's namespace) name: read only in the namespaces those refs point at
    PARAMETERS = "parameters"
    CONTROLLER = "controller"  # the Envoy Gateway controller's own namespace only


@dataclass(frozen=True)
class KindSpec:
    name: str  # how checks name it
    kind: str  # the Kubernetes kind
    group: str  # "" for core
    plural: str
    versions: tuple[str, ...]  # preferred first; discovery picks the first served
    scope: Scope
    required: bool = False  # missing API -> EGD003 (optional kinds are simply empty)
    # one list per selector, their objects together: Kubernetes selectors cannot say "this label or that"
    label_selectors: tuple[str, ...] = ()
    # read for context only (the EG version): a denial or absence is said once in the report header,
    # never as EGD002/EGD003, and skips no check; tenants usually may not read the controller's namespace
    quiet: bool = False

    @property
    def namespaced(self) -> bool:
        return self.scope is not Scope.CLUSTER

    @property
    def group_kind(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind


GW = "gateway.networking.k8s.io"
GWX = "gateway.networking.x-k8s.io"
EG = "gateway.envoyproxy.io"
CM = "cert-manager.io"
ACME = "acme.cert-manager.io"

OWNING_GATEWAY_NAME = "gateway.envoyproxy.io/owning-gateway-name"
OWNING_GATEWAY_NAMESPACE = "gateway.envoyproxy.io/owning-gateway-namespace"
# with mergeGateways, EG labels the one Envoy of a GatewayClass by the class instead of by Gateway
# (internal/gatewayapi/helpers.go OwnerLabels)
OWNING_GATEWAYCLASS = "gateway.envoyproxy.io/owning-gatewayclass"
ENVOY_GATEWAY_SYSTEM = "envoy-gateway-system"  # where the Helm chart installs the controller

_KINDS = [
    KindSpec("GatewayClass", "GatewayClass", GW, "gatewayclasses", ("v1", "v1beta1"), Scope.CLUSTER, True),
    KindSpec("Gateway", "Gateway", GW, "gateways", ("v1", "v1beta1"), Scope.GATEWAYS, True),
    KindSpec("HTTPRoute", "HTTPRoute", GW, "httproutes", ("v1", "v1beta1"), Scope.ROUTES, True),
    KindSpec("GRPCRoute", "GRPCRoute", GW, "grpcroutes", ("v1", "v1alpha2"), Scope.ROUTES),
    KindSpec("TCPRoute", "TCPRoute", GW, "tcproutes", ("v1", "v1alpha2"), Scope.ROUTES),
    KindSpec("UDPRoute", "UDPRoute", GW, "udproutes", ("v1", "v1alpha2"), Scope.ROUTES),
    # Listeners attached to a Gateway from the namespace of the team that owns them (GA in Gateway API
    # v1.5; before that XListenerSet in the experimental group): read like routes.
    KindSpec("ListenerSet", "ListenerSet", GW, "listenersets", ("v1",), Scope.ROUTES),
    KindSpec("XListenerSet", "XListenerSet", GWX, "xlistenersets", ("v1alpha1",), Scope.ROUTES),
    KindSpec("TLSRoute", "TLSRoute", GW, "tlsroutes", ("v1", "v1alpha3", "v1alpha2"), Scope.ROUTES),
    KindSpec("ReferenceGrant", "ReferenceGrant", GW, "referencegrants", ("v1", "v1beta1"), Scope.BACKENDS),
    KindSpec(
        "BackendTLSPolicy", "BackendTLSPolicy", GW, "backendtlspolicies", ("v1", "v1alpha3"), Scope.BACKENDS
    ),
    KindSpec(
        "ClientTrafficPolicy",
        "ClientTrafficPolicy",
        EG,
        "clienttrafficpolicies",
        ("v1alpha1",),
        Scope.GATEWAYS,
        True,
    ),
    KindSpec(
        "BackendTrafficPolicy",
        "BackendTrafficPolicy",
        EG,
        "backendtrafficpolicies",
        ("v1alpha1",),
        Scope.GATEWAYS,
        True,
    ),
    KindSpec("SecurityPolicy", "SecurityPolicy", EG, "securitypolicies", ("v1alpha1",), Scope.GATEWAYS, True),
    KindSpec(
        "EnvoyExtensionPolicy",
        "EnvoyExtensionPolicy",
        EG,
        "envoyextensionpolicies",
        ("v1alpha1",),
        Scope.GATEWAYS,
    ),
    KindSpec("EnvoyPatchPolicy", "EnvoyPatchPolicy", EG, "envoypatchpolicies", ("v1alpha1",), Scope.GATEWAYS),
    KindSpec("Backend", "Backend", EG, "backends", ("v1alpha1",), Scope.BACKENDS),
    KindSpec("HTTPRouteFilter", "HTTPRouteFilter", EG, "httproutefilters", ("v1alpha1",), Scope.ROUTES),
    KindSpec("Namespace", "Namespace", "", "namespaces", ("v1",), Scope.CLUSTER, True),
    KindSpec("Service", "Service", "", "services", ("v1",), Scope.BACKENDS, True),
    KindSpec("EndpointSlice", "EndpointSlice", "discovery.k8s.io", "endpointslices", ("v1",), Scope.BACKENDS),
    KindSpec("ConfigMap", "ConfigMap", "", "configmaps", ("v1",), Scope.BACKENDS),
    KindSpec(
        "EnvoyService",
        "Service",
        "",
        "services",
        ("v1",),
        Scope.ENVOY_SERVICE,
        True,
        label_selectors=(OWNING_GATEWAY_NAME, OWNING_GATEWAYCLASS),
    ),
    KindSpec("EnvoyProxy", "EnvoyProxy", EG, "envoyproxies", ("v1alpha1",), Scope.PARAMETERS),
    KindSpec(
        "EnvoyGatewayDeployment",
        "Deployment",
        "apps",
        "deployments",
        ("v1",),
        Scope.CONTROLLER,
        # the Helm chart's controller Deployment (charts/gateway-helm/templates/envoy-gateway-deployment.yaml)
        label_selectors=("control-plane=envoy-gateway",),
        quiet=True,
    ),
    KindSpec("Secret", "Secret", "", "secrets", ("v1",), Scope.LISTENER_SECRETS),
    KindSpec("Certificate", "Certificate", CM, "certificates", ("v1",), Scope.GATEWAYS),
    KindSpec("CertificateRequest", "CertificateRequest", CM, "certificaterequests", ("v1",), Scope.GATEWAYS),
    KindSpec("Issuer", "Issuer", CM, "issuers", ("v1",), Scope.GATEWAYS),
    KindSpec("ClusterIssuer", "ClusterIssuer", CM, "clusterissuers", ("v1",), Scope.CLUSTER),
    KindSpec("Order", "Order", ACME, "orders", ("v1",), Scope.GATEWAYS),
    KindSpec("Challenge", "Challenge", ACME, "challenges", ("v1",), Scope.GATEWAYS),
]

KINDS: dict[str, KindSpec] = {k.name: k for k in _KINDS}
ROUTE_KINDS = ("HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute")
# Kinds a team owns in its own namespace (attached to a shared Gateway): another team's stay out of a
# namespace-scoped report even when they share the Gateway.
TEAM_KINDS = (*ROUTE_KINDS, "UDPRoute", "ListenerSet", "XListenerSet", "HTTPRouteFilter", "Backend")


def spec_for_object(api_version: str, kind: str) -> KindSpec | None:
    """The KindSpec a loaded object belongs to (Services count as Service; EnvoyService is derived)."""
    group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    for spec in _KINDS:
        if spec.kind == kind and spec.group == group and spec.scope is not Scope.ENVOY_SERVICE:
            return spec
    return None
