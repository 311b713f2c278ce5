"""A synthetic cluster of a chosen size for `scripts/bench`: one shared Gateway, N app namespaces that
opt in, routes with their Services and EndpointSlices, and cert-manager Certificates. Every object is
healthy, as Envoy Gateway and cert-manager would report it, so the benchmark measures reading and
checking, not the wording of findings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GW = "gateway.networking.k8s.io"
CONTROLLER = "gateway.envoyproxy.io/gatewayclass-controller"
LB_ADDRESS = "203.0.113.20"
_OK = {"status": "True", "observedGeneration": 1, "lastTransitionTime": "2026-01-10T09:00:00Z"}


@dataclass(frozen=True)
class Size:
    namespaces: int = 300
    routes: int = 1500
    certificates: int = 100

    def scaled(self, factor: float) -> Size:
        return Size(
            max(1, round(self.namespaces * factor)),
            max(1, round(self.routes * factor)),
            max(1, round(self.certificates * factor)),
        )

    def label(self) -> str:
        return f"{self.namespaces} namespaces, {self.routes} routes, {self.certificates} Certificates"


def _condition(kind: str, reason: str, message: str) -> dict[str, Any]:
    return {"type": kind, "reason": reason, "message": message, **_OK}


def namespace_name(index: int) -> str:
    return f"app-{index:04d}"


def objects(size: Size) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gateway"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "envoy-gateway-system"}},
        {
            "apiVersion": f"{GW}/v1",
            "kind": "GatewayClass",
            "metadata": {"name": "eg", "generation": 1},
            "spec": {"controllerName": CONTROLLER},
            "status": {"conditions": [_condition("Accepted", "Accepted", "Valid GatewayClass")]},
        },
        _gateway(size),
        _client_traffic_policy(),
        _envoy_service(),
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "ClusterIssuer",
            "metadata": {"name": "letsencrypt", "generation": 1},
            "spec": {"acme": {"server": "https://acme.example/directory", "solvers": [{"http01": {}}]}},
            "status": {"conditions": [_condition("Ready", "ACMEAccountRegistered", "registered")]},
        },
    ]
    for index in range(size.namespaces):
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": namespace_name(index), "labels": {"shared-gateway-access": "true"}},
            }
        )
    for index in range(size.routes):
        out.extend(_app(namespace_name(index % size.namespaces), f"svc-{index:05d}", index))
    for index in range(size.certificates):
        out.append(_certificate(namespace_name(index % size.namespaces), f"cert-{index:04d}"))
    return out


def _gateway(size: Size) -> dict[str, Any]:
    listener = {
        "name": "http",
        "port": 80,
        "protocol": "HTTP",
        "allowedRoutes": {
            "namespaces": {"from": "Selector", "selector": {"matchLabels": {"shared-gateway-access": "true"}}}
        },
    }
    return {
        "apiVersion": f"{GW}/v1",
        "kind": "Gateway",
        "metadata": {"name": "shared", "namespace": "gateway", "generation": 1},
        "spec": {"gatewayClassName": "eg", "listeners": [listener]},
        "status": {
            "addresses": [{"type": "IPAddress", "value": LB_ADDRESS}],
            "conditions": [
                _condition("Accepted", "Accepted", "The Gateway has been scheduled by Envoy Gateway"),
                _condition("Programmed", "Programmed", "Address assigned to the Gateway, 2/2 envoy replicas"),
            ],
            "listeners": [
                {
                    "name": "http",
                    "attachedRoutes": size.routes,
                    "supportedKinds": [{"group": GW, "kind": k} for k in ("HTTPRoute", "GRPCRoute")],
                    "conditions": [
                        _condition("Programmed", "Programmed", "Sending translated listener configuration"),
                        _condition("Accepted", "Accepted", "Listener has been successfully translated"),
                        _condition("ResolvedRefs", "ResolvedRefs", "Listener references have been resolved"),
                    ],
                }
            ],
        },
    }


def _client_traffic_policy() -> dict[str, Any]:
    """Envoy expects the PROXY v2 header the load balancer sends: the healthy direct mode."""
    ancestor = {"group": GW, "kind": "Gateway", "name": "shared", "namespace": "gateway"}
    return {
        "apiVersion": "gateway.envoyproxy.io/v1alpha1",
        "kind": "ClientTrafficPolicy",
        "metadata": {"name": "client-ip", "namespace": "gateway", "generation": 1},
        "spec": {
            "targetRefs": [{"group": GW, "kind": "Gateway", "name": "shared"}],
            "proxyProtocol": {"optional": False},
        },
        "status": {
            "ancestors": [
                {
                    "ancestorRef": ancestor,
                    "controllerName": CONTROLLER,
                    "conditions": [_condition("Accepted", "Accepted", "Policy has been accepted.")],
                }
            ]
        },
    }


def _envoy_service() -> dict[str, Any]:
    labels = {
        "app.kubernetes.io/name": "envoy",
        "app.kubernetes.io/component": "proxy",
        "app.kubernetes.io/managed-by": "envoy-gateway",
        "gateway.envoyproxy.io/owning-gateway-name": "shared",
        "gateway.envoyproxy.io/owning-gateway-namespace": "gateway",
    }
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "envoy-gateway-shared-b2034d54",
            "namespace": "envoy-gateway-system",
            "labels": labels,
            "annotations": {"loadbalancer.openstack.org/proxy-protocol": "v2"},
        },
        "spec": {
            "type": "LoadBalancer",
            "externalTrafficPolicy": "Local",
            "selector": labels,
            "ports": [{"name": "http-80", "port": 80, "protocol": "TCP", "targetPort": 10080}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": LB_ADDRESS, "ipMode": "Proxy"}]}},
    }


def _app(namespace: str, name: str, index: int) -> list[dict[str, Any]]:
    parent = {"group": GW, "kind": "Gateway", "name": "shared", "namespace": "gateway"}
    route = {
        "apiVersion": f"{GW}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": namespace, "generation": 1},
        "spec": {
            "parentRefs": [parent],
            "hostnames": [f"{name}.{namespace}.example.com"],
            "rules": [{"backendRefs": [{"name": name, "port": 80}]}],
        },
        "status": {
            "parents": [
                {
                    "parentRef": parent,
                    "controllerName": CONTROLLER,
                    "conditions": [
                        _condition("Accepted", "Accepted", "Route is accepted"),
                        _condition("ResolvedRefs", "ResolvedRefs", "Resolved all the Object references"),
                    ],
                }
            ]
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "type": "ClusterIP",
            "selector": {"app": name},
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
        },
    }
    slice_ = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{name}-abcde",
            "namespace": namespace,
            "labels": {"kubernetes.io/service-name": name},
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [
            {
                "addresses": [f"10.{(index >> 16) & 255}.{(index >> 8) & 255}.{index & 255}"],
                "conditions": {"ready": True, "serving": True, "terminating": False},
            }
        ],
    }
    return [route, service, slice_]


def _certificate(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": namespace, "generation": 1},
        "spec": {
            "secretName": f"{name}-tls",
            "dnsNames": [f"{name}.{namespace}.example.com"],
            "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer", "group": "cert-manager.io"},
        },
        "status": {
            "conditions": [_condition("Ready", "Ready", "Certificate is up to date and has not expired")],
            "notAfter": "2027-01-10T09:00:00Z",
        },
    }
