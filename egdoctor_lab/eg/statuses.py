"""Serve a scenario with the statuses Envoy Gateway's translator computed.

EG's translator owns the status of the Gateway API and EG objects it translates. What it does not
compute stays as the scenario wrote it, and this list is the whole of it (``SCENARIO_OWNED``):
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .translate import TRANSLATOR_KINDS, EgTranslation

EG_CONTROLLER = "gateway.envoyproxy.io/gatewayclass-controller"


@dataclass(frozen=True)
class Owned:
    what: str
    why: str


SCENARIO_OWNED = (
    Owned("GatewayClass status", "EG's Kubernetes provider accepts a GatewayClass, not the translator"),
    Owned("Gateway status.addresses", "the infrastructure: the load balancer's address on the Envoy Service"),
    Owned(
        "Gateway condition Programmed",
        "the infrastructure: the Envoy Deployment's ready replicas and the Service's address",
    ),
    Owned("cert-manager, Service, EndpointSlice, Pod and other non-EG kinds", "not translated by EG"),
    Owned(
        "status of any object listed in the LabScenario's spec.egStatus.keep",
        "a deliberately stale or hand-made status, each entry saying why",
    ),
    Owned("status of objects EG's CRD schema rejects", "a cluster's API server would refuse them"),
)


def object_key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    assert isinstance(meta, Mapping)
    return f"{obj.get('kind')}/{meta.get('namespace') or ''}/{meta.get('name') or ''}"


def kept_objects(settings: Mapping[str, Any]) -> dict[str, str]:
    """``spec.egStatus.keep`` of a LabScenario: object key -> why its status stays the scenario's."""
    section = settings.get("egStatus") if isinstance(settings.get("egStatus"), Mapping) else {}
    assert isinstance(section, Mapping)
    out = {}
    for entry in section.get("keep") or []:
        if isinstance(entry, Mapping) and entry.get("object"):
            out[str(entry["object"])] = str(entry.get("why") or "")
    return out


@dataclass(frozen=True)
class Explanation:
    """``spec.egStatus.explain[]``: a remaining difference from EG's status and why it is intended."""

    why: str
    release: str = ""
    object: str = ""
    field: str = ""

    def covers(self, release: str, obj: str, where: str, condition: str, field: str) -> bool:
        return (
            (not self.release or self.release == release)
            and (not self.object or self.object == obj)
            and (not self.field or self.field in (condition, field) or self.field in where)
        )


def explanations(settings: Mapping[str, Any]) -> list[Explanation]:
    section = settings.get("egStatus") if isinstance(settings.get("egStatus"), Mapping) else {}
    assert isinstance(section, Mapping)
    out = []
    for entry in section.get("explain") or []:
        if isinstance(entry, Mapping) and entry.get("why"):
            out.append(
                Explanation(
                    why=str(entry["why"]),
                    release=str(entry.get("release") or ""),
                    object=str(entry.get("object") or ""),
                    field=str(entry.get("field") or ""),
                )
            )
    return out


def _stamp(now: datetime | None) -> str:
    return (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _conditions(previous: Any, computed: Any, stamp: str) -> list[dict[str, Any]]:
    """EG's conditions, keeping lastTransitionTime where type and status stay (meta.SetStatusCondition);
    the translator leaves the time unset."""
    before = {c.get("type"): c for c in previous or [] if isinstance(c, Mapping)}
    out = []
    for cond in computed or []:
        if not isinstance(cond, Mapping):
            continue
        old = before.get(cond.get("type"))
        same = old is not None and old.get("status") == cond.get("status") and old.get("lastTransitionTime")
        out.append({**cond, "lastTransitionTime": old["lastTransitionTime"] if same and old else stamp})
    return out


def _entries_by(entries: Any, ref_key: str) -> dict[str, Mapping[str, Any]]:
    return {
        repr(sorted((e.get(ref_key) or {}).items())): e
        for e in entries or []
        if isinstance(e, Mapping) and isinstance(e.get(ref_key), Mapping)
    }


def _merge_ref_entries(ours: Any, eg: Any, ref_key: str, stamp: str) -> list[dict[str, Any]]:
    """Route ``parents`` / policy ``ancestors``: EG's entries replace EG's; other controllers' stay."""

    def egs(entry: Any) -> bool:  # EG writes EnvoyProxy ancestors without a controllerName
        return isinstance(entry, Mapping) and entry.get("controllerName") in (EG_CONTROLLER, None)

    old = _entries_by([e for e in ours or [] if egs(e)], ref_key)
    merged: list[dict[str, Any]] = [
        copy.deepcopy(dict(e)) for e in ours or [] if isinstance(e, Mapping) and not egs(e)
    ]
    for key, entry in _entries_by(eg, ref_key).items():
        before = old.get(key, {})
        merged.append(
            {**entry, "conditions": _conditions(before.get("conditions"), entry.get("conditions"), stamp)}
        )
    return merged


def _merge_gateway(ours: Mapping[str, Any], eg: Mapping[str, Any], stamp: str) -> dict[str, Any]:
    out = dict(ours)
    kept = [
        c for c in ours.get("conditions") or [] if isinstance(c, Mapping) and c.get("type") == "Programmed"
    ]
    computed = [
        c for c in eg.get("conditions") or [] if isinstance(c, Mapping) and c.get("type") != "Programmed"
    ]
    out["conditions"] = _conditions(ours.get("conditions"), computed, stamp) + [dict(c) for c in kept]
    old_listeners = {
        entry.get("name"): entry for entry in ours.get("listeners") or [] if isinstance(entry, Mapping)
    }
    listeners = []
    for entry in eg.get("listeners") or []:
        before = old_listeners.get(entry.get("name"), {})
        listeners.append(
            {**entry, "conditions": _conditions(before.get("conditions"), entry.get("conditions"), stamp)}
        )
    out["listeners"] = listeners
    return out


def merged_status(obj: Mapping[str, Any], translation: EgTranslation, stamp: str) -> Mapping[str, Any] | None:
    """The status EG's translator gives ``obj`` merged with what stays the scenario's, or None when the
    object keeps its own status entirely."""
    kind = obj.get("kind")
    if kind not in TRANSLATOR_KINDS or kind == "GatewayClass":
        return None
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    assert isinstance(meta, Mapping)
    computed = translation.status_of(str(kind), meta.get("namespace"), str(meta.get("name") or ""))
    ours = obj.get("status") if isinstance(obj.get("status"), Mapping) else {}
    assert isinstance(ours, Mapping)
    if computed is None:
        # Not translated (no EG GatewayClass, or a kind with no status): EG writes nothing, so EG's own
        # entries in the scenario's status are not EG's; other controllers' stay.
        if kind in ("Namespace", "Service", "Secret", "ConfigMap", "EndpointSlice"):
            return None
        computed = {}
    if kind == "Gateway":
        return _merge_gateway(ours, computed, stamp)
    if "parents" in computed or "parents" in ours:
        return {
            **ours,
            "parents": _merge_ref_entries(ours.get("parents"), computed.get("parents"), "parentRef", stamp),
        }
    if "ancestors" in computed or "ancestors" in ours:
        return {
            **ours,
            "ancestors": _merge_ref_entries(
                ours.get("ancestors"), computed.get("ancestors"), "ancestorRef", stamp
            ),
        }
    if not computed:
        return None
    # ListenerSet, Backend: conditions of their own (and per listener), stamped like a Gateway's
    out = {**ours, **computed}
    if "conditions" in computed:
        out["conditions"] = _conditions(ours.get("conditions"), computed.get("conditions"), stamp)
    if "listeners" in computed:
        before = {e.get("name"): e for e in ours.get("listeners") or [] if isinstance(e, Mapping)}
        out["listeners"] = [
            {
                **e,
                "conditions": _conditions(
                    before.get(e.get("name"), {}).get("conditions"), e.get("conditions"), stamp
                ),
            }
            for e in computed.get("listeners") or []
            if isinstance(e, Mapping)
        ]
    return out


def apply_statuses(
    objects: Iterable[Mapping[str, Any]],
    translation: EgTranslation,
    keep: Mapping[str, str],
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The objects as a cluster running EG would serve them."""
    stamp = _stamp(now)
    rejected = {str(r.get("object")) for r in translation.rejected}
    out = []
    for obj in objects:
        new = copy.deepcopy(dict(obj))
        key = object_key(obj)
        if key not in keep and key not in rejected:
            status = merged_status(obj, translation, stamp)
            if status is not None:
                new["status"] = status
        out.append(new)
    return out


def rejected_notes(translation: EgTranslation) -> Sequence[str]:
    return [f"{r.get('object')}: rejected by EG's schema: {r.get('error')}" for r in translation.rejected]
