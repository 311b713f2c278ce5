"""Kubernetes label selectors (matchLabels and matchExpressions), as metav1.LabelSelector defines them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from egdoctor.snapshot.objects import as_list, as_map


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """An empty selector matches everything, as in allowedRoutes; callers that treat an empty selector
    as matching nothing (policy targetSelectors) check for emptiness first."""
    for k, v in as_map(selector.get("matchLabels")).items():
        if labels.get(k) != v:
            return False
    for expr in as_list(selector.get("matchExpressions")):
        if not isinstance(expr, Mapping):
            continue
        key, op, values = expr.get("key"), expr.get("operator"), [str(v) for v in as_list(expr.get("values"))]
        present = key in labels
        if (
            (op == "In" and (not present or labels[str(key)] not in values))
            or (op == "NotIn" and present and labels[str(key)] in values)
            or (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
        ):
            return False
    return True


def selector_is_empty(selector: Mapping[str, Any]) -> bool:
    return not as_map(selector.get("matchLabels")) and not as_list(selector.get("matchExpressions"))
