"""Data-path lab: real HAProxy (as the Octavia amphora) and real Envoy (configured the way Envoy
Gateway translates a Gateway and its ClientTrafficPolicy) in front of an echo backend, with an
authoritative DNS server, all on 127.0.0.0/8.

Example::

    plan = DataPathPlan(gateways=[GatewayPlan("apps", "public", [ListenerPlan("http", 80)],
                                              proxy_protocol="strict", lb_sends="v2")])
    with DataPathLab(plan, tmp_path) as lab:
        gw = lab.gateway("apps/public")
        exchange(gw.lb, 80, source_address="127.0.0.77")
"""

from .certs import ListenerCertificate, make_certificate
from .envoy import ACCESS_LOG_FIELDS, find_envoy
from .haproxy import find_haproxy
from .lab import DataPathLab, LabError, missing_binaries
from .plan import (
    DataPathPlan,
    GatewayAddresses,
    GatewayPlan,
    ListenerPlan,
    RoutePlan,
    container_port,
)

__all__ = [
    "ACCESS_LOG_FIELDS",
    "DataPathLab",
    "DataPathPlan",
    "GatewayAddresses",
    "GatewayPlan",
    "LabError",
    "ListenerCertificate",
    "ListenerPlan",
    "RoutePlan",
    "container_port",
    "find_envoy",
    "find_haproxy",
    "make_certificate",
    "missing_binaries",
]
