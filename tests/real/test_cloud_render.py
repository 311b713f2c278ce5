"""The lab's cloud controller turns a LoadBalancer Service into the amphora's HAProxy configuration the way
cloud-provider-openstack reads the Service: ``loadbalancer.openstack.org/proxy-protocol`` "v2" is PROXYV2,
"true"/"v1" PROXY, anything else none (``getProxyProtocolFromServiceAnnotation`` in
kubernetes/cloud-provider-openstack ``pkg/openstack/loadbalancer.go``); ``loadBalancerSourceRanges`` are the
listener's allowed CIDRs."""

from __future__ import annotations

from egdoctor_lab.realcluster.cloud import Balancer, render


def _lb(proxy: str, ranges: tuple[str, ...] = ()) -> Balancer:
    return Balancer("ns/svc", "127.77.0.10", ((80, 10080),), ("10.250.0.6",), proxy, ranges, "gateway/shared")


def test_proxy_protocol_from_the_annotation() -> None:
    assert "server member0 10.250.0.6:10080 send-proxy-v2\n" in render([_lb("v2")])
    assert "server member0 10.250.0.6:10080 send-proxy\n" in render([_lb("true")])
    assert "server member0 10.250.0.6:10080 send-proxy\n" in render([_lb("v1")])
    for other in ("", "false", "V3"):
        assert "send-proxy" not in render([_lb(other.lower())])


def test_source_ranges_become_the_allowed_cidrs() -> None:
    config = render([_lb("v2", ("192.0.2.0/24",))])
    assert "acl allowed_cidrs src 192.0.2.0/24" in config
    assert "tcp-request connection reject unless allowed_cidrs" in config
    assert "allowed_cidrs" not in render([_lb("v2")])
    assert "bind 127.77.0.10:80" in config
