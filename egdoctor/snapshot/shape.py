"""Shape rules for loaded objects, and the Secret sanitiser.

Checks read objects defensively, but an object whose basic shape is wrong (a listener list that is a
string, a port that is text) is reported once as EGD004 and left out, instead of confusing every check.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

# path -> expected type; "[]" walks every item of a list; a trailing "?" marks the last field optional
# (a missing container on the way is left to that container's own rule).
_STR, _INT, _LIST, _MAP, _BOOL = str, int, list, dict, bool
_RULES: dict[str, list[tuple[str, type]]] = {
    "Gateway": [
        ("spec", _MAP),
        ("spec.gatewayClassName", _STR),
        ("spec.listeners", _LIST),
        ("spec.listeners[]?", _MAP),
        ("spec.listeners[].name", _STR),
        ("spec.listeners[].port", _INT),
        ("spec.listeners[].protocol", _STR),
        ("spec.listeners[].hostname?", _STR),
        ("status?", _MAP),
        ("status.conditions?", _LIST),
        ("status.listeners?", _LIST),
        ("status.addresses?", _LIST),
    ],
    "GatewayClass": [("spec", _MAP), ("spec.controllerName", _STR), ("status.conditions?", _LIST)],
    "HTTPRoute": [
        ("spec", _MAP),
        ("spec.parentRefs?", _LIST),
        ("spec.parentRefs[]?", _MAP),
        ("spec.parentRefs[].name", _STR),
        ("spec.hostnames?", _LIST),
        ("spec.rules?", _LIST),
        ("spec.rules[]?", _MAP),
        ("spec.rules[].backendRefs?", _LIST),
        ("status.parents?", _LIST),
    ],
    "ClientTrafficPolicy": [
        ("spec", _MAP),
        ("spec.targetRefs?", _LIST),
        ("spec.targetRefs[]?", _MAP),
        ("spec.targetRef?", _MAP),
        ("spec.proxyProtocol?", _MAP),
        ("spec.enableProxyProtocol?", _BOOL),
        ("spec.clientIPDetection?", _MAP),
        ("status.ancestors?", _LIST),
    ],
    "Service": [("spec", _MAP), ("spec.ports?", _LIST), ("metadata.annotations?", _MAP)],
    "Namespace": [("metadata.labels?", _MAP)],
}
for _route in ("GRPCRoute", "TCPRoute", "TLSRoute"):
    _RULES[_route] = _RULES["HTTPRoute"]
for _policy in ("BackendTrafficPolicy", "SecurityPolicy", "BackendTLSPolicy"):
    _RULES[_policy] = [
        ("spec", _MAP),
        ("spec.targetRefs?", _LIST),
        ("spec.targetRefs[]?", _MAP),
        ("spec.targetRef?", _MAP),
        ("status.ancestors?", _LIST),
    ]
_RULES["EnvoyService"] = _RULES["Service"]


# Each rule split into its steps once, not once per object.
_PARSED: dict[str, list[tuple[list[str], type, bool]]] = {
    kind: [(path.rstrip("?").split("."), expected, path.endswith("?")) for path, expected in rules]
    for kind, rules in _RULES.items()
}
# what a JSON parser and the snapshot make: tested by exact type before the slower ABC check
_PLAIN_MAPS = (dict, MappingProxyType)


def problem(kind: str, raw: Any) -> str | None:
    """Why `raw` is not a usable object of `kind`, or None."""
    if not isinstance(raw, Mapping):
        return "not a mapping"
    meta = raw.get("metadata")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str) or not meta.get("name"):
        return "metadata.name is missing"
    if meta.get("namespace") is not None and not isinstance(meta.get("namespace"), str):
        return "metadata.namespace should be a string"
    for field_name in ("labels", "annotations"):
        values = meta.get(field_name)
        if values is not None and (
            not isinstance(values, Mapping) or not all(isinstance(v, str) for v in values.values())
        ):
            return f"metadata.{field_name} should map strings to strings"
    for steps, expected, optional in _PARSED.get(kind, ()):
        err = _check(raw, steps, expected, optional, "")
        if err:
            return err
    return None


def _check(value: Any, steps: list[str], expected: type, optional: bool, where: str) -> str | None:
    step, rest = steps[0], steps[1:]
    items = step.endswith("[]")
    key = step[:-2] if items else step
    if type(value) not in _PLAIN_MAPS and not isinstance(value, Mapping):
        return f"{where or 'the object'} should be a mapping"
    child = value.get(key)
    here = f"{where}.{key}" if where else key
    if child is None:
        # a missing container is judged by its own rule; only the last step's absence counts here
        return None if optional or rest else f"{here} is missing"
    if items:
        if not isinstance(child, list | tuple):
            return f"{here} is not a list"
        for i, item in enumerate(child):
            target = f"{here}[{i}]"
            if not rest:
                if not _is(item, expected):
                    return f"{target} should be {_name(expected)}, not {_name(type(item))}"
                continue
            err = _check(item, rest, expected, optional, target)
            if err:
                return err
        return None
    if rest:
        return _check(child, rest, expected, optional, here)
    if not _is(child, expected):
        return f"{here} should be {_name(expected)}, not {_name(type(child))} ({child!r:.40})"
    return None


def _is(value: Any, expected: type) -> bool:
    if expected is dict:
        return type(value) in _PLAIN_MAPS or isinstance(value, Mapping)
    if expected is list:
        return isinstance(value, list | tuple)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def _name(t: type) -> str:
    return {dict: "a mapping", list: "a list", int: "an integer", str: "a string", bool: "a boolean"}.get(
        t, t.__name__
    )


# Only the certificate is kept. Annotations go too: kubectl's last-applied-configuration annotation holds
# the whole Secret, private key included.
_KEPT_SECRET_ANNOTATION_PREFIXES = ("cert-manager.io/",)


def sanitize_secret(raw: Mapping[str, Any]) -> dict[str, Any]:
    meta = raw.get("metadata") if isinstance(raw.get("metadata"), Mapping) else {}
    assert isinstance(meta, Mapping)
    annotations = meta.get("annotations") if isinstance(meta.get("annotations"), Mapping) else {}
    assert isinstance(annotations, Mapping)
    data = raw.get("data") if isinstance(raw.get("data"), Mapping) else {}
    assert isinstance(data, Mapping)
    kept: dict[str, Any] = {
        "apiVersion": raw.get("apiVersion", "v1"),
        "kind": "Secret",
        "metadata": {
            k: meta[k] for k in ("name", "namespace", "uid", "creationTimestamp", "labels") if k in meta
        },
        "type": raw.get("type"),
        # which keys exist (never their values) lets checks tell an empty Secret from a wrong one
        # a Secret read back from a support bundle was sanitised already: its recorded key names stay
        "dataKeys": sorted({str(k) for k in data} | _recorded_keys(raw.get("dataKeys"))),
    }
    kept["metadata"]["annotations"] = {
        k: v for k, v in annotations.items() if str(k).startswith(_KEPT_SECRET_ANNOTATION_PREFIXES)
    }
    if isinstance(data.get("tls.crt"), str):
        kept["data"] = {"tls.crt": data["tls.crt"]}
    return kept


def _recorded_keys(value: Any) -> set[str]:
    if not isinstance(value, list):
        return set()
    return {k for k in value if isinstance(k, str)}
