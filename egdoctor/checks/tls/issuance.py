"""Follow a Certificate through its issuer, CertificateRequest, Order and Challenges, and name the link
where issuance is stuck."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from egdoctor.checks.acme_reach import foreign_addresses
from egdoctor.checks.tls.cert_manager import (
    IssuerRef,
    certificate_issuer,
    dns_names,
    find_issuer,
    issuer_problem,
)
from egdoctor.findings.model import ObjectRef
from egdoctor.snapshot.model import Snapshot
from egdoctor.snapshot.objects import Obj, as_list, conditions

REVISION_ANNOTATION = "cert-manager.io/certificate-revision"
CERTIFICATE_NAME_ANNOTATION = "cert-manager.io/certificate-name"

# ACME states that end an Order or Challenge without a certificate (pkg/apis/acme/v1/types_order.go).
_FAILED_STATES = ("invalid", "errored", "expired")


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
