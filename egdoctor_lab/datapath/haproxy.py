"""HAProxy configuration standing in for the Octavia amphora and for edge (CDN/WAF) proxies.

The amphora part follows Octavia's HAProxy template
(openstack/octavia ``octavia/common/jinja/haproxy/combined_listeners/templates/macros.j2``):
a TCP-mode front end per listener port on the VIP, one member per Envoy, ``send-proxy`` on the
member line when the pool protocol is PROXY and ``send-proxy-v2`` for PROXYV2, and Octavia's
default timeouts (``timeout_client_data``/``timeout_member_data`` 50 s, ``timeout_member_connect``
5 s). The member connection leaves from the lab's member-side source address so that Envoy sees a
peer that is neither the client nor 127.0.0.1.

``loadBalancerSourceRanges`` becomes Octavia ``allowed_cidrs``; Octavia enforces that with the VIP
port's security group, which drops the SYN (a client outside the ranges times out). On loopback the
lab can only approximate that with ``tcp-request connection reject``, which accepts and closes at
once, so a lab client outside the ranges sees a reset or an empty reply instead of a timeout.

Edge proxies are ``mode http`` with ``option forwardfor``, which appends the peer address as an
additional X-Forwarded-For header (haproxy ``doc/configuration.txt``, ``option forwardfor``). They
front HTTP listener ports only: an HTTP proxy cannot append a header inside TLS it does not terminate.

A black-holed LB (``lb_blackhole``) accepts and then waits on ``tcp-request content`` until
``WAIT_END``: ``inspect-delay`` keeps the connection open without ever contacting a member, the way
an Octavia listener with unresponsive members looks to a client, and bounds it at Octavia's client
timeout.
"""

from __future__ import annotations

import os
import shutil

from .plan import DataPathPlan, GatewayAddresses, container_port

_SEND = {"none": "", "v1": " send-proxy", "v2": " send-proxy-v2"}


def find_haproxy() -> str | None:
    explicit = os.environ.get("EGDOCTOR_HAPROXY")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    found = shutil.which("haproxy")
    if found:
        return found
    for candidate in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


# Global and default sections of every amphora configuration the lab writes (the data path's and the real
# cluster's cloud controller's).
PREAMBLE = (
    "global",
    "    log stdout format raw local0",
    "    maxconn 4096",
    "",
    "defaults",
    "    log global",
    "    timeout connect 5s",
    "    timeout client 50s",
    "    timeout server 50s",
    "",
)


def build_config(plan: DataPathPlan, addresses: dict[str, GatewayAddresses]) -> str:
    lines = list(PREAMBLE)
    for gw in plan.gateways:
        addrs = addresses[gw.key]
        slug = f"{gw.namespace}.{gw.name}"
        http_ports = {lst.port for lst in gw.listeners if lst.protocol == "HTTP"}
        for port in gw.ports:
            lines += [
                f"listen lb.{slug}.{port}",
                "    mode tcp",
                "    option tcplog",
                f"    bind {addrs.lb}:{port}",
            ]
            if gw.lb_source_ranges:
                lines.append(f"    acl allowed_cidrs src {' '.join(gw.lb_source_ranges)}")
                lines.append("    tcp-request connection reject unless allowed_cidrs")
            if gw.lb_blackhole:
                lines.append("    tcp-request inspect-delay 50s")
                lines.append("    tcp-request content reject if WAIT_END")
            member = f"{addrs.envoy}:{container_port(port)} source {addrs.member_source}"
            lines.append(f"    server envoy {member}{_SEND[gw.lb_sends]}")
            lines.append("")
            # Outermost edge first; each forwards to the next hop and the last one to the VIP.
            hops = [*addrs.edges, addrs.lb]
            for j, edge in enumerate(addrs.edges if port in http_ports else (), start=1):
                lines += [
                    f"listen edge{j}.{slug}.{port}",
                    "    mode http",
                    "    option httplog",
                    "    option forwardfor",
                    "    timeout http-request 10s",
                    f"    bind {edge}:{port}",
                    f"    server next {hops[j]}:{port} source {edge}",
                    "",
                ]
    return "\n".join(lines) + "\n"


def haproxy_argv(binary: str, config: str) -> list[str]:
    # -db: stay in the foreground and do not fork, so the PID we start is the PID that serves.
    return [binary, "-db", "-f", config]
