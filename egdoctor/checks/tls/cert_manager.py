"""cert-manager's issuer references (from a Certificate, or from the Gateway shim's annotations), whether
an issuer can issue, and the names a Certificate asks for."""

from __future__ import annotations

from dataclasses import dataclass

from egdoctor.findings.model import ObjectRef
from egdoctor.snapshot.kinds import CM
from egdoctor.snapshot.model import Snapshot
from egdoctor.snapshot.objects import Obj, as_list, as_map, conditions

ISSUER_ANNOTATION = "cert-manager.io/issuer"
CLUSTER_ISSUER_ANNOTATION = "cert-manager.io/cluster-issuer"
ISSUER_KIND_ANNOTATION = "cert-manager.io/issuer-kind"
ISSUER_GROUP_ANNOTATION = "cert-manager.io/issuer-group"


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


def dns_names(cert: Obj) -> tuple[str, ...]:
    names = [str(n) for n in as_list(cert.spec.get("dnsNames")) if isinstance(n, str)]
    cn = cert.spec.get("commonName")
    if isinstance(cn, str) and cn and cn not in names:
        names.insert(0, cn)
    return tuple(names)
