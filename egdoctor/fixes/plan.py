"""Which findings have one deterministic fix, and that fix.

A fix is offered only when there is exactly one right change: the opt-in label a namespace lacks
(EGD203), the ReferenceGrant a cross-namespace reference needs (EGD204 RefNotPermitted, EGD401), PROXY
protocol in a ClientTrafficPolicy when the load balancer already sends it (EGD305, EGD301 with no CTP),
and the replacement of the deprecated enableProxyProtocol (EGD307). A fix names only objects whose names
are valid Kubernetes names (never raw tenant text), and is never run by egdoctor. A missing
ClientTrafficPolicy (EGD305 on a Gateway, EGD301 with --expect-mode xff --expect-hops N) gets one."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

import yaml

from egdoctor.checks.registry import Options
from egdoctor.findings.fix import Fix, merge_patch_argv
from egdoctor.findings.model import Finding, ObjectRef
from egdoctor.model.grants import reference_granted
from egdoctor.snapshot.model import Snapshot
from egdoctor.snapshot.objects import as_list, as_map

GATEWAY_API = "gateway.networking.k8s.io"
_DNS_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
# label keys: optional DNS prefix, then a name of 63 characters at most; values alike, possibly empty
_LABEL_KEY = re.compile(
    r"([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
)
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")
# the CTP field that makes Envoy require a PROXY header (EG v1.5+; `enableProxyProtocol` is deprecated)
STRICT_PROXY = {"proxyProtocol": {"optional": False}}

Planner = Callable[[Finding, Snapshot, Options], Fix | None]


def with_fixes(findings: Iterable[Finding], snapshot: Snapshot, options: Options) -> tuple[Finding, ...]:
    out = []
    for f in findings:
        planner = _PLANNERS.get(f.code)
        fix = None
        if planner is not None:
            try:
                fix = planner(f, snapshot, options)
            except (KeyError, TypeError, ValueError, AttributeError):
                fix = None  # evidence of an unexpected shape: no fix is better than a wrong one
        out.append(replace(f, fix=fix) if fix is not None else f)
    return tuple(out)


def _name(value: Any) -> str:
    if not isinstance(value, str) or not _DNS_NAME.fullmatch(value):
        raise ValueError("not a Kubernetes name")
    return value


def _opt_in_label(f: Finding, snapshot: Snapshot, options: Options) -> Fix | None:
    """EGD203: `kubectl label namespace NS key=value` for each label the listeners' selector requires."""
    if f.subject is None or not f.subject.namespace:
        return None
    namespace = _name(f.subject.namespace)
    missing = f.evidence.get("missing")
    if not isinstance(missing, Mapping) or not missing:
        return None
    present = as_map(f.evidence.get("namespaceLabels"))
    pairs = []
    for key, value in sorted(missing.items()):
        if not (isinstance(key, str) and isinstance(value, str)):
            return None
        if not (_LABEL_KEY.fullmatch(key) and _LABEL_VALUE.fullmatch(value)):
            return None
        pairs.append(f"{key}={value}")
    overwrite = ("--overwrite",) if any(k in present for k in missing) else ()
    return Fix(
        f"label namespace {namespace} with {', '.join(pairs)} so its routes may attach",
        ("kubectl", "label", "namespace", namespace, *pairs, *overwrite),
        target=ObjectRef("Namespace", None, namespace),
        patch={"metadata": {"labels": dict(sorted(missing.items()))}},
    )


def _backend_grant(f: Finding, snapshot: Snapshot, options: Options) -> Fix | None:
    """EGD204 RefNotPermitted: one ReferenceGrant in the backend's namespace for the route's kind and
    namespace, naming the one Service (the narrowest grant that works)."""
    condition = as_map(f.evidence.get("condition"))
    if condition.get("reason") != "RefNotPermitted" or f.subject is None or not f.subject.namespace:
        return None
    route_kind, route_ns = f.subject.kind, _name(f.subject.namespace)
    route = snapshot.get(route_kind, route_ns, f.subject.name)
    if route is None:
        return None
    grants = [g.raw for g in snapshot.of("ReferenceGrant")]
    wanted: list[tuple[str, str]] = []
    for rule in as_list(route.spec.get("rules")):
        for ref in as_list(as_map(rule).get("backendRefs")):
            ref = as_map(ref)
            if (ref.get("group") or "") != "" or (ref.get("kind") or "Service") != "Service":
                continue
            namespace = ref.get("namespace")
            if not namespace or namespace == route_ns:
                continue
            target = ("", "Service", str(namespace), str(ref.get("name")))
            if not reference_granted(grants, (GATEWAY_API, route_kind, route_ns), target):
                pair = (_name(namespace), _name(ref.get("name")))
                if pair not in wanted:
                    wanted.append(pair)
    if len(wanted) != 1:
        return None  # none, or several grants: one fix per finding stays reviewable only when it is one
    namespace, service = wanted[0]
    return _grant_fix(
        namespace,
        f"{route_ns}-{route_kind.lower()}s-to-{service}",
        {"group": GATEWAY_API, "kind": route_kind, "namespace": route_ns},
        {"group": "", "kind": "Service", "name": service},
        f"allow {route_kind}s of namespace {route_ns} to use Service {namespace}/{service}",
    )


def _secret_grant(f: Finding, snapshot: Snapshot, options: Options) -> Fix | None:
    """EGD401 for a Secret in another namespace that no ReferenceGrant lets the Gateway use."""
    if f.subject is None or f.subject.kind != "Secret" or not f.subject.namespace:
        return None
    gateway = f.evidence.get("gateway")
    if not isinstance(gateway, str) or "/" not in gateway:
        return None
    gateway_ns = _name(gateway.split("/", 1)[0])
    namespace, secret = _name(f.subject.namespace), _name(f.subject.name)
    if namespace == gateway_ns:
        return None
    grants = [g.raw for g in snapshot.of("ReferenceGrant")]
    if "ReferenceGrant" not in snapshot.fetched or snapshot.problems_for("ReferenceGrant"):
        return None  # grants unread: one may exist already
    if reference_granted(grants, (GATEWAY_API, "Gateway", gateway_ns), ("", "Secret", namespace, secret)):
        return None  # granted: the finding is about the Secret itself
    return _grant_fix(
        namespace,
        f"{gateway_ns}-gateways-to-{secret}",
        {"group": GATEWAY_API, "kind": "Gateway", "namespace": gateway_ns},
        {"group": "", "kind": "Secret", "name": secret},
        f"allow Gateways of namespace {gateway_ns} to use Secret {namespace}/{secret}",
    )


def _grant_fix(namespace: str, name: str, source: dict[str, str], target: dict[str, str], what: str) -> Fix:
    name = name[:253].rstrip("-.")
    manifest = {
        "apiVersion": f"{GATEWAY_API}/v1beta1",
        "kind": "ReferenceGrant",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"from": [source], "to": [target]},
    }
    return Fix(
        what,
        ("kubectl", "apply", "-f", "-"),
        target=ObjectRef("ReferenceGrant", namespace, name),
        manifest=yaml.safe_dump(manifest, sort_keys=False),
    )


def _ctp_accepts_proxy(f: Finding, snapshot: Snapshot, options: Options) -> Fix | None:
    """EGD305: the load balancer sends PROXY headers and Envoy does not expect them: require them, in the
    ClientTrafficPolicy that handles the Gateway, or in a new one when none does."""
    if options.expect_mode == "xff" or f.subject is None or f.evidence.get("annotation") not in ("v1", "v2"):
        return None
    if f.subject.kind == "Gateway":
        return _new_ctp(
            snapshot, f.subject, STRICT_PROXY, "requires the PROXY header the load balancer sends"
        )
    if f.subject.kind != "ClientTrafficPolicy":
        return None
    namespace, name = _name(f.subject.namespace), _name(f.subject.name)
    patch = {"spec": STRICT_PROXY}
    return Fix(
        f"make ClientTrafficPolicy {namespace}/{name} require the PROXY header the load balancer sends",
        merge_patch_argv("clienttrafficpolicy", namespace, name, patch),
        target=ObjectRef("ClientTrafficPolicy", namespace, name),
        patch=patch,
    )


def _ctp_replace_deprecated(f: Finding, snapshot: Snapshot, options: Options) -> Fix | None:
    """EGD307: enableProxyProtocol: true -> proxyProtocol {optional: false}, the same behaviour."""
    if (
        f.subject is None
        or f.subject.kind != "ClientTrafficPolicy"
        or f.evidence.get("enableProxyProtocol") is not True
    ):
        return None
    namespace, name = _name(f.subject.namespace), _name(f.subject.name)
    patch = {"spec": {"enableProxyProtocol": None, **STRICT_PROXY}}
    return Fix(
        f"replace the deprecated enableProxyProtocol of ClientTrafficPolicy {namespace}/{name}",
        merge_patch_argv("clienttrafficpolicy", namespace, name, patch),
        target=ObjectRef("ClientTrafficPolicy", namespace, name),
        patch=patch,
    )


def _ctp_missing(f: Finding, snapshot: Snapshot, options: Options) -> Fix | None:
    """EGD301 (no CTP, and the load balancer sends no PROXY header): deterministic only when the user
    said which mode they run, XFF with a number of trusted proxies (direct mode needs the load balancer
    changed too, see EGD314)."""
    if options.expect_mode != "xff" or options.expect_hops is None or f.subject is None:
        return None
    if f.subject.kind != "Gateway" or not str(f.evidence.get("clientIP", "")).startswith("no CTP"):
        return None
    xff = {"clientIPDetection": {"xForwardedFor": {"numTrustedHops": options.expect_hops}}}
    hops = options.expect_hops
    return _new_ctp(
        snapshot, f.subject, xff, f"takes the client IP from X-Forwarded-For ({hops} trusted hops)"
    )


def _new_ctp(
    snapshot: Snapshot, gateway_ref: ObjectRef, settings: Mapping[str, Any], what: str
) -> Fix | None:
    namespace, gateway = _name(gateway_ref.namespace), _name(gateway_ref.name)
    name = f"{gateway}-client-ip"[:253]
    if snapshot.get("ClientTrafficPolicy", namespace, name) is not None:
        return None  # the name is taken: choosing another is a decision, not a fix
    manifest = {
        "apiVersion": "gateway.envoyproxy.io/v1alpha1",
        "kind": "ClientTrafficPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"targetRefs": [{"group": GATEWAY_API, "kind": "Gateway", "name": gateway}], **settings},
    }
    return Fix(
        f"create ClientTrafficPolicy {namespace}/{name}: Gateway {gateway} {what}",
        ("kubectl", "apply", "-f", "-"),
        target=ObjectRef("ClientTrafficPolicy", namespace, name),
        manifest=yaml.safe_dump(manifest, sort_keys=False),
    )


_PLANNERS: dict[str, Planner] = {
    "EGD203": _opt_in_label,
    "EGD204": _backend_grant,
    "EGD301": _ctp_missing,
    "EGD305": _ctp_accepts_proxy,
    "EGD307": _ctp_replace_deprecated,
    "EGD401": _secret_grant,
}
