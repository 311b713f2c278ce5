"""Causes first: a finding that is only the consequence of another is shown under it and counted once.

A listener's ResolvedRefs fails (EGD104) because its Secret does not exist (EGD401) because the
Certificate that should write it is not Ready (EGD403, EGD404, EGD405): the support engineer fixes the
Certificate, and the rest heals on its own. A route not Accepted (EGD202) because its namespace lacks the
opt-in label (EGD203) is fixed by the label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from egdoctor.findings.model import Finding


@dataclass(frozen=True)
class Rule:
    consequence: str
    causes: tuple[str, ...]
    same: str  # "listener": the same Gateway listener; "subject": the same object and Gateway


_RULES = (
    Rule("EGD104", ("EGD401",), "listener"),
    Rule("EGD401", ("EGD403", "EGD404", "EGD405", "EGD406"), "listener"),
    Rule("EGD202", ("EGD203",), "subject"),
)


def _related(rule: Rule, effect: Finding, cause: Finding) -> bool:
    if effect.gateway is None or cause.gateway is None or effect.gateway.key != cause.gateway.key:
        return False
    if rule.same == "listener":
        return effect.gateway.listener is not None and effect.gateway.listener == cause.gateway.listener
    return effect.subject is not None and effect.subject == cause.subject


def _direct_cause(findings: Sequence[Finding], index: int) -> int | None:
    effect = findings[index]
    for rule in _RULES:
        if rule.consequence != effect.code:
            continue
        for code in rule.causes:  # the table lists the likelier cause first
            for j, cause in enumerate(findings):
                if j != index and cause.code == code and _related(rule, effect, cause):
                    return j
    return None


def root_causes(findings: Sequence[Finding]) -> dict[int, int]:
    """Index of each consequence -> index of the finding at the root of its chain."""
    direct = {i: c for i in range(len(findings)) if (c := _direct_cause(findings, i)) is not None}
    roots = {}
    for i, cause in direct.items():
        seen = {i}
        while cause in direct and cause not in seen:  # the rules form no cycle; the guard is cheap
            seen.add(cause)
            cause = direct[cause]
        roots[i] = cause
    return roots
