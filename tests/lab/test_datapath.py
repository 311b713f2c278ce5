"""The PROXY/XFF discriminator matrix, measured on real HAProxy + real Envoy with egdoctor's own probes.

Expected behaviour and where it comes from:

* A strict PROXY listener closes a connection whose first bytes are not a PROXY header, without an
  HTTP answer (Envoy ``source/extensions/filters/listener/proxy_protocol/proxy_protocol.cc``);
  HAProxy in TCP mode relays that as a clean close with zero bytes.
* A second PROXY header (the LB's plus the probe's) or a PROXY header on a listener without the
  filter reaches the HTTP/1 codec, which answers 400 and flags the access log ``DPE``.
* With ``use_remote_address: true`` the trusted client is the PROXY source or the TCP peer; with EG's
  XFF mode (``use_remote_address: false`` + the ``xff`` original-IP extension at ``numTrustedHops - 1``)
  it is the N-th X-Forwarded-For entry from the right as it reaches Envoy, or the TCP peer when there
  are fewer entries (Envoy ``source/extensions/http/original_ip_detection/xff/xff.cc``, EG
  ``internal/xds/translator/listener.go``).

Each assertion reads what Envoy decided from its access log (``downstream_remote_address``, the
field EG's default JSON log carries) and, for successful requests, from the echo backend's view of
the headers. Probes leave from 127.0.0.77: Envoy treats exactly 127.0.0.1 as "itself" and would put
the host's interface address into X-Forwarded-For instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from egdoctor.probes import proxy_protocol as pp
from egdoctor.probes.transport import ExchangeResult, TlsOptions, exchange
from egdoctor_lab.datapath import (
    ACCESS_LOG_FIELDS,
    DataPathLab,
    DataPathPlan,
    GatewayAddresses,
    GatewayPlan,
    ListenerCertificate,
    ListenerPlan,
    RoutePlan,
    make_certificate,
    missing_binaries,
)
from egdoctor_lab.datapath.envoy import build_bootstrap
from egdoctor_lab.datapath.haproxy import build_config
from egdoctor_lab.datapath.plan import addresses_for

CLIENT = "127.0.0.77"
MARKER = "203.0.113.7"
FORGED = "198.51.100.1"
HOST = "app.example.test"


def _skip_unless_runnable() -> None:
    missing = missing_binaries()
    if missing:
        pytest.skip("data-path lab needs " + "; ".join(missing))
    if not _privileged_ports_allowed():
        pytest.skip("the LB binds ports 80/443 as-is: needs root or net.ipv4.ip_unprivileged_port_start<=80")


def _privileged_ports_allowed() -> bool:
    if os.geteuid() == 0:
        return True
    try:
        return int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text()) <= 80
    except (OSError, ValueError):
        return False


def _octet(base: int) -> int:
    """Separate loopback addresses per pytest-xdist worker, so parallel labs never share a port."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw-1")
    return base + 1 + int(worker[2:]) if worker[2:].isdigit() else base


def _gw(name: str, **kw: Any) -> GatewayPlan:
    listeners = kw.pop("listeners", (ListenerPlan("http", 80),))
    return GatewayPlan("lab", name, listeners, **kw)


def _plan(cert: ListenerCertificate, routes: tuple[RoutePlan, ...] = ()) -> DataPathPlan:
    https = ListenerPlan("https", 443, "HTTPS", HOST, cert.cert_chain_pem, cert.key_pem)
    return DataPathPlan(
        gateways=(
            _gw(
                "v2-strict",
                proxy_protocol="strict",
                lb_sends="v2",
                listeners=(ListenerPlan("http", 80), https),
            ),
            _gw("none-strict", proxy_protocol="strict", lb_sends="none"),
            _gw("v2-off", proxy_protocol="off", lb_sends="v2"),
            _gw("none-optional", proxy_protocol="optional", lb_sends="none"),
            _gw("v1-strict", proxy_protocol="strict", lb_sends="v1"),
            _gw("xff1-edge1", xff_trusted_hops=1, edge_proxies=1),
            _gw("xff2-edge1", xff_trusted_hops=2, edge_proxies=1),
            _gw("no-ctp"),
            _gw(
                "ranges",
                proxy_protocol="strict",
                lb_sends="v2",
                lb_source_ranges=(f"{CLIENT}/32",),
                routes=routes,
            ),
        ),
        dns_records={
            HOST: ["@lb:lab/v2-strict"],
            "www.example.test": [HOST],
            "edge.example.test": ["@edge:lab/xff1-edge1"],
        },
        address_octet=_octet(0),
    )


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> ListenerCertificate:
    return make_certificate(tmp_path_factory.mktemp("pki"), [HOST])


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, cert: ListenerCertificate) -> Iterator[DataPathLab]:
    _skip_unless_runnable()
    lab = DataPathLab(_plan(cert), tmp_path_factory.mktemp("datapath"))
    started = time.monotonic()
    try:
        lab.start()
        assert time.monotonic() - started < 5, "the lab should come up in well under a second or two"
        yield lab
    finally:
        lab.stop()


def probe(
    lab: DataPathLab, key: str, *, crafted: bool = False, via: str | None = None, port: int = 80, **kw: Any
) -> tuple[ExchangeResult, dict[str, Any] | None]:
    """One exchange from 127.0.0.77 plus the access-log entry it produced (if any)."""
    gw = lab.gateway(key)
    host = via or gw.entry
    prefix = pp.encode_v2(MARKER, host, 40000, port) if crafted else b""
    mark = lab.access_log_mark(key)
    result = exchange(host, port, prefix=prefix, source_address=CLIENT, timeout=kw.pop("timeout", 3.0), **kw)
    entry = lab.wait_for_access_log(key, after=mark, timeout=0.5 if result.outcome == "http" else 0.2)
    return result, entry


def observed(entry: dict[str, Any] | None) -> str:
    assert entry is not None, "expected an access-log line"
    address: str = entry["downstream_remote_address"]
    return address.rsplit(":", 1)[0]


def echo_headers(result: ExchangeResult) -> dict[str, str]:
    return {k.lower(): v for k, v in result.json()["headers"]}


# --------------------------------------------------------------------------- PROXY protocol rows


def test_lb_v2_envoy_strict_plain_get_sees_client(lab: DataPathLab) -> None:
    result, entry = probe(lab, "lab/v2-strict")
    assert (result.outcome, result.status) == ("http", 200)
    assert observed(entry) == CLIENT
    assert entry is not None and entry["user-agent"] == result.user_agent
    headers = echo_headers(result)
    assert headers["x-envoy-external-address"] == CLIENT
    assert headers["x-forwarded-for"] == CLIENT


def test_lb_v2_envoy_strict_crafted_header_is_400(lab: DataPathLab) -> None:
    result, entry = probe(lab, "lab/v2-strict", crafted=True)
    assert (result.outcome, result.status) == ("http", 400)
    assert result.ttfb_s is not None and result.ttfb_s < 0.5
    assert result.elapsed_s < 0.5, "the probe must not wait for Envoy's delayed FIN"
    assert entry is not None and entry["response_code"] == 400 and entry["response_flags"] == "DPE"
    assert observed(entry) == CLIENT, "the LB's header wins; the crafted one is just bad HTTP"


def test_lb_none_envoy_strict_plain_get_is_empty_reply(lab: DataPathLab) -> None:
    before = lab.envoy_stats()
    result, entry = probe(lab, "lab/none-strict")
    after = lab.envoy_stats()
    assert result.outcome == "empty"
    assert result.closed_by == "fin" and result.bytes_received == 0
    assert entry is None, "the PROXY listener filter closes before any HTTP access log"
    key = "proxy_proto.not_found_disallowed"
    assert after.get(key, 0) == before.get(key, 0) + 1


def test_lb_none_envoy_strict_crafted_header_is_spoofable(lab: DataPathLab) -> None:
    result, entry = probe(lab, "lab/none-strict", crafted=True)
    assert (result.outcome, result.status) == ("http", 200)
    assert observed(entry) == MARKER
    assert echo_headers(result)["x-envoy-external-address"] == MARKER


def test_lb_v2_envoy_without_proxy_filter_is_400(lab: DataPathLab) -> None:
    key = "lab/v2-off"
    member = lab.gateway(key).member_source
    result, entry = probe(lab, key, wait_for_close=2.0)
    assert (result.outcome, result.status) == ("http", 400)
    assert result.header("connection") == "close"
    assert result.ttfb_s is not None and result.ttfb_s < 0.3
    # Envoy holds the FIN back for delayed_close_timeout (1 s by default) after the 400.
    assert result.closed_by == "fin" and result.eof_s is not None and 0.8 < result.eof_s < 1.5
    assert entry is not None and entry["response_flags"] == "DPE"
    assert observed(entry) == member
    crafted, crafted_entry = probe(lab, key, crafted=True)
    assert (crafted.outcome, crafted.status) == ("http", 400)
    assert observed(crafted_entry) == member


def test_lb_none_envoy_optional_accepts_both(lab: DataPathLab) -> None:
    key = "lab/none-optional"
    plain, plain_entry = probe(lab, key)
    assert (plain.outcome, plain.status) == ("http", 200)
    assert observed(plain_entry) == lab.gateway(key).member_source, "without a header the LB is the client"
    crafted, crafted_entry = probe(lab, key, crafted=True)
    assert (crafted.outcome, crafted.status) == ("http", 200)
    assert observed(crafted_entry) == MARKER


def test_lb_v1_envoy_strict_plain_get_sees_client(lab: DataPathLab) -> None:
    result, entry = probe(lab, "lab/v1-strict")
    assert (result.outcome, result.status) == ("http", 200)
    assert observed(entry) == CLIENT
    crafted, _ = probe(lab, "lab/v1-strict", crafted=True)
    assert crafted.status == 400


# --------------------------------------------------------------------------- X-Forwarded-For rows


def test_xff_one_hop_behind_one_edge_sees_client(lab: DataPathLab) -> None:
    key = "lab/xff1-edge1"
    result, entry = probe(lab, key)
    assert (result.outcome, result.status) == ("http", 200)
    assert entry is not None and entry["downstream_remote_address"] == f"{CLIENT}:0"
    edge = lab.gateway(key).edges[0]
    assert echo_headers(result)["x-forwarded-for"] == f"{CLIENT},{lab.gateway(key).member_source}"
    assert "x-envoy-external-address" not in echo_headers(result), "XFF mode is not an edge request"
    assert edge != lab.gateway(key).lb


def test_xff_one_hop_straight_to_lb_is_forgeable(lab: DataPathLab) -> None:
    key = "lab/xff1-edge1"
    result, entry = probe(lab, key, via=lab.gateway(key).lb, headers=[("X-Forwarded-For", FORGED)])
    assert (result.outcome, result.status) == ("http", 200)
    assert observed(entry) == FORGED


def test_xff_two_hops_behind_one_edge(lab: DataPathLab) -> None:
    key = "lab/xff2-edge1"
    # Only the edge's entry reaches Envoy: too few entries, so Envoy falls back to the TCP peer.
    honest, honest_entry = probe(lab, key)
    assert honest.status == 200
    assert observed(honest_entry) == lab.gateway(key).member_source
    # "FORGED, client" reaches Envoy; the 2nd from the right is whatever the client wrote.
    forged, forged_entry = probe(lab, key, headers=[("X-Forwarded-For", FORGED)])
    assert forged.status == 200
    assert observed(forged_entry) == FORGED


def test_no_client_ip_detection_sees_lb_member_address(lab: DataPathLab) -> None:
    key = "lab/no-ctp"
    result, entry = probe(lab, key)
    assert (result.outcome, result.status) == ("http", 200)
    member = lab.gateway(key).member_source
    assert observed(entry) == member
    assert echo_headers(result)["x-envoy-external-address"] == member
    crafted, _ = probe(lab, key, crafted=True)
    assert crafted.status == 400


# --------------------------------------------------------------------------- TLS, DNS, LB source ranges


def _resolver(lab: DataPathLab) -> Any:
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=False)
    host, port = lab.dns_server
    resolver.nameservers = [host]
    resolver.port = port
    resolver.lifetime = 2.0
    return resolver


def test_https_behind_proxy_filter_verifies_with_sni(lab: DataPathLab, cert: ListenerCertificate) -> None:
    key = "lab/v2-strict"
    address = _resolver(lab).resolve(HOST, "A")[0].to_text()
    assert address == lab.gateway(key).lb
    tls = TlsOptions(server_name=HOST, ca_file=str(cert.ca_pem))
    result, entry = probe(lab, key, via=address, port=443, tls=tls)
    assert (result.outcome, result.status) == ("http", 200), result.error
    assert result.tls is not None and result.tls.verified and result.tls.alpn == "http/1.1"
    assert observed(entry) == CLIENT
    assert entry is not None and entry["requested_server_name"] == HOST
    assert echo_headers(result)["x-forwarded-proto"] == "https"
    # A second PROXY header hides the ClientHello from tls_inspector: no filter chain, no TLS.
    doubled, _ = probe(lab, key, via=address, port=443, tls=tls, crafted=True)
    assert doubled.outcome == "tls_error"
    unknown, _ = probe(lab, key, via=address, port=443, tls=TlsOptions(server_name="other.example.test"))
    assert unknown.outcome == "tls_error"


def test_dns_answers(lab: DataPathLab) -> None:
    import dns.resolver

    resolver = _resolver(lab)
    answer = resolver.resolve("www.example.test", "A")
    assert [r.to_text() for r in answer] == [lab.gateway("lab/v2-strict").lb]
    assert answer.canonical_name.to_text() == f"{HOST}."
    assert resolver.resolve("edge.example.test", "A")[0].to_text() == lab.gateway("lab/xff1-edge1").edges[0]
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("missing.example.test", "A")
    with pytest.raises(dns.resolver.NoAnswer):
        resolver.resolve(HOST, "AAAA")
    with pytest.raises(dns.resolver.NoNameservers, match="REFUSED"):
        resolver.resolve("example.com", "A")


def test_lb_source_ranges_reject_other_sources(lab: DataPathLab) -> None:
    key = "lab/ranges"
    allowed, entry = probe(lab, key)
    assert allowed.status == 200 and observed(entry) == CLIENT
    mark = lab.access_log_mark(key)
    denied = exchange(lab.gateway(key).lb, 80, source_address="127.0.0.78", timeout=2)
    assert denied.outcome in ("reset", "empty"), denied
    assert lab.access_log(key, after=mark) == []


# --------------------------------------------------------------------------- lab plumbing


def test_access_log_has_envoy_gateway_default_fields(lab: DataPathLab) -> None:
    _, entry = probe(lab, "lab/no-ctp", path="/probe?q=1")
    assert entry is not None
    # The keys of EG's EnvoyJSONLogFields (internal/xds/translator/accesslog.go), written out here.
    expected = {
        "start_time", "method", "x-envoy-origin-path", "protocol", "response_code", "response_flags",
        "response_code_details", "connection_termination_details", "upstream_transport_failure_reason",
        "bytes_received", "bytes_sent", "duration", "x-envoy-upstream-service-time", "x-forwarded-for",
        "user-agent", "x-request-id", ":authority", "upstream_host", "upstream_cluster",
        "upstream_local_address", "downstream_local_address", "downstream_remote_address",
        "requested_server_name", "route_name",
    }  # fmt: skip
    assert set(entry) == expected == set(ACCESS_LOG_FIELDS)
    assert entry["x-envoy-origin-path"] == "/probe?q=1"
    assert entry["method"] == "GET"


def test_reconfigure_adds_direct_response_route(lab: DataPathLab, cert: ListenerCertificate) -> None:
    key = "lab/ranges"
    route = RoutePlan(
        "egdoctor-echo",
        "/.well-known/egdoctor",
        match="exact",
        direct_response_status=200,
        direct_response_body='{"remote":"%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"}',
        response_headers=(("x-egdoctor-client", "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"),),
    )
    original = lab.plan
    started = time.monotonic()
    lab.reconfigure(_plan(cert, routes=(route,)))
    try:
        assert time.monotonic() - started < 1.0
        result, _ = probe(lab, key, path="/.well-known/egdoctor")
        assert result.status == 200
        assert result.json() == {"remote": CLIENT}
        assert result.header("x-egdoctor-client") == CLIENT
        other, _ = probe(lab, key, path="/elsewhere")
        assert other.json()["path"] == "/elsewhere"
    finally:
        lab.reconfigure(original)


def test_echo_reports_proxy_header_sent_directly(lab: DataPathLab) -> None:
    host, port = lab.echo_address
    result = exchange(host, port, prefix=pp.encode_v2(MARKER, host, 40000, port), timeout=2)
    assert result.status == 200
    body = result.json()
    assert body["proxy_protocol"]["src_addr"] == MARKER
    assert body["peer"]["address"] == "127.0.0.1"


def test_lab_stops_its_processes(tmp_path: Path) -> None:
    _skip_unless_runnable()
    plan = DataPathPlan(
        gateways=(_gw("tiny", proxy_protocol="strict", lb_sends="v2"),), address_octet=_octet(100)
    )
    with DataPathLab(plan, tmp_path) as small:
        pids = dict(small.pids)
        assert set(pids) == {"envoy", "haproxy"}
        result = exchange(small.gateway("lab/tiny").lb, 80, source_address=CLIENT, timeout=2)
        assert result.status == 200
    for name, pid in pids.items():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        assert name not in (tmp_path / "pids.json").read_text()


# ----------------------------------------------------------------- generated configuration (no binaries)


def _generated(cert: ListenerCertificate, tmp_path: Path) -> tuple[DataPathPlan, dict[str, GatewayAddresses]]:
    plan = _plan(cert)
    return plan, {gw.key: addresses_for(plan, gw.key, tmp_path) for gw in plan.gateways}


def test_envoy_listeners_follow_envoy_gateway_translation(cert: ListenerCertificate, tmp_path: Path) -> None:
    """Shapes from EG internal/xds/translator/{proxy_protocol,listener}.go, checked key by key."""
    plan, addrs = _generated(cert, tmp_path)
    listeners = {
        lst["name"]: lst
        for lst in build_bootstrap(plan, addrs, ("127.0.0.1", 1))["static_resources"]["listeners"]
    }

    def hcm(listener: dict[str, Any], chain: str = "default_filter_chain") -> dict[str, Any]:
        fc = listener[chain] if chain == "default_filter_chain" else listener["filter_chains"][0]
        typed: dict[str, Any] = fc["filters"][0]["typed_config"]
        return typed

    strict = listeners["lab/v2-strict/http"]
    assert strict["address"]["socket_address"]["port_value"] == 10080
    assert [f["name"] for f in strict["listener_filters"]] == ["envoy.filters.listener.proxy_protocol"]
    assert "allow_requests_without_proxy_protocol" not in strict["listener_filters"][0]["typed_config"]
    assert hcm(strict)["use_remote_address"] is True
    assert "original_ip_detection_extensions" not in hcm(strict)

    https = listeners["lab/v2-strict/https"]
    assert https["address"]["socket_address"]["port_value"] == 10443
    assert [f["name"] for f in https["listener_filters"]] == [
        "envoy.filters.listener.proxy_protocol",
        "envoy.filters.listener.tls_inspector",
    ]
    assert https["filter_chains"][0]["filter_chain_match"] == {"server_names": [HOST]}
    assert hcm(https, "filter_chains")["stat_prefix"] == "https-10443"

    optional = listeners["lab/none-optional/http"]
    assert optional["listener_filters"][0]["typed_config"]["allow_requests_without_proxy_protocol"] is True

    assert "listener_filters" not in listeners["lab/v2-off/http"]
    xff = hcm(listeners["lab/xff2-edge1/http"])
    assert xff["use_remote_address"] is False
    [ext] = xff["original_ip_detection_extensions"]
    assert ext["name"] == "envoy.extensions.http.original_ip_detection.xff"
    assert (ext["typed_config"]["xff_num_trusted_hops"], ext["typed_config"]["skip_xff_append"]) == (1, False)
    assert (
        hcm(listeners["lab/xff1-edge1/http"])["original_ip_detection_extensions"][0]["typed_config"][
            "xff_num_trusted_hops"
        ]
        == 0
    )


def test_haproxy_stands_in_for_octavia(cert: ListenerCertificate, tmp_path: Path) -> None:
    plan, addrs = _generated(cert, tmp_path)
    text = build_config(plan, addrs)
    o = plan.address_octet
    assert f"server envoy 127.{o}.40.1:10080 source 127.{o}.20.1 send-proxy-v2\n" in text
    assert f"server envoy 127.{o}.40.2:10080 source 127.{o}.20.2\n" in text
    assert f"server envoy 127.{o}.40.5:10080 source 127.{o}.20.5 send-proxy\n" in text
    assert f"bind 127.{o}.10.1:443\n" in text
    assert (
        "acl allowed_cidrs src 127.0.0.77/32\n    tcp-request connection reject unless allowed_cidrs" in text
    )
    edge = text[text.index("listen edge1.lab.xff1-edge1.80") :]
    assert "mode http" in edge and "option forwardfor" in edge
    assert f"server next 127.{o}.10.6:80 source 127.{o}.31.6" in edge


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"proxy_protocol": "maybe"}, "proxy_protocol must be"),
        ({"lb_sends": "v3"}, "lb_sends must be"),
        ({"edge_proxies": 10}, "edge_proxies must be"),
        ({"lb_source_ranges": ("not-a-cidr",)}, "is not a CIDR"),
        ({"listeners": (ListenerPlan("a", 80), ListenerPlan("b", 80))}, "two listeners on port 80"),
        ({"listeners": ()}, "at least one listener"),
    ],
)
def test_plan_validation(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _gw("bad", **kwargs)


def test_plan_rejects_unknown_alias_and_https_without_cert() -> None:
    with pytest.raises(ValueError, match="names no gateway"):
        DataPathPlan(gateways=(_gw("a"),), dns_records={"x.example.test": ["@lb:lab/missing"]})
    with pytest.raises(ValueError, match="has no edge proxies"):
        DataPathPlan(gateways=(_gw("a"),), dns_records={"x.example.test": ["@edge:lab/a"]})
    with pytest.raises(ValueError, match="HTTPS needs"):
        ListenerPlan("https", 443, "HTTPS", HOST)


def test_dns_wildcard_and_out_of_zone_cname() -> None:
    import dns.message
    import dns.rcode
    import dns.rdatatype

    from egdoctor_lab.datapath.dns import DnsServer, DnsTable

    table = DnsTable(
        {
            "*.wild.example.test": ["127.0.0.11"],
            "out.example.test": ["elsewhere.test"],
            "v6.example.test": ["::1"],
        },
        ["example.test"],
    )
    server = DnsServer(table)
    try:

        def ask(name: str, rdtype: str) -> dns.message.Message:
            wire = server.answer(dns.message.make_query(name, rdtype).to_wire())
            assert wire is not None
            return dns.message.from_wire(wire)

        wild = ask("x.wild.example.test", "A")
        assert [r.to_text() for r in wild.answer[0]] == ["127.0.0.11"]
        assert wild.answer[0].name.to_text() == "x.wild.example.test."
        out = ask("out.example.test", "A")
        assert out.rcode() == dns.rcode.NOERROR and out.answer[0].rdtype == dns.rdatatype.CNAME
        assert [r.to_text() for r in ask("v6.example.test", "AAAA").answer[0]] == ["::1"]
        assert server.answer(b"\x00garbage") is None
    finally:
        server.stop()
