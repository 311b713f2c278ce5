"""Whose address is a Gateway's address? `status.addresses` is written by the controller, but a Gateway's
owner steers it through `spec.addresses`; the load balancer's own answer is the Envoy Service's
`status.loadBalancer.ingress`, which only the cloud provider writes. Probes trust the latter."""

from __future__ import annotations

from collections.abc import Mapping

from egdoctor.model.topology import GatewayView
from egdoctor.snapshot.objects import Obj, as_list, dig


def lb_ingress(svc: Obj) -> tuple[str, ...]:
    """The IPs and hostnames the cloud provider reports for a LoadBalancer Service."""
    out: list[str] = []
    for entry in as_list(dig(svc.status, "loadBalancer", "ingress")):
        if isinstance(entry, Mapping):
            for key in ("ip", "hostname"):
                value = entry.get(key)
                if isinstance(value, str) and value and value not in out:
                    out.append(value)
    return tuple(out)


def unconfirmed_addresses(gv: GatewayView) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(status addresses the load balancer does not report, the load balancer's addresses), or None when
    there is nothing to compare with: no Envoy Service, not a LoadBalancer, or no ingress yet."""
    svc = gv.envoy_service
    if svc is None or (svc.spec.get("type") or "ClusterIP") != "LoadBalancer":
        return None
    ingress = lb_ingress(svc)
    if not ingress:
        return None
    stray = tuple(a for a in gv.addresses if a not in ingress)
    return stray, ingress
