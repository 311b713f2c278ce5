"""Observers: the temporary route's objects, and reading what Envoy decided from a response or a log line.

The HTTPRouteFilter shape follows envoyproxy/gateway ``api/v1alpha1/httproutefilter_types.go``
(``directResponse.{contentType,statusCode,body{type,inline}}``); operators in the body are evaluated from
EG v1.8 (``body_format`` in ``internal/xds/translator/route.go``), older EG gets response headers.
"""

from __future__ import annotations

import json
import re

from egdoctor.model.topology import ClientIP
from egdoctor.probes.observers import (
    DIRECT_OP,
    REMOTE_OP,
    XFF_OP,
    EchoObserver,
    RouteObserver,
    SentProbe,
    _json_line,
    echoed_headers,
    route_body,
    strip_port,
    trusted_from_chain,
)
from egdoctor.probes.transport import ExchangeResult

# Envoy command operators are %NAME% or %NAME(args)% with upper-case names (Envoy access-log docs).
_OPERATOR = re.compile(r"%[A-Z_]+(\([A-Z0-9_:?-]+\))?%")


def _cip(hops: int | None = None, pp: str = "off", lb: str = "none") -> ClientIP:
    return ClientIP(None, pp, False, hops, (), None, lb, None)


def _http(body: dict | bytes, headers: tuple[tuple[str, str], ...] = ()) -> ExchangeResult:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return ExchangeResult(
        "http", "done", ("127.0.0.1", 80), None, "ua", status=200, headers=headers, body=raw
    )


def test_route_body_holds_only_well_formed_operators() -> None:
    body = route_body("abc123")
    data = json.loads(body)
    assert data == {"egdoctor": "abc123", "remote": REMOTE_OP, "direct": DIRECT_OP, "xff": XFF_OP}
    for value in (REMOTE_OP, DIRECT_OP, XFF_OP):
        assert _OPERATOR.fullmatch(value), value
    assert body.count("%") == 6


def test_route_objects_are_labelled_scoped_and_unique() -> None:
    obs = RouteObserver("tok", namespace="team-a", hostnames=["team-a.example.com"])
    flt, route = obs.filter_object(), obs.route_object()
    for obj in (flt, route):
        assert obj["metadata"]["name"] == "egdoctor-probe-tok"
        assert obj["metadata"]["namespace"] == "team-a"
        assert obj["metadata"]["labels"] == {
            "app.kubernetes.io/managed-by": "egdoctor",
            "egdoctor.io/run-id": "tok",
        }
    assert flt["apiVersion"] == "gateway.envoyproxy.io/v1alpha1"
    direct = flt["spec"]["directResponse"]
    assert direct["statusCode"] == 200 and direct["body"]["type"] == "Inline"
    assert json.loads(direct["body"]["inline"])["remote"] == REMOTE_OP
    rule = route["spec"]["rules"][0]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/.egdoctor/tok"}}]
    assert rule["filters"] == [
        {
            "type": "ExtensionRef",
            "extensionRef": {
                "group": "gateway.envoyproxy.io",
                "kind": "HTTPRouteFilter",
                "name": "egdoctor-probe-tok",
            },
        }
    ]
    assert route["spec"]["hostnames"] == ["team-a.example.com"]


def test_older_envoy_gateway_gets_response_headers() -> None:
    obs = RouteObserver("tok", namespace="team-a", header_mode=True)
    route = obs.route_object()
    modifier, extension = route["spec"]["rules"][0][
        "filters"
    ]  # the modifier first: EG stops after a direct response
    assert extension["type"] == "ExtensionRef"
    assert modifier["type"] == "ResponseHeaderModifier"
    values = {h["name"]: h["value"] for h in modifier["responseHeaderModifier"]["set"]}
    assert values["x-egdoctor-remote"] == REMOTE_OP
    assert "%" not in obs.filter_object()["spec"]["directResponse"]["body"]["inline"]
    result = _http({"egdoctor": "tok"}, (("x-egdoctor-remote", "198.51.100.7"), ("x-egdoctor-xff", "-")))
    probe = SentProbe("1", "/p", "ua", ("gw", "shared"), _cip())
    observation = obs.from_response(probe, result)
    assert observation is not None and observation.remote == "198.51.100.7" and observation.xff is None


def test_route_response_parsing() -> None:
    obs = RouteObserver("tok", namespace="team-a")
    probe = SentProbe("1", "/p", "ua", ("gw", "shared"), _cip())
    seen = obs.from_response(
        probe, _http({"egdoctor": "tok", "remote": "127.0.0.1", "direct": "127.0.20.1", "xff": "192.0.2.2"})
    )
    assert seen is not None
    assert (seen.remote, seen.direct, seen.xff) == ("127.0.0.1", "127.0.20.1", "192.0.2.2")
    # someone else's response, or operators left unevaluated, prove nothing
    assert obs.from_response(probe, _http({"egdoctor": "other", "remote": "1.2.3.4"})) is None
    assert obs.from_response(probe, _http({"egdoctor": "tok", "remote": REMOTE_OP})) is None


def test_strip_port() -> None:
    assert strip_port("127.0.0.1:4321") == "127.0.0.1"
    assert strip_port("198.51.100.2:0") == "198.51.100.2"
    assert strip_port("[2001:db8::1]:80") == "2001:db8::1"
    assert strip_port("2001:db8::1") == "2001:db8::1"
    assert strip_port("-") is None


def test_trusted_from_chain_counts_from_the_right_after_envoys_append() -> None:
    chain = ["198.51.100.1", "198.51.100.2", "127.0.0.1", "127.0.20.1"]  # last: Envoy's append of the peer
    assert trusted_from_chain(chain, _cip(hops=1)) == "127.0.0.1"
    assert trusted_from_chain(chain, _cip(hops=2)) == "198.51.100.2"
    assert trusted_from_chain(chain, _cip(hops=4)) == "127.0.20.1"  # too few entries: the peer
    assert trusted_from_chain([], _cip(hops=1)) is None


def test_echoed_headers_in_common_shapes() -> None:
    lab = {"headers": [["Host", "x"], ["X-Forwarded-For", "1.1.1.1"], ["X-Forwarded-For", "2.2.2.2"]]}
    assert echoed_headers(json.dumps(lab).encode())["x-forwarded-for"] == ["1.1.1.1", "2.2.2.2"]
    nested = {"request": {"headers": {"X-Envoy-External-Address": ["3.3.3.3"]}}}
    assert echoed_headers(json.dumps(nested).encode())["x-envoy-external-address"] == ["3.3.3.3"]
    text = b"Host: x\nX-Forwarded-For: 4.4.4.4, 5.5.5.5\n"
    assert echoed_headers(text)["x-forwarded-for"] == ["4.4.4.4, 5.5.5.5"]


def test_echo_observer_uses_external_address_in_direct_mode_and_the_chain_in_xff_mode() -> None:
    obs = EchoObserver("tok", path="/headers?x=1")
    assert obs.path_for("3") == "/headers?x=1&egdoctor=tok-3"
    body = {"headers": [["X-Forwarded-For", "192.0.2.2"], ["X-Envoy-External-Address", "127.0.0.1"]]}
    direct = SentProbe("1", "/p", "ua", ("gw", "shared"), _cip(pp="strict", lb="v2"))
    seen = obs.from_response(direct, _http(body))
    assert seen is not None and seen.remote == "127.0.0.1"
    xff = SentProbe("2", "/p", "ua", ("gw", "shared"), _cip(hops=1))
    seen = obs.from_response(xff, _http({"headers": [["X-Forwarded-For", "127.0.0.1, 127.0.20.1"]]}))
    assert seen is not None and seen.remote == "127.0.0.1"


def test_log_lines_with_prefixes() -> None:
    line = '2026-01-01T00:00:00.000Z stdout F {"user-agent": "u", "downstream_remote_address": "1.2.3.4:5"}'
    assert _json_line(line) == {"user-agent": "u", "downstream_remote_address": "1.2.3.4:5"}
    assert _json_line("[warning] not json") is None
