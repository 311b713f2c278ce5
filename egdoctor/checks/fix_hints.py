"""Exact fix hints: the EnvoyProxy to patch and the patch itself, the Octavia load balancer by its ID.

Envoy Gateway renders the Envoy Service from the EnvoyProxy the Gateway (spec.infrastructure.parametersRef)
or its GatewayClass (spec.parametersRef) points at; editing the Service itself is undone at the next
reconcile. The OpenStack cloud controller writes the load balancer's ID into the Service annotation
`loadbalancer.openstack.org/load-balancer-id`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from egdoctor.snapshot.model import Snapshot
from egdoctor.snapshot.objects import Obj, as_map

LB_ID_ANNOTATION = "loadbalancer.openstack.org/load-balancer-id"
SOURCE_RANGES_PATH = "spec.provider.kubernetes.envoyService.loadBalancerSourceRanges"
_EG_GROUP = "gateway.envoyproxy.io"


def _envoyproxy_ref(ref: Any, default_namespace: str | None) -> tuple[str, str] | None:
    ref = as_map(ref)
    if ref.get("kind") != "EnvoyProxy" or ref.get("group", _EG_GROUP) != _EG_GROUP or not ref.get("name"):
        return None
    namespace = ref.get("namespace") or default_namespace
    return (str(namespace), str(ref["name"])) if namespace else None


def envoyproxy_of(snapshot: Snapshot | None, gateway: Obj) -> tuple[str, str] | None:
    """(namespace, name) of the EnvoyProxy that shapes this Gateway's Envoy Service, if one is named."""
    own = _envoyproxy_ref(as_map(gateway.spec.get("infrastructure")).get("parametersRef"), gateway.namespace)
    if own is not None or snapshot is None:
        return own
    cls = snapshot.get("GatewayClass", None, str(gateway.spec.get("gatewayClassName") or ""))
    return _envoyproxy_ref(cls.spec.get("parametersRef"), None) if cls is not None else None


def source_ranges_fix(snapshot: Snapshot | None, gateway: Obj) -> str:
    patch: Mapping[str, Any] = {
        "spec": {
            "provider": {
                "type": "Kubernetes",
                "kubernetes": {"envoyService": {"loadBalancerSourceRanges": ["<CDN/WAF egress CIDR>"]}},
            }
        }
    }
    where = envoyproxy_of(snapshot, gateway)
    if where is None:
        return (
            f"limit the load balancer to your CDN/WAF egress ranges with {SOURCE_RANGES_PATH} in an "
            f"EnvoyProxy, referenced from Gateway {gateway.namespace}/{gateway.name} as "
            "spec.infrastructure.parametersRef (or from its GatewayClass as spec.parametersRef); editing the "
            "Service itself is undone by Envoy Gateway"
        )
    ns, name = where
    return (
        f"limit the load balancer to your CDN/WAF egress ranges in EnvoyProxy {ns}/{name} "
        f"({SOURCE_RANGES_PATH}): `kubectl patch envoyproxy -n {ns} {name} --type merge -p "
        f"'{json.dumps(patch, separators=(',', ':'))}'`"
    )


def lb_status_command(service: Obj | None) -> str:
    """The command that shows the Octavia load balancer's and its members' status."""
    lb_id = service.annotations.get(LB_ID_ANNOTATION) if service is not None else None
    if lb_id:
        return f"openstack loadbalancer status show {lb_id}"
    if service is not None:
        # the cloud controller names it kube_service_<cluster>_<namespace>_<service>
        return f"openstack loadbalancer list --name kube_service_<cluster>_{service.namespace}_{service.name}"
    return "openstack loadbalancer list"
