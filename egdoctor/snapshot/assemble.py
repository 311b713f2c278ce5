"""Turn raw objects (from a cluster or from files) into a Snapshot: shape check, Secret sanitising,
freezing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from egdoctor.findings.model import ObjectRef
from egdoctor.snapshot.kinds import KINDS, OWNING_GATEWAY_NAME, OWNING_GATEWAYCLASS
from egdoctor.snapshot.model import AccessProblem, Malformed, Snapshot, Source
from egdoctor.snapshot.objects import MAX_NESTING, NestingTooDeep, Obj
from egdoctor.snapshot.shape import problem, sanitize_secret


def assemble(
    raw: Mapping[str, Iterable[Mapping[str, Any]]],
    namespaces: frozenset[str] | None,
    source: Source,
    problems: Iterable[AccessProblem] = (),
    extra_malformed: Iterable[Malformed] = (),
    fetched: Iterable[str] | None = None,
    listed: Iterable[tuple[str, str | None]] = (),
) -> Snapshot:
    objects: dict[str, list[Obj]] = {}
    malformed = list(extra_malformed)
    for name, items in raw.items():
        kind = KINDS[name].kind if name in KINDS else name
        seen: set[tuple[Any, Any]] = set()
        bucket = objects.setdefault(name, [])
        for item in items:
            try:
                obj, why = _admit(name, kind, item)
            except Exception as exc:  # one tenant object must never take the run down
                obj, why = None, f"cannot be read ({type(exc).__name__}: {exc})"
            if obj is None:
                malformed.append(Malformed(_ref_of(kind, item), why or "cannot be read"))
                continue
            if obj.key in seen:
                continue
            seen.add(obj.key)
            bucket.append(obj)
    held = set(raw) if fetched is None else set(fetched)
    return Snapshot.build(objects, namespaces, source, list(problems), malformed, held, set(listed))


def admit_early(name: str, items: list[Any]) -> list[Any]:
    """The items of one list with every well-formed one already an Obj (shape-checked and frozen), so a
    reader can do this work while other lists are still in flight; the others stay as they came, for
    `assemble` to report."""
    kind = KINDS[name].kind if name in KINDS else name
    out: list[Any] = []
    for item in items:
        try:
            obj, _ = _admit(name, kind, item)
        except Exception:  # reported by assemble, which admits it again
            obj = None
        out.append(item if obj is None else obj)
    return out


def raw_of(item: Any) -> Any:
    """The JSON form of an item, admitted early or not."""
    return item.raw if isinstance(item, Obj) else item


def _admit(name: str, kind: str, item: Any) -> tuple[Obj | None, str | None]:
    if isinstance(item, Obj):
        return item, None
    if kind == "Secret" and isinstance(item, Mapping):
        item = sanitize_secret(item)
    why = problem(name, item)
    if why:
        return None, why
    try:
        return Obj(item, kind=kind), None
    except (NestingTooDeep, RecursionError):
        return None, f"nested more than {MAX_NESTING} levels deep"


def derive_envoy_services(raw: Mapping[str, list[Mapping[str, Any]]]) -> list[Mapping[str, Any]]:
    """Services that Envoy Gateway created for a Gateway (or, with mergeGateways, for a GatewayClass), from an
    offline set of Services."""
    out = []
    for svc in raw.get("Service", []):
        labels = svc.get("metadata", {}).get("labels") if isinstance(svc.get("metadata"), Mapping) else None
        if isinstance(labels, Mapping) and (OWNING_GATEWAY_NAME in labels or OWNING_GATEWAYCLASS in labels):
            out.append(svc)
    return out


def _ref_of(kind: str, item: Any) -> ObjectRef:
    meta = item.get("metadata") if isinstance(item, Mapping) else None
    meta = meta if isinstance(meta, Mapping) else {}
    name = meta.get("name")
    namespace = meta.get("namespace")
    # capped: a malformed object's name is as tenant-chosen as the rest of it
    return ObjectRef(
        kind,
        namespace[:253] if isinstance(namespace, str) else None,
        name[:253] if isinstance(name, str) and name else "<unnamed>",
    )
