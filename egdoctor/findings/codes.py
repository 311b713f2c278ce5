"""The code registry: every finding code, its severity, title, message and fix hint, in one place.

Codes are a product contract (users suppress them, pipelines grep them): keep numbers and meanings,
add new codes inside the matching hundred, never renumber. Each code has one page in docs/codes/.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from egdoctor.findings.model import Finding, GatewayRef, ObjectRef, Severity
from egdoctor.snapshot.objects import thaw

E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO


@dataclass(frozen=True)
class Code:
    code: str
    severity: Severity
    title: str
    message: str
    hint: str
    probe: bool = False

    @property
    def fields(self) -> set[str]:
        names = set()
        for text in (self.message, self.hint):
            names |= {f for _, f, _, _ in string.Formatter().parse(text) if f}
        return names


_CODES = [
    # EGD0xx access and environment
    Code(
        "EGD001",
        E,
        "Cannot reach or authenticate to the API server",
        "cannot use the API server{where}: {reason}",
        "check the kubeconfig, the context and the network path to the API server; `{kubectl} get ns` "
        "should work first",
    ),
    Code(
        "EGD002",
        W,
        "Forbidden to read some objects",
        "forbidden to {verb} {resource} {where}; skipped checks: {skipped}",
        "ask for read access to {resource} {where} (a Role/ClusterRole with get,list), or run egdoctor as "
        "an identity that has it; the rest of the report is still valid",
    ),
    Code(
        "EGD003",
        W,
        "A needed API is not installed",
        "the API {group_kind} is not served by this cluster; skipped checks: {skipped}",
        "install the CRDs that provide {group_kind} (Gateway API / Envoy Gateway / cert-manager), or "
        "ignore this if the feature is not used",
    ),
    Code(
        "EGD004",
        W,
        "Malformed object skipped",
        "{subject} is malformed and was skipped: {reason}",
        "{fix}; {ran}",
    ),
    Code(
        "EGD005",
        W,
        "An API request failed",
        "could not {verb} {resource} {where}: {reason}; skipped checks: {skipped}",
        "retry with a longer --request-timeout; if it persists, check the API server's health",
    ),
    # EGD1xx GatewayClass and Gateway
    Code(
        "EGD101",
        E,
        "GatewayClass missing or not Accepted",
        "GatewayClass {gatewayclass} {problem}",
        "use gatewayClassName: {expected} (the class Envoy Gateway serves), or ask the platform team why "
        "{gatewayclass} is not accepted",
    ),
    Code(
        "EGD102",
        E,
        "Gateway not Accepted",
        "Gateway is not Accepted: {reason}: {message}",
        "fix what the controller reports above; `kubectl describe gateway -n {namespace} {name}`",
    ),
    Code(
        "EGD103",
        E,
        "Gateway not Programmed or without address",
        "Gateway {problem}",
        "check the Envoy LoadBalancer Service and its events (`kubectl get svc -A -l "
        "gateway.envoyproxy.io/owning-gateway-name={name}`); a pending load balancer means Octavia has not "
        "finished or failed",
    ),
    Code(
        "EGD104",
        E,
        "Listener condition failing",
        "listener {listener}: {condition} is {status} ({reason}): {message}",
        "{fix}",
    ),
    Code(
        "EGD105",
        W,
        "Several Gateways of the class",
        "{count} Gateways use class {gatewayclass} ({gateways}); each gets its own load balancer and "
        "public IP",
        "the standard layout is one shared Gateway; attach routes to it with parentRefs instead of creating "
        "Gateways per namespace",
    ),
    Code(
        "EGD106",
        E,
        "Listener cannot admit the routes that target it",
        "listener {listener} {problem}",
        "{fix}",
    ),
    Code(
        "EGD107",
        W,
        "Gateway address is not the load balancer's",
        "status.addresses {addresses} are not among the load-balancer addresses of the Envoy Service "
        "{service} ({ingress}); egdoctor does not probe them",
        "a Gateway's spec.addresses (chosen by whoever owns the Gateway) lands in status.addresses: remove "
        "addresses the load balancer does not own (`kubectl get gateway -n {namespace} {name} -o "
        "jsonpath='{{.spec.addresses}}'`), or probe an address you trust with --address",
    ),
    Code(
        "EGD108",
        W,
        "Envoy Service not where this deployment mode puts it",
        "EnvoyProxy {envoyproxy} of GatewayClass {gateway_class} sets mergeGateways: {merge}, but the Envoy "
        "Service of {gateway_name} is {service}, {found}: Envoy Gateway has not (yet) deployed Envoy the way "
        "the EnvoyProxy asks",
        "{fix}",
    ),
    Code(
        "EGD109",
        W,
        "Listeners share TLS hostnames or certificates",
        "listener {listener} {problem}",
        "give each HTTPS listener hostnames and a certificate of its own (no wildcard covering another "
        "listener's hostname, no certificate shared between them), or merge them into one listener",
    ),
    Code(
        "EGD110",
        E,
        "ListenerSet listener not accepted",
        "{listenerset} {problem}",
        "{fix}",
    ),
    Code(
        "EGD111",
        E,
        "Invalid EnvoyProxy parameters",
        "{subject} {problem}",
        "fix the EnvoyProxy named by {reference} (`kubectl get envoyproxy {where} -o yaml`): until it is "
        "valid Envoy Gateway {effect}",
    ),
    # EGD2xx routes and backends
    Code("EGD201", E, "parentRef names nothing that exists", "parentRefs[{index}] {problem}", "{fix}"),
    Code(
        "EGD202",
        E,
        "Route not Accepted by its parent",
        "not Accepted by {parent}: {reason}: {message}; {cause}",
        "{fix}",
    ),
    Code(
        "EGD203",
        E,
        "Namespace lacks the opt-in label",
        "namespace {route_namespace} lacks the label {label} that listener(s) {listeners} of {parent} "
        "require, so the route cannot attach to them",
        "kubectl label namespace {route_namespace} {label_arg}{alternative}",
    ),
    Code(
        "EGD204",
        E,
        "Route references do not resolve",
        "{problem}",
        "{fix}",
    ),
    Code(
        "EGD205",
        W,
        "Backend has no ready endpoints",
        "backend Service {backend} has no ready endpoints{detail}",
        "check the pods behind Service {backend}: {pods} (replicas, readiness probes, the Service's "
        "selector); requests to this backend get HTTP 503 until one is ready",
    ),
    Code(
        "EGD206",
        E,
        "Route not reconciled by Envoy Gateway",
        "no status from {controller} for parent {parent}: {detail}",
        "check that the parentRef names the right Gateway and namespace, that the Gateway's class is served "
        "by Envoy Gateway, and that the controller is running",
    ),
    Code(
        "EGD207",
        E,
        "Route hostnames do not intersect the listener",
        "hostnames {route_hostnames} match no hostname of listener(s) {listener} of {parent} "
        "({listener_hostname})",
        "use a hostname the listener accepts ({listener_hostname}), or attach with sectionName to a "
        "listener that serves {route_hostnames}",
    ),
    Code(
        "EGD208",
        E,
        "Route partially invalid: some rules dropped",
        "{route} on {parent}: PartiallyInvalid ({reason}): {message}",
        "fix the rules the message names; Envoy Gateway serves the route without them, so requests that "
        "would match them get another rule's answer or a 404",
    ),
    # EGD3xx client-IP mode
    Code(
        "EGD301",
        E,
        "No ClientTrafficPolicy handles the client IP",
        "no ClientTrafficPolicy configures client-IP handling for {target}{detail}: backends, logs and rate "
        "limits see the load balancer's internal address",
        "{fix}",
    ),
    Code(
        "EGD302",
        E,
        "ClientTrafficPolicy has no effect",
        "ClientTrafficPolicy {problem}: it has no effect",
        "{fix}",
    ),
    Code(
        "EGD303",
        E,
        "ClientTrafficPolicy not in effect",
        "ClientTrafficPolicy {ctp} on {ancestor}: {condition} ({reason}): {message}{effect}",
        "{fix}",
    ),
    Code(
        "EGD304",
        E,
        "CTP expects PROXY protocol but the load balancer does not send it",
        "ClientTrafficPolicy {ctp} enables PROXY protocol ({pp}) on {target} but the load balancer Service "
        "{service} does not ask Octavia for it ({annotation_state}): {effect}",
        "{fix}",
    ),
    Code(
        "EGD305",
        E,
        "The load balancer sends PROXY protocol but Envoy does not expect it",
        'the load balancer Service {service} sends PROXY protocol {version} ({annotation}="{value}") but '
        "{ctp_state} on {target}: Envoy reads the PROXY header as the start of a request and answers HTTP "
        "400 (HTTPS listeners fail the TLS handshake)",
        "{fix}",
    ),
    Code(
        "EGD306",
        W,
        "PROXY protocol optional",
        "ClientTrafficPolicy {ctp} sets proxyProtocol.optional: true on {target}: connections without a "
        "header are accepted, so clients that reach Envoy without the load balancer can forge their IP",
        "set proxyProtocol.optional: false once the load balancer sends PROXY v2",
    ),
    Code(
        "EGD307",
        W,
        "Deprecated enableProxyProtocol",
        "ClientTrafficPolicy {ctp} uses the deprecated enableProxyProtocol{effect}",
        "{fix}",
    ),
    Code(
        "EGD308",
        E,
        "XFF numTrustedHops differs from the trusted proxies",
        "numTrustedHops is {hops} on {target} but the expected number of trusted proxies is "
        "{expected}{source}: {effect}",
        "set clientIPDetection.xForwardedFor.numTrustedHops: {expected} in ClientTrafficPolicy {ctp}",
    ),
    Code(
        "EGD309",
        W,
        "Client-IP settings outside the two documented modes",
        "{ctp} on {target}: {problem}",
        "{fix}",
    ),
    Code(
        "EGD310",
        W,
        "PROXY protocol v1 on the load balancer",
        'the load balancer Service {service} asks Octavia for PROXY protocol v1 ({annotation}="{value}") '
        "where v2 is documented (Envoy parses both, so traffic works today)",
        'set loadbalancer.openstack.org/proxy-protocol: "v2" (note: changing it recreates the load '
        "balancer, see EGD314)",
    ),
    Code(
        "EGD311",
        E,
        "The load balancer terminates HTTP",
        'the load balancer Service {service} carries {annotation}="{value}", which makes Octavia an HTTP '
        "load balancer and breaks the TCP mode both client-IP modes need",
        "remove {annotation} from the Envoy Service (and use XFF or PROXY mode in the ClientTrafficPolicy)",
    ),
    Code(
        "EGD312",
        E,
        "Envoy LoadBalancer Service missing or without address",
        "the Envoy Service of {gateway_name}{service} {problem}",
        "{fix}",
    ),
    Code(
        "EGD313",
        E,
        "XFF mode with the load balancer open to everyone",
        "{target} trusts {trusts} but the load balancer Service {service} accepts connections from "
        "anywhere ({why}): anyone can bypass the edge proxy and forge their IP",
        "{source_ranges_fix}",
    ),
    Code(
        "EGD314",
        INFO,
        "Changing load-balancer annotations recreates the load balancer",
        "the fix for {codes} changes the annotations of {service}, which recreates the Octavia load "
        "balancer{ip_note}",
        "{fix}",
    ),
    Code(
        "EGD315",
        E,
        "Client-IP mode differs from the expected mode",
        "{target} is set up for {mode} mode ({describe}) but {expected} mode is expected (--expect-mode)",
        "{fix}",
    ),
    # EGD4xx TLS and cert-manager
    Code(
        "EGD401",
        E,
        "Listener certificate Secret unusable",
        "listener {listener} certificateRef {secret}: {problem}",
        "{fix}",
    ),
    Code(
        "EGD402",
        E,
        "Certificate does not cover the hostname or is expiring",
        "certificate in {secret}: {problem}",
        "{fix}",
    ),
    Code(
        "EGD403",
        E,
        "cert-manager Certificate not Ready",
        "Certificate {certificate} is not Ready: {link}",
        "{fix}",
    ),
    Code("EGD404", E, "Issuer missing or not Ready", "{issuer} {problem}", "{fix}"),
    Code("EGD405", E, "HTTP-01 cannot work through the Gateway", "{issuer}: {problem}", "{fix}"),
    Code(
        "EGD406",
        E,
        "cert-manager missing while HTTPS listeners exist",
        "HTTPS listeners exist but cert-manager {problem}",
        "{fix}",
    ),
    Code("EGD407", E, "Served certificate does not verify or differs", "{message}", "{fix}", probe=True),
    # EGD5xx DNS
    Code(
        "EGD501",
        E,
        "Hostname does not resolve",
        "{hostname} does not resolve: {reason}",
        "create the DNS record for {hostname}: A/AAAA to the Gateway address {addresses} in direct mode, "
        "or to your CDN/WAF in XFF mode",
        probe=True,
    ),
    Code(
        "EGD502",
        E,
        "Hostname resolves elsewhere",
        "{hostname} resolves to {resolved}, not to the Gateway's load balancer {addresses}",
        "point {hostname} at {addresses} (a stale record from an old load balancer is the usual cause: "
        "Octavia gives a recreated load balancer a new address unless the floating IP is kept)",
        probe=True,
    ),
    Code(
        "EGD503",
        E,
        "XFF mode: hostname bypasses the edge proxy",
        "{hostname} resolves straight to the load balancer {addresses}: clients bypass the edge proxy",
        "point {hostname} at your CDN/WAF, which forwards to {addresses}",
        probe=True,
    ),
    # EGD6xx live probes
    Code(
        "EGD601",
        E,
        "Gateway unreachable",
        "{target} is unreachable: {outcome}",
        "check the Octavia load balancer and its members (`{lb_status}`), the security groups and "
        "loadBalancerSourceRanges, and that this machine may reach the address at all",
        probe=True,
    ),
    Code("EGD602", E, "Envoy rejects the load balancer's PROXY header", "{message}", "{fix}", probe=True),
    Code(
        "EGD603",
        E,
        "Envoy expects PROXY protocol, the load balancer does not send it",
        "{message}",
        "{fix}",
        probe=True,
    ),
    Code("EGD604", E, "A client-sent PROXY header was accepted", "{message}", "{fix}", probe=True),
    Code("EGD605", E, "Envoy picked the wrong X-Forwarded-For element", "{message}", "{fix}", probe=True),
    Code("EGD606", E, "Real client IP lost", "{message}", "{fix}", probe=True),
    Code("EGD607", INFO, "Client IP verified", "{message}", "{fix}", probe=True),
    Code("EGD608", INFO, "Client IP not observable", "{message}", "{fix}", probe=True),
    # EGD7xx other policies
    Code("EGD701", E, "Policy not in effect", "{kind} {problem}", "{fix}"),
    Code(
        "EGD702",
        E,
        "IP-based authorization sees the load balancer",
        "SecurityPolicy authorizes by client IP (clientCIDRs {cidrs}) but Envoy sees {seen} on {target} "
        "(client-IP mode {mode}): {effect}",
        "fix the client-IP mode of {target} first (see the EGD3xx findings), then the clientCIDRs rule works",
    ),
    Code(
        "EGD703",
        E,
        "Client-IP keyed setting sees the load balancer",
        "{setting} keys on the client IP but Envoy sees {seen} on {target} (client-IP mode {mode}): {effect}",
        "fix the client-IP mode of {target} first (see the EGD3xx findings)",
    ),
    Code("EGD704", E, "BackendTLSPolicy cannot validate", "BackendTLSPolicy {problem}", "{fix}"),
    Code(
        "EGD705",
        W,
        "BackendTLSPolicy CA found under another key",
        "{policy} {where} has no ca.crt key; Envoy Gateway accepted it and takes the CA from key {key} "
        "instead, which breaks as soon as a second key is added",
        "{fix}",
    ),
    Code(
        "EGD706",
        E,
        "EnvoyExtensionPolicy failing",
        "{policy} on {where}: {condition} ({reason}): {message}; {effect}",
        "{fix}",
    ),
    Code(
        "EGD707",
        E,
        "EnvoyPatchPolicy not applied",
        "{policy} on {where}: {condition} ({reason}): {message}",
        "{fix}",
    ),
    Code(
        "EGD709",
        E,
        "The controller reports a problem",
        "{subject} {where}: {condition} ({reason}): {message}",
        "{fix}",
    ),
]

REGISTRY: Mapping[str, Code] = {c.code: c for c in _CODES}


class _Lenient(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def render(template: str, params: Mapping[str, Any]) -> str:
    return template.format_map(_Lenient(params))


def make_finding(
    code: str,
    subject: ObjectRef | None = None,
    gateway: GatewayRef | None = None,
    evidence: Mapping[str, Any] | None = None,
    severity: Severity | None = None,
    **params: Any,
) -> Finding:
    """Build a finding from the registry; `params` fill the message and hint templates."""
    spec = REGISTRY[code]
    if subject is not None:
        params.setdefault("subject", str(subject))
        params.setdefault("namespace", subject.namespace)
        params.setdefault("name", subject.name)
    return Finding(
        code=code,
        severity=severity or spec.severity,
        message=render(spec.message, params),
        hint=render(spec.hint, params),
        subject=subject,
        gateway=gateway,
        evidence=thaw(dict(evidence or {})),
    )
