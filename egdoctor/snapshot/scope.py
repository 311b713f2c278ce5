"""Whether the namespaces asked for exist: a report on a namespace that is not there would read as a pass."""

from __future__ import annotations

from egdoctor.snapshot.model import Snapshot


def absent_namespaces(snapshot: Snapshot) -> list[str]:
    """The asked namespaces the snapshot shows do not exist. From a cluster that needs a complete
    Namespace list (an unreadable list proves nothing); a dump need not export Namespaces, so there a
    namespace is absent when no object at all lives in it."""
    if snapshot.namespaces is None:
        return []
    known = {o.name for o in snapshot.of("Namespace")}
    if snapshot.source.mode == "files":
        known |= {o.namespace for objs in snapshot.objects.values() for o in objs if o.namespace}
    elif "Namespace" not in snapshot.fetched or snapshot.problems_for("Namespace"):
        return []
    return sorted(ns for ns in snapshot.namespaces if ns not in known)
