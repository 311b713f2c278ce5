"""What of a scenario is applied to the real cluster, and what the platform adds as Elastx would.

Applied: every object as a user or a GitOps tool would create it, with ``status`` and the server-owned
metadata (``creationTimestamp``, ``generation``, ``uid``, ``resourceVersion``, ``managedFields``)
removed, since the API server and the controllers write those. Left out: what a controller creates in
a cluster, which the scenario only depicts (objects labelled ``app.kubernetes.io/managed-by:
envoy-gateway``, Pods, ReplicaSets and Deployments in EG's namespace, Events, Leases, Nodes).

The platform: Elastx sets the Octavia annotations on the Services EG creates through an EnvoyProxy that
the GatewayClass references. A scenario depicts the resulting Service instead, so the lab derives the
EnvoyProxy from it: the Octavia annotations (``loadbalancer.openstack.org/*``),
``externalTrafficPolicy`` and ``loadBalancerSourceRanges`` of the first EG-managed LoadBalancer Service,
and sets the GatewayClass's ``parametersRef`` if the scenario's class has none.
"""

from __future__ import annotations

import copy
from typing import Any

EG_NAMESPACE = "envoy-gateway-system"
PLATFORM_PROXY = "elastx-platform"
SERVER_METADATA = ("creationTimestamp", "generation", "uid", "resourceVersion", "managedFields", "selfLink")
CONTROLLER_KINDS = {"Pod", "ReplicaSet", "Event", "Lease", "Node"}


def _managed_by_eg(obj: dict[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get("app.kubernetes.io/managed-by") == "envoy-gateway"


def _left_out(obj: dict[str, Any]) -> bool:
    kind = obj.get("kind")
    namespace = (obj.get("metadata") or {}).get("namespace")
    if kind in CONTROLLER_KINDS or _managed_by_eg(obj):
        return True
    if kind == "Deployment" and namespace == EG_NAMESPACE:
        return True
    return str(obj.get("apiVersion", "")).startswith("lab.egdoctor.io/")


def applied_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for obj in objects:
        if _left_out(obj):
            continue
        clean = copy.deepcopy(obj)
        clean.pop("status", None)
        meta = clean.setdefault("metadata", {})
        for key in SERVER_METADATA:
            meta.pop(key, None)
        out.append(clean)
    return _with_platform(objects, out)


def _with_platform(scenario: list[dict[str, Any]], out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    services = [
        o
        for o in scenario
        if o.get("kind") == "Service"
        and _managed_by_eg(o)
        and (o.get("spec") or {}).get("type") == "LoadBalancer"
    ]
    if not services:
        return out
    source = services[0]
    annotations = {
        k: v
        for k, v in ((source.get("metadata") or {}).get("annotations") or {}).items()
        if k.startswith("loadbalancer.openstack.org/")
    }
    service: dict[str, Any] = {"type": "LoadBalancer", "annotations": annotations}
    spec = source.get("spec") or {}
    if spec.get("externalTrafficPolicy"):
        service["externalTrafficPolicy"] = spec["externalTrafficPolicy"]
    if spec.get("loadBalancerSourceRanges"):
        service["loadBalancerSourceRanges"] = list(spec["loadBalancerSourceRanges"])
    proxy = {
        "apiVersion": "gateway.envoyproxy.io/v1alpha1",
        "kind": "EnvoyProxy",
        "metadata": {"name": PLATFORM_PROXY, "namespace": EG_NAMESPACE},
        "spec": {"provider": {"type": "Kubernetes", "kubernetes": {"envoyService": service}}},
    }
    ref = {
        "group": "gateway.envoyproxy.io",
        "kind": "EnvoyProxy",
        "name": PLATFORM_PROXY,
        "namespace": EG_NAMESPACE,
    }
    result = []
    for obj in out:
        if obj.get("kind") == "GatewayClass" and not (obj.get("spec") or {}).get("parametersRef"):
            obj = {**obj, "spec": {**obj.get("spec", {}), "parametersRef": ref}}
        result.append(obj)
    return [proxy, *result]


def backend_listeners(objects: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """(address, port) of every ready endpoint of the scenario's EndpointSlices: where the echo backend
    listens so that the endpoints EG sends Envoy over EDS answer."""
    found = set()
    for obj in objects:
        if obj.get("kind") != "EndpointSlice":
            continue
        ports = [int(p["port"]) for p in obj.get("ports") or [] if p.get("port")]
        for endpoint in obj.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            for address in endpoint.get("addresses") or []:
                found.update((str(address), port) for port in ports)
    return sorted(found)
