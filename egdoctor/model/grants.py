"""ReferenceGrant semantics (Gateway API, apis/v1beta1/referencegrant_types.go): a grant in the target's
namespace lets objects of a kind in another namespace refer to a kind (or one named object) there."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from egdoctor.snapshot.objects import as_list, as_map


def reference_granted(
    grants: Iterable[Mapping[str, Any]],
    source: tuple[str, str, str],
    target: tuple[str, str, str, str],
) -> bool:
    """``source`` (group, kind, namespace) may refer to ``target`` (group, kind, namespace, name)."""
    from_group, from_kind, from_namespace = source
    to_group, to_kind, to_namespace, to_name = target
    for grant in grants:
        if as_map(grant.get("metadata")).get("namespace") != to_namespace:
            continue
        spec = as_map(grant.get("spec"))
        from_ok = any(
            isinstance(f, Mapping)
            and (f.get("group") or "") == from_group
            and f.get("kind") == from_kind
            and f.get("namespace") == from_namespace
            for f in as_list(spec.get("from"))
        )
        to_ok = any(
            isinstance(t, Mapping)
            and (t.get("group") or "") == to_group
            and t.get("kind") == to_kind
            and (not t.get("name") or t.get("name") == to_name)
            for t in as_list(spec.get("to"))
        )
        if from_ok and to_ok:
            return True
    return False
