"""TLS and cert-manager checks (EGD4xx), and the per-hostname TLS picture the reports show.

Listener certificates are followed the way the controllers follow them: Envoy Gateway reads the Secrets a
listener's `tls.certificateRefs` name; cert-manager writes them from a Certificate whose `spec.secretName`
is that Secret, made either by hand or by cert-manager's Gateway shim from the Gateway's
`cert-manager.io/issuer` / `cert-manager.io/cluster-issuer` annotations (the shim names the Certificate
after the Secret). Only Certificates that feed a listener are diagnosed: egdoctor is about ingress.

Status shapes, condition reasons and object links follow cert-manager:
pkg/apis/certmanager/v1/types_certificate.go, types_certificaterequest.go, types_issuer.go,
pkg/apis/acme/v1/types_order.go, types_challenge.go, types_issuer.go (solvers),
internal/controller/certificates/policies/{constants,checks}.go (Ready reasons such as DoesNotExist),
pkg/controller/certificaterequests/acme/acme.go (CertificateRequest Pending/Failed messages),
pkg/controller/acmechallenges/readiness.go (Challenge reasons), pkg/issuer/acme/setup.go (Issuer reasons),
pkg/util/solverpicker/solverpicker.go (which solver a domain uses), and cert-manager/cmctl
pkg/status/certificate/certificate.go (which CertificateRequest, Order and Challenges belong to a
Certificate).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from egdoctor.checks.acme_reach import foreign_addresses
from egdoctor.checks.registry import CheckContext, check
from egdoctor.findings.codes import make_finding
from egdoctor.findings.model import Finding, GatewayRef, ObjectRef, Severity
from egdoctor.model import hostnames
from egdoctor.model.selectors import selector_matches
from egdoctor.model.topology import GatewayView, ListenerView, Topology
from egdoctor.snapshot.kinds import CM, GW
from egdoctor.snapshot.model import Snapshot
from egdoctor.snapshot.objects import Obj, as_list, as_map, conditions, thaw
from egdoctor.snapshot.secret_refs import grant_permits

TLS_SECRET_TYPE = "kubernetes.io/tls"
# Envoy Gateway's own Secret type that points at an SDS server instead of holding the certificate
SDS_SECRET_TYPE = "gateway.envoyproxy.io/sds"
ISSUER_ANNOTATION = "cert-manager.io/issuer"
CLUSTER_ISSUER_ANNOTATION = "cert-manager.io/cluster-issuer"
ISSUER_KIND_ANNOTATION = "cert-manager.io/issuer-kind"
ISSUER_GROUP_ANNOTATION = "cert-manager.io/issuer-group"
REVISION_ANNOTATION = "cert-manager.io/certificate-revision"
CERTIFICATE_NAME_ANNOTATION = "cert-manager.io/certificate-name"

# ACME states that end an Order or Challenge without a certificate (pkg/apis/acme/v1/types_order.go).
_FAILED_STATES = ("invalid", "errored", "expired")

# Issuer Ready=False reasons -> what to do (pkg/issuer/acme/setup.go, pkg/controller/issuers/sync.go).
_ISSUER_FIXES = {
    "ErrRegisterACMEAccount": "cert-manager could not register the ACME account: use a real address in "
    "spec.acme.email (Let's Encrypt refuses example.com and similar), check spec.acme.server, and that the "
    "cluster can reach the ACME server (egress, proxy); cert-manager retries on its own once fixed",
    "ErrVerifyACMEAccount": "the account key in spec.acme.privateKeySecretRef does not match the ACME "
    "account: delete that Secret to register a new account, or restore the right key",
    "ErrUpdateACMEAccount": "cert-manager could not update the ACME account (email change): check "
    "spec.acme.email and the ACME server's answer in the message",
    "ErrInitIssuer": "the issuer configuration is invalid or a referenced Secret is missing: fix what the "
    "message says (`kubectl describe` the issuer)",
    "InvalidConfig": "fix the issuer spec as the message says",
    "InvalidSolver": "fix the ACME solvers as the message says",
}


# ---------------------------------------------------------------------------------------------------------
# listeners and their Secrets


@dataclass(frozen=True)
class SecretRef:
    """One listener certificateRef, with the namespace defaulted to the Gateway's."""

    namespace: str
    name: str
    kind: str
    group: str
    gateway_namespace: str

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("Secret", self.namespace, self.name)

    @property
    def is_secret(self) -> bool:
        # Envoy Gateway insists on an empty group (internal/gatewayapi/validate.go)
        return self.kind == "Secret" and self.group == ""

    @property
    def cross_namespace(self) -> bool:
        return self.namespace != self.gateway_namespace

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


def terminates_tls(lv: ListenerView) -> bool:
    """HTTPS listeners, and TLS listeners in Terminate mode, present a certificate from a Secret."""
    mode = as_map(lv.spec.get("tls")).get("mode", "Terminate")
    return lv.protocol == "HTTPS" or (lv.protocol == "TLS" and mode == "Terminate")


def tls_listeners(gv: GatewayView) -> list[ListenerView]:
    return [lv for lv in gv.listeners if terminates_tls(lv)]


def listener_secret_refs(lv: ListenerView) -> list[SecretRef]:
    gw_ns = lv.gateway_key[0]
    out = []
    for ref in as_list(as_map(lv.spec.get("tls")).get("certificateRefs")):
        if not isinstance(ref, Mapping):
            continue
        out.append(
            SecretRef(
                namespace=str(ref.get("namespace") or gw_ns),
                name=str(ref.get("name", "")),
                kind=str(ref.get("kind") or "Secret"),
                group=str(ref.get("group") or ""),
                gateway_namespace=gw_ns,
            )
        )
    return out


def served_hostnames(lv: ListenerView) -> tuple[str, ...]:
    """The names clients use on this listener: its hostname, and the route hostnames it narrows down to.

    A route hostname broader than the listener's (`*.example.com` on `a.example.com`) serves only the
    listener's name, so it adds nothing.
    """
    out: list[str] = []
    if lv.hostname:
        out.append(lv.hostname)
    for att in lv.attachments:
        for host in att.route_hostnames:
            if not lv.hostname or hostnames.matches(lv.hostname, host):
                out.append(host)
    unique: dict[str, str] = {}
    for host in out:
        unique.setdefault(host.lower().rstrip("."), host)
    return tuple(unique.values())


def san_covers(san: str, host: str) -> bool:
    """Does a certificate name cover a hostname, as TLS clients check it (RFC 6125)?

    Unlike a Gateway API wildcard, a certificate wildcard stands for exactly one label: `*.example.com`
    covers `a.example.com` but not `a.b.example.com`. A wildcard hostname needs the same wildcard.
    """
    s, h = san.strip().lower().rstrip("."), host.strip().lower().rstrip(".")
    if s == h:
        return True
    if s.startswith("*.") and not h.startswith("*."):
        return hostnames.matches(s, h) and h.count(".") == s.count(".")
    return False


# ---------------------------------------------------------------------------------------------------------
# the certificate in a Secret


@dataclass(frozen=True)
class CertInfo:
    subject: str
    issuer: str
    sans: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    self_signed: bool

    def covers(self, host: str) -> bool:
        return any(san_covers(san, host) for san in self.sans)


def parse_certificate(b64: str) -> CertInfo | str | None:
    """The leaf certificate of a Secret's base64 `tls.crt`; a string says why it is unusable, None means
    the cryptography package is not installed, so the content cannot be inspected."""
    try:
        from cryptography import x509
        from cryptography.x509.oid import NameOID
    except ImportError:
        return None
    try:
        pem = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        return "tls.crt is not valid base64"
    if not pem.strip():
        return "tls.crt is empty"
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError:
        return "tls.crt holds no PEM certificate"
    if not certs:
        return "tls.crt holds no PEM certificate"
    leaf = certs[0]
    try:
        ext = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        sans = tuple(str(n) for n in ext.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        sans = ()

    def cn(name: Any) -> str:
        attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(attrs[0].value) if attrs else name.rfc4514_string()

    self_signed = False
    if leaf.issuer == leaf.subject:
        try:
            leaf.verify_directly_issued_by(leaf)
            self_signed = True
        except Exception:  # any verification failure: not provably self-signed
            self_signed = False
    return CertInfo(
        subject=cn(leaf.subject),
        issuer=cn(leaf.issuer),
        sans=sans,
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        self_signed=self_signed,
    )


def secrets_readable(snapshot: Snapshot, namespace: str) -> bool:
    """Can a missing Secret be told apart from one egdoctor could not see?"""
    if "Secret" not in snapshot.fetched:
        return False
    if any(p.namespace in (None, namespace) for p in snapshot.problems_for("Secret")):
        return False
    # Offline dumps often leave Secrets out on purpose; a dump without any says nothing about them.
    return not (snapshot.source.mode == "files" and not snapshot.of("Secret"))


def grants_known(snapshot: Snapshot, namespace: str) -> bool:
    """Were the ReferenceGrants of `namespace` read? They are listed in the namespaces of Gateways, routes
    and backends, which need not include a namespace only a listener Secret lives in."""
    if snapshot.source.mode == "files" or snapshot.namespaces is None or namespace in snapshot.namespaces:
        return True
    if {("ReferenceGrant", namespace), ("ReferenceGrant", None)} & snapshot.listed:
        return True
    return any(o.namespace == namespace for kind in ("ReferenceGrant", "Service") for o in snapshot.of(kind))


def _not_permitted_by_controller(lv: ListenerView, ref: SecretRef) -> bool:
    """Envoy Gateway's own verdict (internal/gatewayapi/validate.go): the listener's ResolvedRefs message
    names the Secret as not permitted by any ReferenceGrant."""
    resolved = conditions(lv.status).get("ResolvedRefs")
    if resolved is None or resolved.get("status") != "False":
        return False
    return f"secret {ref.namespace}/{ref.name} not permitted" in str(resolved.get("message", ""))


def grant_allows(grants: Iterable[Obj], ref: SecretRef) -> bool:
    """A ReferenceGrant in the Secret's namespace lets Gateways of the Gateway's namespace use it."""
    return grant_permits((g.raw for g in grants), ref.gateway_namespace, ref.namespace, ref.name)


# ---------------------------------------------------------------------------------------------------------
# cert-manager objects


@dataclass(frozen=True)
class IssuerRef:
    kind: str  # Issuer | ClusterIssuer
    name: str
    namespace: str | None  # None for ClusterIssuer
    group: str = CM

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(self.kind, self.namespace, self.name)

    @property
    def builtin(self) -> bool:
        return self.group in ("", CM) and self.kind in ("Issuer", "ClusterIssuer")

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


def certificate_issuer(cert: Obj) -> IssuerRef | None:
    ref = as_map(cert.spec.get("issuerRef"))
    if not ref.get("name"):
        return None
    kind = str(ref.get("kind") or "Issuer")
    return IssuerRef(
        kind,
        str(ref["name"]),
        cert.namespace if kind != "ClusterIssuer" else None,
        str(ref.get("group") or CM),
    )


def shim_issuer(gw: Obj) -> IssuerRef | None:
    """The issuer cert-manager's Gateway shim uses for a Gateway, from its annotations
    (pkg/controller/certificate-shim/sync.go, issuerForIngressLike)."""
    ann = gw.annotations
    name, kind = None, "Issuer"
    if ann.get(ISSUER_ANNOTATION):
        name = str(ann[ISSUER_ANNOTATION])
    if ann.get(CLUSTER_ISSUER_ANNOTATION):
        name, kind = str(ann[CLUSTER_ISSUER_ANNOTATION]), "ClusterIssuer"
    if name is None:
        return None
    kind = str(ann.get(ISSUER_KIND_ANNOTATION) or kind)
    return IssuerRef(
        kind,
        name,
        gw.namespace if kind != "ClusterIssuer" else None,
        str(ann.get(ISSUER_GROUP_ANNOTATION) or CM),
    )


def find_issuer(snapshot: Snapshot, ref: IssuerRef) -> Obj | None:
    return snapshot.get(ref.kind, ref.namespace, ref.name)


def issuer_problem(issuer: Obj | None, ref: IssuerRef) -> tuple[str, str] | None:
    """(problem, reason) when the issuer cannot issue, None when it is Ready."""
    if issuer is None:
        return "does not exist", "NotFound"
    ready = conditions(issuer.status).get("Ready")
    if ready is None:
        return (
            "has no Ready condition: cert-manager has not reconciled it (is cert-manager running?)",
            "NoStatus",
        )
    if ready.get("status") != "True":
        reason = str(ready.get("reason") or "")
        return f"is not Ready ({reason}): {ready.get('message', '')}", reason
    return None


def _owned_by(obj: Obj, owner: Obj) -> bool:
    """Controller ownerReference to `owner` (by uid when both carry one, else by kind and name)."""
    owner_uid = owner.metadata.get("uid")
    for ref in as_list(obj.metadata.get("ownerReferences")):
        if not isinstance(ref, Mapping) or ref.get("kind") != owner.kind or ref.get("name") != owner.name:
            continue
        if owner_uid and ref.get("uid") and ref.get("uid") != owner_uid:
            continue
        return True
    return False


def certificates_for_secret(snapshot: Snapshot, ref: SecretRef) -> list[Obj]:
    return [
        c
        for c in snapshot.of("Certificate")
        if c.namespace == ref.namespace and c.spec.get("secretName") == ref.name
    ]


def dns_names(cert: Obj) -> tuple[str, ...]:
    names = [str(n) for n in as_list(cert.spec.get("dnsNames")) if isinstance(n, str)]
    cn = cert.spec.get("commonName")
    if isinstance(cn, str) and cn and cn not in names:
        names.insert(0, cn)
    return tuple(names)


@dataclass(frozen=True)
class Link:
    """The object where issuance is stuck, in words."""

    kind: str
    subject: ObjectRef | None
    text: str  # the full sentence, with the controller's reason and message
    short: str  # a few words for one-line views
    reason: str
    fix: str


@dataclass(frozen=True)
class CertificateChain:
    certificate: Obj
    ready: bool | None
    issuer_ref: IssuerRef | None
    issuer: Obj | None
    request: Obj | None
    order: Obj | None
    challenges: tuple[Obj, ...]
    link: Link | None  # None when Ready

    @property
    def hosts(self) -> tuple[str, ...]:
        return dns_names(self.certificate)

    def evidence(self) -> dict[str, Any]:
        def state(o: Obj | None, kind: str) -> dict[str, Any] | None:
            if o is None:
                return None
            out: dict[str, Any] = {"kind": kind, "namespace": o.namespace, "name": o.name}
            ready = conditions(o.status).get("Ready")
            if ready is not None:
                out["ready"] = {k: ready.get(k) for k in ("status", "reason", "message")}
            if o.status.get("state") is not None:
                out["state"] = o.status.get("state")
                out["reason"] = o.status.get("reason", "")
            return out

        return {
            "certificate": state(self.certificate, "Certificate"),
            "issuer": state(self.issuer, self.issuer_ref.kind) if self.issuer_ref else None,
            "certificateRequest": state(self.request, "CertificateRequest"),
            "order": state(self.order, "Order"),
            "challenges": [state(c, "Challenge") for c in self.challenges],
            "failingLink": self.link.kind if self.link else None,
        }


def _revision(obj: Obj) -> int | None:
    try:
        return int(str(obj.annotations.get(REVISION_ANNOTATION)))
    except ValueError:
        return None


def _request_for(snapshot: Snapshot, cert: Obj) -> Obj | None:
    """The CertificateRequest of the issuance in flight: revision status.revision+1, owned by the
    Certificate (cmctl findMatchingCR)."""
    current = cert.status.get("revision")
    wanted = (current if isinstance(current, int) else 0) + 1
    owned = [
        r
        for r in snapshot.of("CertificateRequest")
        if r.namespace == cert.namespace
        and (_owned_by(r, cert) or r.annotations.get(CERTIFICATE_NAME_ANNOTATION) == cert.name)
    ]
    matching = [r for r in owned if _revision(r) == wanted]
    return matching[0] if len(matching) == 1 else None


def _challenge_fix(ch: Obj, addresses: tuple[str, ...]) -> str:
    kind = str(ch.spec.get("type", ""))
    host = str(ch.spec.get("dnsName", ""))
    if kind.upper() == "HTTP-01":
        where = f" ({', '.join(addresses)})" if addresses else ""
        return (
            f"the ACME server (and first cert-manager's self check) fetches "
            f"http://{host}/.well-known/acme-challenge/<token> through the Gateway: {host} must resolve "
            f"to the Gateway's address{where} (`dig +short {host}`), and the solver HTTPRoute cert-manager "
            f"creates in namespace {ch.namespace} must be accepted by a port-80 HTTP listener (`kubectl get "
            f"httproute -n {ch.namespace} -l acme.cert-manager.io/http01-solver=true -o yaml` shows its "
            "status; see EGD405)"
        )
    if kind.upper() == "DNS-01":
        return (
            f"check the DNS-01 solver's provider credentials and that it can write _acme-challenge.{host} in "
            "the right zone; `kubectl describe challenge` shows the provider's answer"
        )
    return "`kubectl describe challenge` for the ACME server's answer"


def certificate_chain(snapshot: Snapshot, cert: Obj, addresses: tuple[str, ...] = ()) -> CertificateChain:
    """Follow Certificate -> issuer, CertificateRequest -> Order -> Challenges and name the failing link;
    `addresses` (the Gateway's) make the HTTP-01 advice concrete."""
    conds = conditions(cert.status)
    ready_cond = conds.get("Ready")
    ready = None if ready_cond is None else ready_cond.get("status") == "True"
    issuer_ref = certificate_issuer(cert)
    issuer = find_issuer(snapshot, issuer_ref) if issuer_ref and issuer_ref.builtin else None
    request = _request_for(snapshot, cert)
    order = None
    if request is not None:
        order = next(
            (o for o in snapshot.of("Order") if o.namespace == cert.namespace and _owned_by(o, request)), None
        )
    challenges: tuple[Obj, ...] = ()
    if order is not None:
        challenges = tuple(
            c for c in snapshot.of("Challenge") if c.namespace == cert.namespace and _owned_by(c, order)
        )
    link = (
        None
        if ready
        else _failing_link(cert, conds, issuer_ref, issuer, request, order, challenges, addresses)
    )
    return CertificateChain(cert, ready, issuer_ref, issuer, request, order, challenges, link)


def _failing_link(
    cert: Obj,
    conds: Mapping[str, Mapping[str, Any]],
    issuer_ref: IssuerRef | None,
    issuer: Obj | None,
    request: Obj | None,
    order: Obj | None,
    challenges: tuple[Obj, ...],
    addresses: tuple[str, ...],
) -> Link:
    ns = cert.namespace or ""
    if not conds:
        return Link(
            "Certificate",
            cert.ref,
            "cert-manager has not reconciled it (no status conditions)",
            "no status",
            "NoStatus",
            "check that cert-manager runs (`kubectl -n cert-manager get pods`) and watches this namespace",
        )
    # An issuer that cannot issue stops everything after it, whatever the request says.
    if issuer_ref is not None and issuer_ref.builtin:
        problem = issuer_problem(issuer, issuer_ref)
        if problem is not None:
            return Link(
                issuer_ref.kind,
                issuer_ref.ref,
                f"its {issuer_ref} {problem[0]}",
                f"{issuer_ref} {problem[1]}",
                problem[1],
                "fix the issuer first (see EGD404); cert-manager retries the Certificate on its own",
            )
    failing = [c for c in challenges if c.status.get("state") != "valid"]
    if failing:
        # a Challenge that ended badly explains more than one still waiting
        failing.sort(key=lambda c: (c.status.get("state") not in _FAILED_STATES, c.name))
        ch = failing[0]
        state = str(ch.status.get("state") or "not started")
        reason = str(ch.status.get("reason") or "no reason recorded yet")
        ctype = str(ch.spec.get("type", "")).upper() or "ACME"
        # a wildcard's Challenge carries the bare domain and wildcard: true (types_challenge.go)
        domain = ("*." if ch.spec.get("wildcard") is True else "") + str(ch.spec.get("dnsName", "?"))
        text = f"Challenge {ns}/{ch.name} for {domain} ({ctype}) is {state}: {reason}"
        fix = _challenge_fix(ch, addresses)
        elsewhere = foreign_addresses(reason, addresses)
        if elsewhere:
            text += (
                f"; the ACME server's request reached {', '.join(elsewhere)}, which is not the Gateway's "
                f"address ({', '.join(addresses)}): DNS for {domain} points elsewhere"
            )
            fix = (
                f"point DNS for {domain} at {', '.join(addresses)} (`dig +short {domain}` shows where it "
                "points now); cert-manager retries the Challenge on its own"
            )
        return Link("Challenge", ch.ref, text, f"Challenge {ch.name} {state}", state, fix)
    if order is not None and order.status.get("state") in _FAILED_STATES:
        state = str(order.status.get("state"))
        return Link(
            "Order",
            order.ref,
            f"Order {ns}/{order.name} is {state}: {order.status.get('reason') or 'no reason recorded'}",
            f"Order {order.name} {state}",
            state,
            "the ACME server refused the order; fix the cause above, then let cert-manager retry (it backs "
            "off exponentially) or force it with `cmctl renew`",
        )
    if request is not None:
        rconds = conditions(request.status)
        for ctype in ("Denied", "InvalidRequest"):
            c = rconds.get(ctype)
            if c is not None and c.get("status") == "True":
                return Link(
                    "CertificateRequest",
                    request.ref,
                    f"CertificateRequest {ns}/{request.name} is {ctype} ({c.get('reason')}): "
                    f"{c.get('message', '')}",
                    f"CertificateRequest {request.name} {ctype}",
                    str(c.get("reason") or ctype),
                    "an approver or the issuer refused the request: fix what the message says",
                )
        rready = rconds.get("Ready")
        if rready is not None and rready.get("status") != "True":
            reason = str(rready.get("reason") or "")
            return Link(
                "CertificateRequest",
                request.ref,
                f"CertificateRequest {ns}/{request.name} is {reason or 'not Ready'}: "
                f"{rready.get('message', '')}",
                f"CertificateRequest {request.name} {reason}",
                reason,
                "fix what the CertificateRequest message says; `cmctl status certificate -n "
                f"{ns} {cert.name}` shows the whole chain",
            )
    issuing = conds.get("Issuing")
    ready_cond = conds.get("Ready") or {}
    if (
        issuing is not None
        and issuing.get("status") == "False"
        and issuing.get("reason") not in (None, "Issued")
    ):
        return Link(
            "Certificate",
            cert.ref,
            f"issuance failed ({issuing.get('reason')}): {issuing.get('message', '')}",
            f"issuance {issuing.get('reason')}",
            str(issuing.get("reason")),
            "cert-manager retries with back-off; fix the cause in the message, then `cmctl renew -n "
            f"{ns} {cert.name}` to retry now",
        )
    reason = str(ready_cond.get("reason") or "no Ready condition")
    detail = (
        f"Ready=False ({reason}): {ready_cond.get('message', '')}" if ready_cond else "has no Ready condition"
    )
    if issuing is not None and issuing.get("status") == "True" and request is None:
        detail += "; no CertificateRequest exists for the issuance in progress"
    return Link(
        "Certificate",
        cert.ref,
        detail,
        reason,
        reason,
        f"`cmctl status certificate -n {ns} {cert.name}` and "
        f"`kubectl describe certificate -n {ns} {cert.name}`",
    )


# ---------------------------------------------------------------------------------------------------------
# ACME solvers (EGD405)


def pick_solver(issuer: Obj, domain: str, labels: Mapping[str, str]) -> Mapping[str, Any] | None:
    """The solver cert-manager uses for `domain` (pkg/util/solverpicker/solverpicker.go): selectors with
    matching dnsNames beat longer matching dnsZones, which beat more matching labels; a solver without
    selector is the fallback. Wildcard names can only be solved by DNS-01."""
    wildcard = domain.startswith("*.")
    bare = domain[2:] if wildcard else domain
    chosen: Mapping[str, Any] | None = None
    best: tuple[int, int, int] = (0, 0, 0)
    for solver in as_list(as_map(issuer.spec.get("acme")).get("solvers")):
        if not isinstance(solver, Mapping):
            continue
        if solver.get("http01") is not None and wildcard:
            continue
        if solver.get("http01") is None and solver.get("dns01") is None:
            continue
        selector = solver.get("selector")
        if not isinstance(selector, Mapping):
            if chosen is None:
                chosen, best = solver, (0, 0, 0)
            continue
        names = [str(n) for n in as_list(selector.get("dnsNames"))]
        if names and domain not in names:
            continue
        zone_labels = 0
        zones = [str(z).strip(".").lower() for z in as_list(selector.get("dnsZones"))]
        if zones:
            matching = [z for z in zones if bare.lower() == z or bare.lower().endswith("." + z)]
            if not matching:
                continue
            zone_labels = max(len(z.split(".")) for z in matching)
        wanted = as_map(selector.get("matchLabels"))
        if any(labels.get(k) != v for k, v in wanted.items()):
            continue
        score = (1 if names else 0, zone_labels, len(wanted))
        if chosen is None or score > best:
            chosen, best = solver, score
    return chosen


def _listener_admits(
    lv: ListenerView, namespace: str, namespaces: Mapping[str, Mapping[str, str]]
) -> bool | None:
    allowed = as_map(as_map(lv.spec.get("allowedRoutes")).get("namespaces"))
    source = allowed.get("from", "Same")
    if source == "All":
        return True
    if source == "Same":
        return namespace == lv.gateway_key[0]
    if source == "Selector":
        if namespace not in namespaces:
            return None  # the namespace's labels are unknown: do not guess
        return selector_matches(as_map(allowed.get("selector")), namespaces[namespace])
    return None


def http01_route_problem(
    topology: Topology,
    parent_refs: tuple[Any, ...],
    route_namespace: str,
    host: str,
    namespaces: Mapping[str, Mapping[str, str]],
) -> str | None:
    """Why the solver HTTPRoute (namespace `route_namespace`, hostname `host`) attaches to no port-80 HTTP
    listener through `parent_refs`, or None when one of them works."""
    if not parent_refs:
        return "its gatewayHTTPRoute solver has no parentRefs, so the solver route attaches to nothing"
    reasons = []
    for ref in parent_refs:
        if not isinstance(ref, Mapping):
            continue
        key = (str(ref.get("namespace") or route_namespace), str(ref.get("name", "")))
        gv = topology.gateways.get(key)
        label = f"Gateway {key[0]}/{key[1]}"
        if gv is None:
            reasons.append(
                f"its parentRef names {label}, which does not exist"
                + ("" if ref.get("namespace") else f" (no namespace given, so {route_namespace} is assumed)")
            )
            continue
        section, port = ref.get("sectionName"), ref.get("port")
        candidates = [
            lv
            for lv in gv.listeners
            if (not section or lv.name == section) and (port is None or lv.port == port)
        ]
        if section and not candidates:
            reasons.append(f"its parentRef names listener {section} of {label}, which does not exist")
            continue
        http80 = [lv for lv in candidates if lv.protocol == "HTTP" and lv.port == 80]
        if not http80:
            what = f"listener {section}" if section else label
            reasons.append(
                f"{what} has no port-80 HTTP listener (the ACME server only fetches HTTP-01 on port 80)"
            )
            continue
        hosted = [lv for lv in http80 if hostnames.intersect(lv.hostname, host)]
        if not hosted:
            reasons.append(
                f"the port-80 HTTP listener of {label} has hostname {http80[0].hostname}, "
                f"which does not match {host}"
            )
            continue
        admits = [_listener_admits(lv, route_namespace, namespaces) for lv in hosted]
        if any(a is not False for a in admits):
            return None
        lv = hosted[0]
        allowed = as_map(as_map(lv.spec.get("allowedRoutes")).get("namespaces"))
        source = allowed.get("from", "Same")
        if source == "Selector":
            matches = as_map(as_map(allowed.get("selector")).get("matchLabels"))
            sel = ", ".join(f"{k}={v}" for k, v in matches.items()) or "matchExpressions"
            why = f"selects namespaces by {sel} and namespace {route_namespace} does not match"
        else:
            why = f"admits routes only from its own namespace {lv.gateway_key[0]} (from: {source})"
        reasons.append(
            f"listener {lv.name} of {label} {why}, so it rejects the solver HTTPRoute cert-manager "
            f"creates in {route_namespace}"
        )
    return "; ".join(reasons) if reasons else "its gatewayHTTPRoute parentRefs are not usable"


# ---------------------------------------------------------------------------------------------------------
# what each listener is served with


@dataclass(frozen=True)
class ListenerTLS:
    """One TLS-terminating listener with its Secrets and the Certificates that write them."""

    gateway: GatewayView
    listener: ListenerView
    secrets: tuple[SecretRef, ...]
    certificates: Mapping[SecretRef, tuple[Obj, ...]] = field(default_factory=dict)

    @property
    def where(self) -> GatewayRef:
        return GatewayRef(*self.gateway.key, self.listener.name)


def listeners_with_tls(snapshot: Snapshot, topology: Topology) -> list[ListenerTLS]:
    out = []
    for gv in topology.gateways.values():
        for lv in tls_listeners(gv):
            refs = tuple(listener_secret_refs(lv))
            certs = {r: tuple(certificates_for_secret(snapshot, r)) for r in refs if r.is_secret}
            out.append(ListenerTLS(gv, lv, refs, certs))
    return out


def _certificate_label(cert: Obj) -> str:
    hosts = dns_names(cert)
    return f"{cert.namespace}/{cert.name}" + (f" ({', '.join(hosts)})" if hosts else "")


def _days(delta: timedelta) -> str:
    days = abs(delta.total_seconds()) / 86400
    if days >= 1:
        n = round(days)
        return f"{n} day{'s' if n != 1 else ''}"
    hours = max(1, int(abs(delta.total_seconds()) / 3600))
    return f"{hours} hour{'s' if hours != 1 else ''}"


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------------------
# checks


@check(
    "listener-secrets",
    inputs=["Gateway", "Secret", "ReferenceGrant"],
    codes=["EGD401"],
)
def listener_secrets(ctx: CheckContext) -> Iterator[Finding]:
    """Every TLS listener's certificateRefs name a usable kubernetes.io/tls Secret it may read."""
    snap = ctx.snapshot
    grants = snap.of("ReferenceGrant")
    for lt in listeners_with_tls(snap, ctx.topology):
        gv, lv = lt.gateway, lt.listener
        if not lt.secrets:
            yield make_finding(
                "EGD401",
                subject=gv.obj.ref,
                gateway=lt.where,
                listener=lv.name,
                secret="(none)",
                problem="the listener terminates TLS but has no certificateRefs",
                fix="add tls.certificateRefs: [{kind: Secret, name: <secret>}] naming a kubernetes.io/tls "
                "Secret",
            )
            continue
        shim = shim_issuer(gv.obj)
        for ref in lt.secrets:
            problems: list[str] = []
            fixes: list[str] = []
            if not ref.is_secret:
                problems.append(f"refers to a {ref.kind} ({ref.group or 'core'}), not a Secret")
                fixes.append('use kind: Secret (group "") in certificateRefs')
                yield _secret_finding(lt, ref, problems, fixes)
                continue
            not_permitted = ref.cross_namespace and (
                not grant_allows(grants, ref)
                if grants_known(snap, ref.namespace)
                else _not_permitted_by_controller(lv, ref)
            )
            if not_permitted:
                problems.append(
                    f"is in namespace {ref.namespace}, not the Gateway's ({ref.gateway_namespace}), and no "
                    f"ReferenceGrant in {ref.namespace} lets Gateways from {ref.gateway_namespace} use it"
                )
                fixes.append(
                    f"create a ReferenceGrant in {ref.namespace}: from [{{group: {GW}, kind: Gateway, "
                    f"namespace: {ref.gateway_namespace}}}], "
                    f'to [{{group: "", kind: Secret, name: {ref.name}}}] '
                    "(or keep the Secret in the Gateway's namespace, as the standard layout does)"
                )
            secret = snap.get("Secret", ref.namespace, ref.name)
            # a reference no grant is known to permit is not followed (snapshot/secret_refs.py): its Secret
            # is unknown, not missing
            unread = (
                ref.cross_namespace
                and snap.source.mode == "cluster"
                and (not_permitted or not grants_known(snap, ref.namespace))
            )
            if secret is None:
                if secrets_readable(snap, ref.namespace) and not unread:
                    problems.append("does not exist")
                    fixes.append(_missing_secret_fix(lt, ref, shim))
            else:
                problems_, fixes_ = _secret_content_problems(secret)
                problems += problems_
                fixes += fixes_
            if problems:
                yield _secret_finding(lt, ref, problems, fixes)


def _secret_finding(lt: ListenerTLS, ref: SecretRef, problems: list[str], fixes: list[str]) -> Finding:
    return make_finding(
        "EGD401",
        subject=ref.ref,
        gateway=lt.where,
        listener=lt.listener.name,
        secret=str(ref),
        problem="; ".join(problems),
        fix="; ".join(dict.fromkeys(fixes)),
        evidence={
            "gateway": f"{lt.gateway.key[0]}/{lt.gateway.key[1]}",
            "certificateRef": {
                "kind": ref.kind,
                "group": ref.group,
                "namespace": ref.namespace,
                "name": ref.name,
            },
        },
    )


def _missing_secret_fix(lt: ListenerTLS, ref: SecretRef, shim: IssuerRef | None) -> str:
    certs = lt.certificates.get(ref, ())
    if certs:
        names = ", ".join(f"{c.namespace}/{c.name}" for c in certs)
        return f"cert-manager has not issued it yet: see EGD403 for Certificate {names}"
    if shim is not None:
        return (
            f"the Gateway asks cert-manager for it ({shim}) but no Certificate writes it: see EGD406 "
            "(cert-manager's Gateway API support must be enabled)"
        )
    return (
        f"create a cert-manager Certificate with spec.secretName: {ref.name} in namespace {ref.namespace} "
        f"(or annotate the Gateway with {CLUSTER_ISSUER_ANNOTATION}), or `kubectl create secret tls "
        f"{ref.name} -n {ref.namespace} --cert=... --key=...`"
    )


def _secret_content_problems(secret: Obj) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    fixes: list[str] = []
    stype = secret.raw.get("type")
    if stype == SDS_SECRET_TYPE:
        return problems, fixes  # the certificate lives in the SDS server, out of sight
    if stype != TLS_SECRET_TYPE:
        problems.append(f"has type {stype or 'Opaque'}, not {TLS_SECRET_TYPE}")
        fixes.append(
            f"recreate it as type {TLS_SECRET_TYPE} "
            "(`kubectl create secret tls NAME --cert=FILE --key=FILE`); "
            "the type cannot be changed in place"
        )
    keys = {str(k) for k in as_list(secret.raw.get("dataKeys"))}
    missing = [k for k in ("tls.crt", "tls.key") if k not in keys]
    if missing:
        problems.append(f"has no {' and no '.join(missing)}")
        fixes.append(
            "a listener Secret needs both tls.crt (the certificate chain, PEM) and tls.key (its key)"
        )
    crt = as_map(secret.raw.get("data")).get("tls.crt")
    if "tls.crt" in keys and isinstance(crt, str):
        info = parse_certificate(crt)
        if isinstance(info, str):
            problems.append(info)
            fixes.append("put the PEM certificate chain in tls.crt")
    elif "tls.crt" in keys and crt is None and "tls.crt" not in missing:
        problems.append("tls.crt is empty")
        fixes.append("put the PEM certificate chain in tls.crt")
    return problems, fixes


@check("listener-certificate", inputs=["Gateway", "Secret", "HTTPRoute", "GRPCRoute"], codes=["EGD402"])
def listener_certificate(ctx: CheckContext) -> Iterator[Finding]:
    """The certificate in each listener Secret covers the served hostnames and is inside its validity."""
    snap, now = ctx.snapshot, ctx.options.now
    warn = timedelta(days=ctx.options.cert_warn_days)
    for lt in listeners_with_tls(snap, ctx.topology):
        hosts = served_hostnames(lt.listener)
        for ref in lt.secrets:
            secret = snap.get("Secret", ref.namespace, ref.name) if ref.is_secret else None
            crt = as_map(secret.raw.get("data")).get("tls.crt") if secret is not None else None
            if not isinstance(crt, str):
                continue
            info = parse_certificate(crt)
            if not isinstance(info, CertInfo):
                continue  # unusable content is EGD401's; no cryptography means nothing to inspect
            errors: list[str] = []
            warnings: list[str] = []
            fixes: list[str] = []
            if now < info.not_before:
                errors.append(
                    f"is not valid before {_iso(info.not_before)} (in {_days(info.not_before - now)})"
                )
                fixes.append("the issuer dated it in the future (clock skew?): reissue it, or wait")
            if now >= info.not_after:
                errors.append(f"expired on {_iso(info.not_after)} ({_days(now - info.not_after)} ago)")
                fixes.append(
                    "renew it: with cert-manager see why renewal failed (EGD403/EGD404) and run "
                    "`cmctl renew`; "
                    "otherwise replace tls.crt and tls.key"
                )
            elif info.not_after - now <= warn:
                warnings.append(
                    f"expires on {_iso(info.not_after)} (in {_days(info.not_after - now)}, within the "
                    f"{ctx.options.cert_warn_days}-day warning window)"
                )
                fixes.append(
                    "renewal should have happened by now (cert-manager renews at two thirds of the "
                    "lifetime): "
                    "check the Certificate and its issuer (EGD403/EGD404), or replace the certificate"
                )
            uncovered = [h for h in hosts if not info.covers(h)]
            if uncovered:
                names = ", ".join(info.sans) if info.sans else f"no subjectAltName, only CN {info.subject}"
                errors.append(f"does not cover {', '.join(uncovered)} (it names {names})")
                fixes.append(
                    f"issue it for {', '.join(uncovered)}: set the Certificate's spec.dnsNames (the "
                    "Gateway shim "
                    "uses the listener hostname); a wildcard *.example.com covers exactly one label"
                )
            if info.self_signed:
                warnings.append(
                    f"is self-signed ({info.subject}): browsers and API clients will not trust it"
                )
                fixes.append(
                    "use a certificate from a CA the clients trust (for public names an ACME issuer "
                    "such as Let's Encrypt through cert-manager)"
                )
            if not errors and not warnings:
                continue
            yield make_finding(
                "EGD402",
                subject=ref.ref,
                gateway=lt.where,
                secret=str(ref),
                severity=Severity.ERROR if errors else Severity.WARNING,
                problem="; ".join(errors + warnings),
                fix="; ".join(dict.fromkeys(fixes)),
                evidence={
                    "listener": lt.listener.name,
                    "hostnames": list(hosts),
                    "subject": info.subject,
                    "issuer": info.issuer,
                    "dnsNames": list(info.sans),
                    "notBefore": _iso(info.not_before),
                    "notAfter": _iso(info.not_after),
                    "selfSigned": info.self_signed,
                },
            )


_CM_INPUTS = ["Gateway", "Certificate", "CertificateRequest", "Issuer", "ClusterIssuer", "Order", "Challenge"]


@check("certificate-ready", inputs=_CM_INPUTS, codes=["EGD403"])
def certificate_ready(ctx: CheckContext) -> Iterator[Finding]:
    """Certificates that write listener Secrets are Ready; otherwise name where issuance is stuck."""
    snap = ctx.snapshot
    if not any(c.status for c in snap.of("Certificate")):
        return  # no Certificate has any status: cert-manager is not running, which EGD406 says once
    for lt in listeners_with_tls(snap, ctx.topology):
        for ref, certs in lt.certificates.items():
            for cert in certs:
                chain = certificate_chain(snap, cert, lt.gateway.addresses)
                if chain.link is None:
                    continue
                # A stuck re-issue while the current certificate is still valid degrades, it does not break.
                served = _valid_certificate(snap, ref, ctx.options.now)
                link = chain.link.text
                if served is not None:
                    link += (
                        f"; the current certificate is still served (valid until {_iso(served.not_after)})"
                    )
                yield make_finding(
                    "EGD403",
                    subject=cert.ref,
                    gateway=lt.where,
                    severity=Severity.WARNING if served is not None else Severity.ERROR,
                    certificate=_certificate_label(cert),
                    link=link,
                    fix=chain.link.fix,
                    evidence=chain.evidence(),
                )


def _valid_certificate(snap: Snapshot, ref: SecretRef, now: datetime) -> CertInfo | None:
    # Secrets are not an input of the cert-manager checks: they only soften a finding, so unreadable
    # Secrets must not switch the check off.
    secret = snap.get("Secret", ref.namespace, ref.name)
    crt = as_map(secret.raw.get("data")).get("tls.crt") if secret is not None else None
    info = parse_certificate(crt) if isinstance(crt, str) else None
    if isinstance(info, CertInfo) and info.not_before <= now < info.not_after:
        return info
    return None


def _used_issuers(
    snap: Snapshot, topology: Topology
) -> dict[IssuerRef, list[tuple[ListenerTLS, str, Obj | None]]]:
    """Issuers that listener certificates depend on -> (listener, who uses it, the Certificate if any)."""
    used: dict[IssuerRef, list[tuple[ListenerTLS, str, Obj | None]]] = {}
    for lt in listeners_with_tls(snap, topology):
        shim = shim_issuer(lt.gateway.obj)
        for ref in lt.secrets:
            certs = lt.certificates.get(ref, ())
            for cert in certs:
                iref = certificate_issuer(cert)
                if iref is not None and iref.builtin:
                    used.setdefault(iref, []).append((lt, f"Certificate {cert.namespace}/{cert.name}", cert))
            if not certs and shim is not None and shim.builtin:
                used.setdefault(shim, []).append(
                    (lt, f"Gateway {lt.gateway.key[0]}/{lt.gateway.key[1]} annotation", None)
                )
    return used


@check("issuer-ready", inputs=["Gateway", "Certificate", "Issuer", "ClusterIssuer"], codes=["EGD404"])
def issuer_ready(ctx: CheckContext) -> Iterator[Finding]:
    """The Issuers and ClusterIssuers listener certificates use exist and are Ready."""
    snap = ctx.snapshot
    if "Certificate" in snap.fetched and any(p.reason == "absent" for p in snap.problems_for("Certificate")):
        return  # cert-manager is not installed: EGD406
    for iref, users in _used_issuers(snap, ctx.topology).items():
        issuer = find_issuer(snap, iref)
        problem = issuer_problem(issuer, iref)
        if problem is None:
            continue
        names = ", ".join(sorted({who for _, who, _ in users}))
        text, reason = problem
        if reason == "NotFound":
            fix = (
                f"create the {iref.kind} {iref.name}"
                + (f" in namespace {iref.namespace}" if iref.namespace else "")
                + f", or point {names} at an existing issuer"
                + (
                    " (an Issuer is namespaced: it must live in the Certificate's namespace; use a "
                    "ClusterIssuer to share one)"
                    if iref.kind == "Issuer"
                    else ""
                )
            )
        else:
            fix = _ISSUER_FIXES.get(
                reason,
                f"`kubectl describe {iref.kind.lower()} {iref.name}` and fix what the Ready condition says",
            )
        for lt, _, _ in users:
            yield make_finding(
                "EGD404",
                subject=iref.ref,
                gateway=lt.where,
                issuer=str(iref),
                problem=f"{text} (used by {names})",
                fix=fix,
                evidence={"reason": reason, "usedBy": sorted({who for _, who, _ in users})},
            )


@check(
    "http01-solver",
    inputs=["Gateway", "Certificate", "Issuer", "ClusterIssuer", "Namespace"],
    codes=["EGD405"],
)
def http01_solver(ctx: CheckContext) -> Iterator[Finding]:
    """HTTP-01 solvers the listener certificates use can answer through the Gateway."""
    snap = ctx.snapshot
    namespaces = {n.name: n.labels for n in snap.of("Namespace")}
    for iref, users in _used_issuers(snap, ctx.topology).items():
        issuer = find_issuer(snap, iref)
        if issuer is None or not isinstance(issuer.spec.get("acme"), Mapping):
            continue
        reported: set[tuple[str, GatewayRef]] = set()
        for lt, who, cert in users:
            cert_ns = cert.namespace if cert is not None else lt.gateway.key[0]
            hosts = dns_names(cert) if cert is not None else tuple(h for h in [lt.listener.hostname] if h)
            labels = cert.labels if cert is not None else {}
            for host in hosts:
                solver = pick_solver(issuer, host, labels)
                http01 = as_map(solver.get("http01")) if solver is not None else {}
                if not http01:
                    continue
                problem, fix = _http01_problem(ctx.topology, http01, cert_ns or "", host, namespaces, lt)
                if problem is None or (problem, lt.where) in reported:
                    continue
                reported.add((problem, lt.where))
                yield make_finding(
                    "EGD405",
                    subject=iref.ref,
                    gateway=lt.where,
                    issuer=str(iref),
                    problem=f"HTTP-01 for {host} ({who}): {problem}",
                    fix=fix,
                    evidence={"solver": thaw(http01), "hostname": host, "solverNamespace": cert_ns},
                )


def _http01_problem(
    topology: Topology,
    http01: Mapping[str, Any],
    namespace: str,
    host: str,
    namespaces: Mapping[str, Mapping[str, str]],
    lt: ListenerTLS,
) -> tuple[str | None, str]:
    gw_ns, gw_name = lt.gateway.key
    http_listener = next(
        (lv.name for lv in lt.gateway.listeners if lv.protocol == "HTTP" and lv.port == 80), "http"
    )
    suggestion = (
        f"http01.gatewayHTTPRoute.parentRefs: [{{name: {gw_name}, namespace: {gw_ns}, sectionName: "
        f"{http_listener}}}]"
    )
    ingress = http01.get("ingress")
    if isinstance(ingress, Mapping):
        cls = ingress.get("ingressClassName") or ingress.get("class")
        what = (
            f"the solver uses an Ingress of class {cls}"
            if cls
            else f"the solver edits Ingress {ingress['name']}"
            if ingress.get("name")
            else "the solver uses an Ingress (default class)"
        )
        return (
            f"{what}, an ingress-nginx leftover: Envoy Gateway does not serve Ingresses, so the ACME server "
            "never reaches the solver and issuance and renewals fail",
            f"replace http01.ingress with {suggestion} (and enable cert-manager's Gateway API support)",
        )
    route = http01.get("gatewayHTTPRoute")
    if isinstance(route, Mapping):
        problem = http01_route_problem(
            topology, as_list(route.get("parentRefs")), namespace, host, namespaces
        )
        if problem is None:
            return None, ""
        fix = f"point the solver at a port-80 HTTP listener that admits namespace {namespace} ({suggestion})"
        http = next((lv for lv in lt.gateway.listeners if lv.protocol == "HTTP" and lv.port == 80), None)
        allowed = as_map(as_map(http.spec.get("allowedRoutes")).get("namespaces")) if http else {}
        labels = as_map(as_map(allowed.get("selector")).get("matchLabels"))
        if labels:
            pairs = " ".join(f"{k}={v}" for k, v in labels.items())
            fix += (
                f"; that listener selects namespaces by label: `kubectl label namespace {namespace} {pairs}`"
            )
        return problem, fix
    return "the HTTP-01 solver has neither ingress nor gatewayHTTPRoute", f"configure {suggestion}"


@check("cert-manager-installed", inputs=["Gateway", "Certificate"], codes=["EGD406"])
def cert_manager_installed(ctx: CheckContext) -> Iterator[Finding]:
    """cert-manager is installed and working where TLS listeners need certificates."""
    snap = ctx.snapshot
    absent = any(p.reason == "absent" for p in snap.problems_for("Certificate"))
    certs = snap.of("Certificate")
    by_gateway: dict[tuple[str, str], list[ListenerTLS]] = {}
    for lt in listeners_with_tls(snap, ctx.topology):
        by_gateway.setdefault(lt.gateway.key, []).append(lt)
    for key, lts in by_gateway.items():
        gw = lts[0].gateway.obj
        names = ", ".join(lt.listener.name for lt in lts)
        if absent:
            broken = _any_secret_missing(snap, lts)
            yield make_finding(
                "EGD406",
                subject=gw.ref,
                gateway=GatewayRef(*key),
                severity=Severity.ERROR if broken else Severity.WARNING,
                problem=f"is not installed (the Certificate API {CM}/v1 is not served): nothing issues or "
                "renews "
                f"the certificates of listeners {names}"
                + ("" if broken else "; their Secrets exist today but will expire unrenewed"),
                fix="install cert-manager (Elastx guide: CRDs with kubectl, then the jetstack Helm chart; "
                "`cmctl check api` must say the API is ready) and enable its Gateway API support, or keep "
                "providing the "
                "TLS Secrets yourself and renew them before they expire",
                evidence={"listeners": [lt.listener.name for lt in lts]},
            )
            continue
        if certs and not any(c.status for c in certs):
            yield make_finding(
                "EGD406",
                subject=gw.ref,
                gateway=GatewayRef(*key),
                problem="is installed but not running: no Certificate has any status (check `kubectl -n "
                "cert-manager get pods` and `cmctl check api`)",
                fix="start cert-manager (its controller, webhook and cainjector Deployments must be "
                "available) "
                "and check its logs for why it does not reconcile Certificates",
                evidence={"listeners": [lt.listener.name for lt in lts]},
            )
            continue
        shim = shim_issuer(gw)
        if shim is None or "Certificate" not in snap.fetched:
            continue
        missing = [
            f"{ref.namespace}/{ref.name}"
            for lt in lts
            for ref in lt.secrets
            if ref.is_secret and not ref.cross_namespace and not lt.certificates.get(ref)
        ]
        if missing:
            annotation = CLUSTER_ISSUER_ANNOTATION if shim.kind == "ClusterIssuer" else ISSUER_ANNOTATION
            yield make_finding(
                "EGD406",
                subject=gw.ref,
                gateway=GatewayRef(*key),
                problem=f"has not created the Certificates {', '.join(sorted(set(missing)))} that the "
                "Gateway's "
                f"{annotation}: {shim.name} annotation asks for: its Gateway API support is off (Helm value "
                "config.enableGatewayAPI: true, or --enable-gateway-api) or it cannot watch Gateways",
                fix="enable the Gateway API integration (Helm value config.enableGatewayAPI: true; the "
                "Gateway API CRDs must exist before cert-manager starts) and restart cert-manager, or create "
                "the Certificates "
                "yourself with spec.secretName set to each listener's Secret",
                evidence={"issuer": str(shim), "missingCertificates": sorted(set(missing))},
            )


def _any_secret_missing(snap: Snapshot, lts: list[ListenerTLS]) -> bool:
    # Secrets only sharpen the severity here, so they are not an input: unreadable Secrets must not
    # silence the finding itself.
    for lt in lts:
        for ref in lt.secrets:
            if not secrets_readable(snap, ref.namespace):
                continue
            secret = snap.get("Secret", ref.namespace, ref.name)
            if secret is None or "tls.crt" not in {str(k) for k in as_list(secret.raw.get("dataKeys"))}:
                return True
    return False
