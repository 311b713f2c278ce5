"""The verdicts Envoy Gateway writes into an object's status, read the same way for every kind.

A condition has a negative meaning when it is False for a positive type (Accepted, ResolvedRefs,
Programmed...) or True for a type that names a problem (Conflicted, Overridden, PartiallyInvalid,
OverlappingTLSConfig, Degraded, Invalid). Where a verdict sits: the object's own ``status.conditions``
(GatewayClass, Gateway, ListenerSet, Backend), a listener's (``status.listeners[]``), a route's parent
(``status.parents[]``) or a policy's ancestor (``status.ancestors[]``); only Envoy Gateway's entries count
(EG writes EnvoyProxy ancestors without a controllerName).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from egdoctor.model.topology import EG_CONTROLLER
from egdoctor.snapshot.objects import Obj, as_list, as_map

NEGATIVE_WHEN_TRUE = frozenset(
    {"Conflicted", "Overridden", "PartiallyInvalid", "OverlappingTLSConfig", "Degraded", "Invalid"}
)
# True-only notes EG writes beside an accepted object (internal/gatewayapi/status): not a failure.
NOTES = frozenset({"Warning", "Merged", "Aggregated", "RouteRulesOverlap", "InsecureFrontendValidationMode"})


def negative(condition: Mapping[str, Any]) -> bool:
    ctype, status = str(condition.get("type") or ""), str(condition.get("status") or "")
    if ctype in NOTES:
        return False
    return status == "True" if ctype in NEGATIVE_WHEN_TRUE else status == "False"


@dataclass(frozen=True)
class Verdict:
    condition: Mapping[str, Any]
    listener: str | None = None  # a Gateway's or ListenerSet's listener
    ref: Mapping[str, Any] | None = None  # the route's parentRef or the policy's ancestorRef

    @property
    def type(self) -> str:
        return str(self.condition.get("type") or "")

    @property
    def status(self) -> str:
        return str(self.condition.get("status") or "")

    @property
    def reason(self) -> str:
        return str(self.condition.get("reason") or "")

    @property
    def message(self) -> str:
        return str(self.condition.get("message") or "")

    def ref_text(self, default_namespace: str | None) -> str:
        if self.ref is None:
            return ""
        ns = self.ref.get("namespace") or default_namespace or ""
        kind = self.ref.get("kind") or "Gateway"
        section = self.ref.get("sectionName")
        return f"{kind} {ns}/{self.ref.get('name')}" + (f" section {section}" if section else "")


def _ours(entry: Mapping[str, Any]) -> bool:
    return entry.get("controllerName") in (EG_CONTROLLER, None)


def verdicts(obj: Obj) -> tuple[Verdict, ...]:
    """Every condition with a negative meaning EG wrote on ``obj`` (worked out once per object: several
    checks ask)."""
    return obj.derived("verdicts", _verdicts)


def _verdicts(obj: Obj) -> tuple[Verdict, ...]:
    return tuple(_negative_conditions(obj))


def _negative_conditions(obj: Obj) -> Iterator[Verdict]:
    status = obj.status
    for cond in as_list(status.get("conditions")):
        if isinstance(cond, Mapping) and negative(cond):
            yield Verdict(cond)
    for entry in as_list(status.get("listeners")):
        entry = as_map(entry)
        for cond in as_list(entry.get("conditions")):
            if isinstance(cond, Mapping) and negative(cond):
                yield Verdict(cond, listener=str(entry.get("name") or ""))
    for list_key, ref_key in (("parents", "parentRef"), ("ancestors", "ancestorRef")):
        for entry in as_list(status.get(list_key)):
            entry = as_map(entry)
            if not _ours(entry):
                continue
            for cond in as_list(entry.get("conditions")):
                if isinstance(cond, Mapping) and negative(cond):
                    yield Verdict(cond, ref=as_map(entry.get(ref_key)))
