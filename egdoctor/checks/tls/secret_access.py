"""Whether a Gateway may read a listener Secret, and whether egdoctor could read it."""

from __future__ import annotations

from collections.abc import Iterable

from egdoctor.checks.tls.listeners import SecretRef
from egdoctor.model.topology import ListenerView
from egdoctor.snapshot.model import Snapshot
from egdoctor.snapshot.objects import Obj, conditions
from egdoctor.snapshot.secret_refs import grant_permits


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


def not_permitted_by_controller(lv: ListenerView, ref: SecretRef) -> bool:
    """Envoy Gateway's own verdict (internal/gatewayapi/validate.go): the listener's ResolvedRefs message
    names the Secret as not permitted by any ReferenceGrant."""
    resolved = conditions(lv.status).get("ResolvedRefs")
    if resolved is None or resolved.get("status") != "False":
        return False
    return f"secret {ref.namespace}/{ref.name} not permitted" in str(resolved.get("message", ""))


def grant_allows(grants: Iterable[Obj], ref: SecretRef) -> bool:
    """A ReferenceGrant in the Secret's namespace lets Gateways of the Gateway's namespace use it."""
    return grant_permits((g.raw for g in grants), ref.gateway_namespace, ref.namespace, ref.name)
