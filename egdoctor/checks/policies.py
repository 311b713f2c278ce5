"""Checks of the other Envoy Gateway policies (EGD7xx): BackendTrafficPolicy, SecurityPolicy and
BackendTLSPolicy are in effect, and settings keyed on the client IP can see real clients.

Status shapes follow envoyproxy/gateway internal/gatewayapi/status/policy.go (ancestors with Accepted,
Overridden, ResolvedRefs) and internal/gatewayapi/backendtlspolicy.go (CA certificate references). The
client-IP mode each listener runs in comes from `egdoctor.model.topology.ClientIP`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from egdoctor.checks.clientip import MODE_NAMES, gateway_namespaces, obj_text, target_text
from egdoctor.checks.registry import CheckContext, check
from egdoctor.findings.codes import make_finding
from egdoctor.findings.model import Finding, GatewayRef, Severity
from egdoctor.model.topology import EG_CONTROLLER, ClientIP, GatewayView, ListenerView, policy_targets
from egdoctor.snapshot.kinds import ROUTE_KINDS
from egdoctor.snapshot.objects import Obj, as_list, as_map, conditions, thaw

_PLURAL = {
    "BackendTrafficPolicy": "backendtrafficpolicy",
    "SecurityPolicy": "securitypolicy",
    "BackendTLSPolicy": "backendtlspolicy",
}
# BackendTLSPolicy reasons about its CA bundle: EGD704 explains them from the spec.
_CA_REASONS = {"NoValidCACertificate", "InvalidCACertificateRef", "InvalidKind"}


# -- EGD701 -------------------------------------------------------------------------------------------------


def _ancestor_where(policy: Obj, anc: Mapping[str, Any]) -> tuple[str, GatewayRef | None]:
    ref = as_map(anc.get("ancestorRef"))
    kind = str(ref.get("kind", "Gateway"))
    ns, name = str(ref.get("namespace") or policy.namespace or ""), str(ref.get("name", ""))
    section = ref.get("sectionName") if isinstance(ref.get("sectionName"), str) else None
    text = f"{kind} {ns}/{name}" + (f" listener {section}" if section else "")
    return text, GatewayRef(ns, name, section) if kind == "Gateway" else None


def _condition_fix(policy: Obj, reason: str) -> tuple[str, Severity | None]:
    plural = _PLURAL.get(policy.kind, policy.kind.lower())
    describe = f"`kubectl describe {plural} -n {policy.namespace} {policy.name}`"
    if reason == "Conflicted":
        return (
            f"another {policy.kind} already targets the same object (the oldest wins): merge the settings "
            "into one policy, or target a different route or listener",
            None,
        )
    if reason == "Overridden":
        return (
            f"a more specific {policy.kind} (on a route or a listener) replaces this one there: move the "
            "settings that should apply into it",
            Severity.WARNING,
        )
    if reason == "TargetNotFound":
        return "correct targetRefs: the target does not exist in the policy's namespace", None
    if reason == "Invalid":
        return f"fix the field the message names ({describe})", None
    return f"fix what the controller reports ({describe})", None


def _target_exists(
    ctx: CheckContext, policy: Obj, ref: Mapping[str, Any], kinds: tuple[str, ...]
) -> bool | None:
    """True/False when the snapshot can tell, None when the target's kind or namespace was not read."""
    kind = str(ref.get("kind", ""))
    ns, name = policy.namespace or "", str(ref.get("name", ""))
    if kind == "Gateway" and "Gateway" in kinds:
        covered = gateway_namespaces(ctx)
        if covered is not None and ns not in covered:
            return None
        return (ns, name) in ctx.topology.gateways
    if kind in kinds:
        return ctx.snapshot.get(kind, ns, name) is not None
    return None


def _targets_gateway(policy: Obj) -> bool:
    """Only a policy on a Gateway concerns every namespace routed through it; one on a route (or a Service)
    is shown by its own namespace, so its findings carry no GatewayRef."""
    return any(r.get("kind") == "Gateway" for r in policy_targets(policy))


def _policy_status(ctx: CheckContext, kind: str, target_kinds: tuple[str, ...]) -> Iterator[Finding]:
    for policy in ctx.snapshot.of(kind):
        on_gateway = _targets_gateway(policy)
        ancestors = [a for a in as_list(policy.status.get("ancestors")) if isinstance(a, Mapping)]
        ours = [a for a in ancestors if a.get("controllerName") == EG_CONTROLLER]
        if ancestors and not ours:
            continue  # another controller's policy
        if not ours:
            yield from _orphan(ctx, policy, target_kinds)
            continue
        for anc in ours:
            where_text, where = _ancestor_where(policy, anc)
            conds = conditions(anc)
            failing = []
            for ctype in ("Accepted", "ResolvedRefs"):
                c = conds.get(ctype)
                if c is not None and c.get("status") == "False":
                    failing.append(c)
            for ctype in ("Conflicted", "Overridden"):
                c = conds.get(ctype)
                if c is not None and c.get("status") == "True":
                    failing.append(c)
            if kind == "BackendTLSPolicy":
                failing = [c for c in failing if c.get("reason") not in _CA_REASONS]
            if not failing:
                continue
            first = failing[0]
            reason = str(first.get("reason", ""))
            fix, severity = _condition_fix(policy, reason)
            # EG names the routes a Gateway-wide policy is overridden for ("... for these routes:
            # [team-a/web]"): only their namespaces need to hear about it
            routes = re.findall(r"([a-z0-9][-a-z0-9]*)/[a-z0-9][-a-z0-9.]*", str(first.get("message", "")))
            finding = make_finding(
                "EGD701",
                subject=policy.ref,
                gateway=where if on_gateway else None,
                severity=severity,
                kind=kind,
                problem=f"{obj_text(policy)} on {where_text}: {first.get('type')}={first.get('status')} "
                f"({reason}): {first.get('message', '')}",
                fix=fix,
                evidence={"conditions": [dict(c) for c in failing]},
            )
            if reason == "Overridden" and routes:
                finding = replace(finding, concerns=tuple(sorted(set(routes))))
            yield finding


def _orphan(ctx: CheckContext, policy: Obj, target_kinds: tuple[str, ...]) -> Iterator[Finding]:
    refs = policy_targets(policy)
    missing = [r for r in refs if _target_exists(ctx, policy, r, target_kinds) is False]
    ns = policy.namespace or ""
    if missing:
        names = ", ".join(f"{r.get('kind', '')} {ns}/{r.get('name', '')}" for r in missing)
        gw = next((r for r in refs if r.get("kind") == "Gateway" and r not in missing), None)
        yield make_finding(
            "EGD701",
            subject=policy.ref,
            gateway=GatewayRef(ns, str(gw.get("name")), gw.get("sectionName")) if gw else None,
            kind=policy.kind,
            problem=f"{obj_text(policy)} targets {names}, which does not exist: it has no effect",
            fix=f"correct targetRefs; policy targets are local, so the target must live in namespace {ns}",
            evidence={"targetRefs": thaw(tuple(refs))},
        )
        return
    if not refs and not as_list(policy.spec.get("targetSelectors")):
        return
    gw = next((r for r in refs if r.get("kind") == "Gateway"), None)
    yield make_finding(
        "EGD701",
        subject=policy.ref,
        gateway=GatewayRef(ns, str(gw.get("name")), gw.get("sectionName")) if gw else None,
        severity=Severity.WARNING,
        kind=policy.kind,
        problem=f"{obj_text(policy)} has no status from Envoy Gateway: its targets are not served by a "
        "Gateway of Envoy Gateway (route not attached, Service not used by any route), or the controller has "
        "not reconciled it yet",
        fix="check that the targeted route is Accepted by the shared Gateway (or that a route sends traffic "
        "to the targeted Service); if it is, look at the Envoy Gateway controller's logs",
        evidence={"targetRefs": thaw(tuple(refs))},
    )


_POLICY_TARGETS = ("Gateway", "HTTPRoute", "GRPCRoute")


@check("btp-status", inputs=["BackendTrafficPolicy", *_POLICY_TARGETS], codes=["EGD701"])
def btp_status(ctx: CheckContext) -> Iterator[Finding]:
    """BackendTrafficPolicies are Accepted, not conflicted or overridden, and target something that exists."""
    yield from _policy_status(ctx, "BackendTrafficPolicy", _POLICY_TARGETS)


@check("sp-status", inputs=["SecurityPolicy", *_POLICY_TARGETS], codes=["EGD701"])
def sp_status(ctx: CheckContext) -> Iterator[Finding]:
    """SecurityPolicies are Accepted, not conflicted or overridden, and target something that exists."""
    yield from _policy_status(ctx, "SecurityPolicy", _POLICY_TARGETS)


@check("backendtls-status", inputs=["BackendTLSPolicy", "Service"], codes=["EGD701"])
def backendtls_status(ctx: CheckContext) -> Iterator[Finding]:
    """BackendTLSPolicies are Accepted and target a Service that exists."""
    yield from _policy_status(ctx, "BackendTLSPolicy", ("Service",))


# -- EGD702 / EGD703 --------------------------------------------------------------------------------


def _listeners_of(ctx: CheckContext, policy: Obj) -> list[tuple[GatewayView, ListenerView]]:
    """The Gateway listeners a policy's traffic passes: targeted directly, or through a targeted route."""
    out: dict[tuple[tuple[str, str], str], tuple[GatewayView, ListenerView]] = {}
    ns = policy.namespace or ""
    for ref in policy_targets(policy):
        kind, name = str(ref.get("kind", "")), str(ref.get("name", ""))
        if kind == "Gateway":
            gv = ctx.topology.gateways.get((ns, name))
            if gv is None:
                continue
            section = ref.get("sectionName")
            for lv in gv.listeners:
                if not section or lv.name == section:
                    out[(gv.key, lv.name)] = (gv, lv)
        elif kind in ROUTE_KINDS:
            for att in ctx.topology.attachments:
                route = att.route
                if (
                    route.kind != kind
                    or route.namespace != ns
                    or route.name != name
                    or att.gateway_key is None
                ):
                    continue
                parent = ctx.topology.gateways.get(att.gateway_key)
                if parent is None:
                    continue
                for lv in ctx.topology.listeners_for(att):
                    out[(parent.key, lv.name)] = (parent, lv)
    return list(out.values())


def _exposure(ci: ClientIP) -> tuple[str, str] | None:
    """What Envoy takes as the client address when the mode is not a consistent direct/XFF set-up, and a
    short tag for how a client-IP keyed setting then misbehaves; None when real clients are visible."""
    if ci.client_ip_visible or not ci.ctp_known:
        return None
    pp = ci.proxy_protocol != "off"
    if pp and (ci.xff or ci.custom_header):
        header = "X-Forwarded-For" if ci.xff else f"header {ci.custom_header}"
        return f"an address the client writes into {header}", "forged"
    if not pp and ci.lb_sends_proxy:
        return "no client at all (every request fails with HTTP 400 until EGD305 is fixed)", "broken"
    if pp:
        if ci.proxy_protocol == "strict":
            return (
                "no client through the load balancer (it sends no PROXY header), only addresses clients "
                "forge in their own PROXY header",
                "forged",
            )
        return "the load balancer's address, or an address a client forges in its own PROXY header", "forged"
    return "the load balancer's internal address for every client", "lb"


def _scope_text(gv: GatewayView, listeners: list[ListenerView]) -> tuple[str, GatewayRef]:
    names = sorted(lv.name for lv in listeners)
    if set(names) == {lv.name for lv in gv.listeners}:
        return target_text(gv.key, None), GatewayRef(*gv.key)
    return target_text(gv.key, names), GatewayRef(*gv.key, names[0] if len(names) == 1 else None)


def _exposed_groups(
    ctx: CheckContext, policy: Obj
) -> Iterator[tuple[str, GatewayRef | None, str, str, str, ListenerView]]:
    """(target, gateway, seen, tag, mode, a listener) per Gateway and kind of exposure."""
    on_gateway = _targets_gateway(policy)
    by_gateway: dict[tuple[tuple[str, str], str, str], tuple[GatewayView, list[ListenerView]]] = {}
    for gv, lv in _listeners_of(ctx, policy):
        exposure = _exposure(lv.client_ip)
        if exposure is None:
            continue
        seen, tag = exposure
        by_gateway.setdefault((gv.key, seen, tag), (gv, []))[1].append(lv)
    for (_, seen, tag), (gv, listeners) in sorted(by_gateway.items(), key=lambda kv: kv[0]):
        target, where = _scope_text(gv, listeners)
        yield (
            target,
            where if on_gateway else None,
            seen,
            tag,
            MODE_NAMES[listeners[0].client_ip.mode],
            listeners[0],
        )


_AUTHZ_EFFECT = {
    "lb": "the rule compares the load balancer's address, not the clients'",
    "forged": "any client passes an Allow rule (or dodges a Deny rule) by forging an allowed address",
    "broken": "the rule cannot work until the PROXY mismatch is fixed",
}


@check(
    "sp-client-ip",
    inputs=["SecurityPolicy", "Gateway", "ClientTrafficPolicy", "HTTPRoute", "GRPCRoute"],
    codes=["EGD702"],
)
def sp_client_ip(ctx: CheckContext) -> Iterator[Finding]:
    """SecurityPolicy clientCIDRs rules apply only where Envoy sees real client addresses.

    The rule matches the address Envoy derived from PROXY protocol or X-Forwarded-For
    (api/v1alpha1/authorization_types.go, Principal.ClientCIDRs).
    """
    for policy in ctx.snapshot.of("SecurityPolicy"):
        cidrs: list[str] = []
        for rule in as_list(as_map(policy.spec.get("authorization")).get("rules")):
            cidrs += [str(c) for c in as_list(as_map(as_map(rule).get("principal")).get("clientCIDRs"))]
        if not cidrs:
            continue
        for target, where, seen, tag, mode, lv in _exposed_groups(ctx, policy):
            yield make_finding(
                "EGD702",
                subject=policy.ref,
                gateway=where,
                cidrs=", ".join(dict.fromkeys(cidrs)),
                seen=seen,
                target=target,
                mode=mode,
                effect=_AUTHZ_EFFECT[tag],
                evidence={"clientIP": lv.client_ip.describe(), "clientCIDRs": cidrs},
            )


def _client_ip_settings(policy: Obj) -> list[tuple[str, str, Severity | None]]:
    """(setting, kind, severity override) for every BackendTrafficPolicy setting keyed on the client IP."""
    out: list[tuple[str, str, Severity | None]] = []
    rate = as_map(policy.spec.get("rateLimit"))
    for scope in ("global", "local"):
        for i, rule in enumerate(as_list(as_map(rate.get(scope)).get("rules"))):
            for j, sel in enumerate(as_list(as_map(rule).get("clientSelectors"))):
                source = as_map(as_map(sel).get("sourceCIDR"))
                if not source:
                    continue
                # api/v1alpha1/ratelimit_types.go: Exact (the default) shares one bucket, Distinct one per IP.
                match = str(source.get("type") or "Exact")
                setting = (
                    f"BackendTrafficPolicy rateLimit.{scope}.rules[{i}].clientSelectors[{j}].sourceCIDR "
                    f"{source.get('value')} ({match})"
                )
                out.append((setting, f"ratelimit-{match.lower()}", None))
    lb = as_map(policy.spec.get("loadBalancer"))
    if lb.get("type") == "ConsistentHash" and as_map(lb.get("consistentHash")).get("type") == "SourceIP":
        out.append(("BackendTrafficPolicy loadBalancer consistentHash SourceIP", "hash", Severity.WARNING))
    return out


def _setting_effect(setting_kind: str, tag: str) -> str:
    if tag == "broken":
        return "the setting cannot work until the PROXY mismatch is fixed"
    if tag == "forged":
        if setting_kind == "hash":
            return "clients pick their backend by forging an address"
        return "clients escape the limit by forging a different address on every request"
    if setting_kind == "ratelimit-distinct":
        return "every client shares one counter, so one busy client throttles everyone"
    if setting_kind == "ratelimit-exact":
        return "the rule matches the load balancer's address, so it applies to every client or to none"
    return "every client hashes to the same backend endpoint"


@check(
    "btp-client-ip",
    inputs=["BackendTrafficPolicy", "Gateway", "ClientTrafficPolicy", "HTTPRoute", "GRPCRoute"],
    codes=["EGD703"],
)
def btp_client_ip(ctx: CheckContext) -> Iterator[Finding]:
    """Rate limits and hashing keyed on the client IP apply only where Envoy sees real client addresses."""
    for policy in ctx.snapshot.of("BackendTrafficPolicy"):
        settings = _client_ip_settings(policy)
        if not settings:
            continue
        groups = list(_exposed_groups(ctx, policy))
        for setting, setting_kind, severity in settings:
            for target, where, seen, tag, mode, lv in groups:
                yield make_finding(
                    "EGD703",
                    subject=policy.ref,
                    gateway=where,
                    severity=severity,
                    setting=setting,
                    seen=seen,
                    target=target,
                    mode=mode,
                    effect=_setting_effect(setting_kind, tag),
                    evidence={"clientIP": lv.client_ip.describe()},
                )


# -- EGD704 ----------------------------------------------------------------------------------------


def _ca_problems(ctx: CheckContext, policy: Obj) -> list[tuple[str, str]]:
    """(problem, fix) for what keeps a BackendTLSPolicy from validating, judged from the spec."""
    validation = as_map(policy.spec.get("validation"))
    ns = policy.namespace or ""
    out: list[tuple[str, str]] = []
    if not validation.get("hostname"):
        out.append(
            (
                "sets no validation.hostname: Envoy sends no SNI and cannot check the name in the "
                "backend's certificate",
                "set validation.hostname to the name in the backend's certificate",
            )
        )
    refs = [r for r in as_list(validation.get("caCertificateRefs")) if isinstance(r, Mapping)]
    if not refs and not validation.get("wellKnownCACertificates"):
        out.append(
            (
                "has neither validation.caCertificateRefs nor wellKnownCACertificates: there is no CA "
                "to verify the backend with",
                "reference a ConfigMap holding the backend's CA under the key ca.crt, or set "
                "wellKnownCACertificates: System for publicly signed backends",
            )
        )
    for i, ref in enumerate(refs):
        kind, name = str(ref.get("kind", "")), str(ref.get("name", ""))
        create = f"kubectl create configmap {name} -n {ns} --from-file=ca.crt=<the CA's PEM file>"
        if kind != "ConfigMap":
            continue  # Secrets are not read by egdoctor; their failures show in the policy's status
        cm = ctx.snapshot.get("ConfigMap", ns, name)
        where = f"caCertificateRefs[{i}] ConfigMap {ns}/{name}"
        if cm is None:
            out.append((f"{where} does not exist", create))
            continue
        data = as_map(cm.raw.get("data"))
        key, crt = ca_bundle_key(data)
        if key is None:
            keys = ", ".join(sorted(data)) or "none"
            out.append(
                (
                    f"{where} has no ca.crt key and not exactly one key EG could fall back to (keys: {keys})",
                    f"store the CA bundle under ca.crt: {create}",
                )
            )
        elif "-----BEGIN CERTIFICATE-----" not in str(crt):
            out.append((f"{where} key {key} holds no PEM certificate", f"put the CA in PEM form: {create}"))
    return out


def ca_bundle_key(data: Mapping[str, Any]) -> tuple[str | None, Any]:
    """The key Envoy Gateway takes a CA bundle from: ``ca.crt``, then ``tls.crt``, then the only key of a
    ConfigMap that has exactly one (``getFirstMatchOrFirstFromData`` in internal/gatewayapi/helpers.go
    at v1.9; v1.7 tries ``ca.crt`` and the only key)."""
    for key in ("ca.crt", "tls.crt"):
        if key in data:
            return key, data[key]
    if len(data) == 1:
        key = next(iter(data))
        return str(key), data[key]
    return None, None


@check("backendtls-ca-key", inputs=["BackendTLSPolicy", "ConfigMap"], codes=["EGD705"])
def backendtls_ca_key(ctx: CheckContext) -> Iterator[Finding]:
    """A CA bundle EG finds only by falling back to another key than ca.crt works, but is fragile."""
    for policy in ctx.snapshot.of("BackendTLSPolicy"):
        validation = as_map(policy.spec.get("validation"))
        ns = policy.namespace or ""
        refs = [r for r in as_list(validation.get("caCertificateRefs")) if isinstance(r, Mapping)]
        for i, ref in enumerate(refs):
            if str(ref.get("kind", "")) != "ConfigMap":
                continue
            name = str(ref.get("name", ""))
            cm = ctx.snapshot.get("ConfigMap", ns, name)
            if cm is None:
                continue
            key, crt = ca_bundle_key(as_map(cm.raw.get("data")))
            if key is None or key == "ca.crt" or "-----BEGIN CERTIFICATE-----" not in str(crt):
                continue
            yield make_finding(
                "EGD705",
                subject=policy.ref,
                policy=obj_text(policy),
                where=f"caCertificateRefs[{i}] ConfigMap {ns}/{name}",
                key=key,
                fix=f"store the bundle under ca.crt as well: kubectl create configmap {name} -n {ns} "
                f"--from-file=ca.crt=<the CA's PEM file> --dry-run=client -o yaml | kubectl apply -f -",
            )


@check("backendtls-ca", inputs=["BackendTLSPolicy", "ConfigMap"], codes=["EGD704"])
def backendtls_ca(ctx: CheckContext) -> Iterator[Finding]:
    """BackendTLSPolicies name a hostname and a CA bundle that exists and holds ca.crt."""
    for policy in ctx.snapshot.of("BackendTLSPolicy"):
        ours = [
            a
            for a in as_list(policy.status.get("ancestors"))
            if isinstance(a, Mapping) and a.get("controllerName") == EG_CONTROLLER
        ]
        problems = _ca_problems(ctx, policy)
        if not problems:
            # Spec looks fine (or uses Secrets): fall back to what Envoy Gateway reported about the CA.
            for anc in ours:
                for cond in conditions(anc).values():
                    if cond.get("status") == "False" and cond.get("reason") in _CA_REASONS:
                        problems.append(
                            (
                                f"{cond.get('type')}=False ({cond.get('reason')}): {cond.get('message', '')}",
                                "fix the CA reference: the ConfigMap or Secret must exist in the "
                                "policy's namespace and hold a PEM bundle under ca.crt",
                            )
                        )
                        break
                if problems:
                    break
        for problem, fix in problems:
            yield make_finding(
                "EGD704",
                subject=policy.ref,
                problem=f"{obj_text(policy)} {problem}: requests to its backend fail",
                fix=fix,
                evidence={"validation": thaw(policy.spec.get("validation"))},
            )
