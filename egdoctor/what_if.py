"""What-if: local manifests laid over a snapshot, as `kubectl apply` would lay them over the cluster
(an object of the same kind, namespace and name is replaced, a new one is added), and the findings that
would appear and go away.

An object that is not applied yet has no status: the controller has not seen it. Its status is dropped
(a kept status would describe the old spec), and the findings that only say "the controller has not
reconciled this yet" on such an object are expected, not news: they are listed apart."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from egdoctor.findings.model import Finding, ObjectRef
from egdoctor.snapshot.kinds import KINDS
from egdoctor.snapshot.model import Snapshot
from egdoctor.snapshot.objects import Obj, thaw

# Codes that on an object not applied yet only restate that its controller has not written a status.
NOT_RECONCILED_YET = frozenset({"EGD206"})


class WhatIfError(ValueError):
    """A --with-file input that cannot be laid over the snapshot; the message is one line."""


@dataclass(frozen=True)
class Change:
    ref: ObjectRef
    action: str  # "replaced" | "added"


@dataclass(frozen=True)
class WhatIf:
    files: tuple[str, ...]
    changes: tuple[Change, ...]
    appear: tuple[Finding, ...]  # in the report's findings too
    go_away: tuple[Finding, ...]
    not_reconciled_yet: tuple[Finding, ...]  # expected of objects not applied yet; left out of `appear`


def overlay(
    base: Snapshot, files: Sequence[str], default_namespace: str
) -> tuple[Snapshot, tuple[Change, ...]]:
    from egdoctor.snapshot.files import InputError, load_files

    try:
        local = load_files(list(files), None)
    except InputError as exc:
        raise WhatIfError(str(exc).replace("--from-file", "--with-file")) from None
    if local.malformed:
        bad = local.malformed[0]
        raise WhatIfError(f"--with-file: {bad.subject} cannot be used: {bad.reason}")
    objects = {name: list(objs) for name, objs in base.objects.items()}
    changes: list[Change] = []
    listed = set(base.listed)
    for name, items in local.objects.items():
        namespaced = KINDS[name].namespaced if name in KINDS else True
        bucket = objects.setdefault(name, [])
        for item in items:
            obj = _unapplied(item, default_namespace if namespaced else None)
            at = next((i for i, o in enumerate(bucket) if o.key == obj.key), None)
            if at is None:
                bucket.append(obj)
            else:
                bucket[at] = obj
            if name != "EnvoyService":  # derived from a Service: that Service is the change
                changes.append(Change(obj.ref, "added" if at is None else "replaced"))
            listed.add((name, obj.namespace))
    merged = Snapshot.build(
        objects,
        base.namespaces,
        base.source,
        base.problems,
        base.malformed,
        base.fetched | {n for n, objs in local.objects.items() if objs},
        listed,
    )
    return merged, tuple(sorted(changes, key=lambda c: c.ref))


def _unapplied(obj: Obj, namespace: str | None) -> Obj:
    raw: dict[str, Any] = thaw(obj.raw)
    raw.pop("status", None)
    meta = raw.setdefault("metadata", {})
    if namespace is not None and not meta.get("namespace"):
        meta["namespace"] = namespace  # as `kubectl apply -n NS` would place it
    return Obj(raw, kind=obj.kind)


def compare(
    files: Sequence[str], changes: Iterable[Change], before: Sequence[Finding], after: Sequence[Finding]
) -> WhatIf:
    changed = {c.ref for c in changes}
    old = {_key(f) for f in before}
    new = {_key(f) for f in after}
    appearing = [f for f in after if _key(f) not in old]
    expected = [f for f in appearing if f.code in NOT_RECONCILED_YET and f.subject in changed]
    return WhatIf(
        files=tuple(files),
        changes=tuple(changes),
        appear=tuple(f for f in appearing if f not in expected),
        go_away=tuple(f for f in before if _key(f) not in new),
        not_reconciled_yet=tuple(expected),
    )


def _key(f: Finding) -> tuple[Any, ...]:
    """The same problem before and after: code, object, Gateway and listener (a message may differ in
    a count without the problem changing)."""
    return (f.code, f.subject, f.gateway)
