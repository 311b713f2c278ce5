"""How far a scenario's hand-written statuses are from the ones Envoy Gateway computes.

Each difference names the object, where in its status, and the field: the scenario's value against
EG's. A difference is explained only by the scenario's ``spec.egStatus.keep`` entry for that object,
which says why its status is deliberately not EG's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .statuses import SCENARIO_OWNED, Explanation, apply_statuses, object_key
from .translate import EgTranslation

COMPARED_FIELDS = ("status", "reason", "message")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?: ?[+-]\d{4}| UTC|Z)*")


@dataclass(frozen=True)
class Difference:
    object: str
    where: str  # e.g. "parents[gateway/shared]" or "listeners[http]"
    condition: str  # condition type, or a field such as attachedRoutes
    field: str
    ours: Any
    eg: Any
    explained: str = ""

    def line(self) -> str:
        why = f"  (explained: {self.explained})" if self.explained else ""
        where = f"{self.object} {self.where} {self.condition}.{self.field}"
        return f"{where}: ours {self.ours!r} vs EG {self.eg!r}{why}"


def _ref_key(ref: Mapping[str, Any], namespace: str) -> str:
    text = f"{ref.get('kind') or 'Gateway'}:{ref.get('namespace') or namespace}/{ref.get('name')}"
    if ref.get("sectionName"):
        text += f"#{ref['sectionName']}"
    if ref.get("port"):
        text += f":{ref['port']}"
    return text


def _conditions(entry: Any) -> dict[str, Mapping[str, Any]]:
    conds = entry.get("conditions") if isinstance(entry, Mapping) else None
    return {str(c.get("type")): c for c in conds or [] if isinstance(c, Mapping)}


def _compare_conditions(obj: str, where: str, ours: Any, eg: Any, out: list[Difference]) -> None:
    a, b = _conditions(ours), _conditions(eg)
    for ctype in sorted(set(a) | set(b)):
        if ctype not in a:
            out.append(Difference(obj, where, ctype, "presence", None, "set"))
            continue
        if ctype not in b:
            out.append(Difference(obj, where, ctype, "presence", "set", None))
            continue
        for fld in COMPARED_FIELDS:
            if date_free(a[ctype].get(fld)) != date_free(b[ctype].get(fld)):
                out.append(Difference(obj, where, ctype, fld, a[ctype].get(fld), b[ctype].get(fld)))


def _by_ref(entries: Any, ref: str, namespace: str) -> dict[str, Mapping[str, Any]]:
    return {
        _ref_key(e.get(ref) or {}, namespace): e
        for e in entries or []
        if isinstance(e, Mapping) and isinstance(e.get(ref), Mapping)
    }


def compare(ours: Mapping[str, Any], eg: Mapping[str, Any]) -> list[Difference]:
    """Differences between one object's scenario status and its status as EG serves it."""
    key = object_key(ours)
    namespace = str((ours.get("metadata") or {}).get("namespace") or "")
    a = ours.get("status") if isinstance(ours.get("status"), Mapping) else {}
    b = eg.get("status") if isinstance(eg.get("status"), Mapping) else {}
    assert isinstance(a, Mapping) and isinstance(b, Mapping)
    out: list[Difference] = []
    if ours.get("kind") == "Gateway":
        _compare_conditions(key, "conditions", a, b, out)
        la = {e.get("name"): e for e in a.get("listeners") or [] if isinstance(e, Mapping)}
        lb = {e.get("name"): e for e in b.get("listeners") or [] if isinstance(e, Mapping)}
        for name in sorted(set(la) | set(lb), key=str):
            where = f"listeners[{name}]"
            if name not in la or name not in lb:
                out.append(Difference(key, where, "-", "presence", name in la or None, name in lb or None))
                continue
            for fld in ("attachedRoutes",):
                if la[name].get(fld) != lb[name].get(fld):
                    out.append(Difference(key, where, fld, "value", la[name].get(fld), lb[name].get(fld)))
            _compare_conditions(key, where, la[name], lb[name], out)
        return out
    for section, ref in (("parents", "parentRef"), ("ancestors", "ancestorRef")):
        if section not in a and section not in b:
            continue
        ea, eb = _by_ref(a.get(section), ref, namespace), _by_ref(b.get(section), ref, namespace)
        for rkey in sorted(set(ea) | set(eb)):
            where = f"{section}[{rkey}]"
            if rkey not in ea or rkey not in eb:
                out.append(Difference(key, where, "-", "presence", rkey in ea or None, rkey in eb or None))
                continue
            _compare_conditions(key, where, ea[rkey], eb[rkey], out)
    return out


def scenario_drift(
    objects: Iterable[Mapping[str, Any]],
    translation: EgTranslation,
    keep: Mapping[str, str],
    explained: Iterable[Explanation] = (),
    release: str = "",
) -> list[Difference]:
    """Every difference in one scenario, explained ones marked."""
    objects = list(objects)
    explained = list(explained)

    def reason(obj: str, where: str, condition: str, field: str) -> str:
        """Why the scenario keeps this difference on purpose, or "" when nothing says so."""
        covering = (e.why for e in explained if e.covers(release, obj, where, condition, field))
        return keep.get(obj, "") or next(covering, "")

    served = apply_statuses(objects, translation, keep={})
    out: list[Difference] = []
    for ours, eg in zip(objects, served, strict=True):
        for diff in compare(ours, eg):
            why = reason(diff.object, diff.where, diff.condition, diff.field)
            out.append(Difference(**{**diff.__dict__, "explained": why}) if why else diff)
    for rejected in translation.rejected:
        obj = str(rejected.get("object"))
        why = reason(obj, "object", "-", "schema")
        out.append(
            Difference(obj, "object", "-", "schema", "served", f"rejected: {rejected.get('error')}", why)
        )
    return out


__all__ = ["SCENARIO_OWNED", "Difference", "compare", "scenario_drift"]


def date_free(text: Any) -> Any:
    """Messages that quote a certificate's dates differ with every generated certificate; compare them
    with the dates blanked."""
    if not isinstance(text, str):
        return text
    return _DATE.sub("<date>", text)
