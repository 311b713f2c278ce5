"""Immutable Kubernetes objects as the checks see them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeVar, cast

from egdoctor.findings.model import ObjectRef

# No Kubernetes schema nests anywhere near this deep; free-form fields (a cert-manager webhook `config`)
# can, and a tenant can make them nest until any recursive walk overflows the stack.
MAX_NESTING = 100


class NestingTooDeep(ValueError):
    """An object nested deeper than MAX_NESTING: reported as malformed instead of crashing a walk."""


_SCALARS = (str, int, float, bool, type(None))
T = TypeVar("T")


def freeze(value: Any, depth: int = 0) -> Any:
    if depth > MAX_NESTING:
        raise NestingTooDeep(f"nested more than {MAX_NESTING} levels deep")
    # Exact-type fast paths for what a JSON parser makes: the ABC checks below cost most of a snapshot's
    # assembly on thousands of objects.
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        return MappingProxyType({k: freeze(v, depth + 1) for k, v in value.items()})
    if kind is list:
        return tuple([freeze(v, depth + 1) for v in value])
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v, depth + 1) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v, depth + 1) for v in value)
    return value


def thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def dig(value: Any, *path: str | int, default: Any = None) -> Any:
    """Walk mappings and sequences; any missing step or wrong type yields `default`."""
    for step in path:
        if isinstance(step, int):
            if (
                not isinstance(value, Sequence)
                or isinstance(value, str)
                or not -len(value) <= step < len(value)
            ):
                return default
            value = value[step]
        else:
            if type(value) is not MappingProxyType and not isinstance(value, Mapping):
                return default
            if step not in value:
                return default
            value = value[step]
    return value


_EMPTY_MAP: Mapping[str, Any] = MappingProxyType({})


def as_list(value: Any) -> tuple[Any, ...]:
    if type(value) is tuple:  # what freezing makes: the common case, without the ABC check
        return value
    return tuple(value) if isinstance(value, Sequence) and not isinstance(value, str) else ()


def as_map(value: Any) -> Mapping[str, Any]:
    if type(value) is MappingProxyType:
        return value
    return value if isinstance(value, Mapping) else _EMPTY_MAP


class Obj:
    """A read-only Kubernetes object; `raw` is the deep-frozen JSON form."""

    __slots__ = ("_derived", "_ref", "raw")

    def __init__(self, raw: Mapping[str, Any], kind: str | None = None):
        self._derived: dict[str, Any] = {}
        self.raw: Mapping[str, Any] = raw if isinstance(raw, MappingProxyType) else freeze(raw)
        meta = as_map(self.raw.get("metadata"))
        self._ref = ObjectRef(
            kind or str(self.raw.get("kind", "")), meta.get("namespace"), str(meta.get("name", ""))
        )

    @property
    def ref(self) -> ObjectRef:
        return self._ref

    @property
    def kind(self) -> str:
        return self._ref.kind

    @property
    def name(self) -> str:
        return self._ref.name

    @property
    def namespace(self) -> str | None:
        return self._ref.namespace

    @property
    def key(self) -> tuple[str | None, str]:
        return (self._ref.namespace, self._ref.name)

    @property
    def metadata(self) -> Mapping[str, Any]:
        return as_map(self.raw.get("metadata"))

    @property
    def labels(self) -> Mapping[str, str]:
        return as_map(self.metadata.get("labels"))

    @property
    def annotations(self) -> Mapping[str, str]:
        return as_map(self.metadata.get("annotations"))

    @property
    def spec(self) -> Mapping[str, Any]:
        return as_map(self.raw.get("spec"))

    @property
    def status(self) -> Mapping[str, Any]:
        return as_map(self.raw.get("status"))

    @property
    def creation(self) -> str:
        return str(self.metadata.get("creationTimestamp") or "")

    def get(self, *path: str | int, default: Any = None) -> Any:
        return dig(self.raw, *path, default=default)

    def derived(self, name: str, compute: Callable[[Obj], T]) -> T:
        """`compute(self)`, worked out once: a value several checks derive from the same frozen object."""
        if name not in self._derived:
            self._derived[name] = compute(self)
        return cast(T, self._derived[name])

    def __repr__(self) -> str:
        return f"Obj({self._ref})"


def conditions(status_holder: Any) -> dict[str, Mapping[str, Any]]:
    """Conditions of a status (or status-like mapping) by type; a status, reason or message that is not a
    string (a status written by something other than a controller) is read as its text."""
    out: dict[str, Mapping[str, Any]] = {}
    for cond in as_list(dig(status_holder, "conditions")):
        if (type(cond) is MappingProxyType or isinstance(cond, Mapping)) and isinstance(
            cond.get("type"), str
        ):
            out[cond["type"]] = _textual(cond)
    return out


_CONDITION_TEXT = ("status", "reason", "message")


def _textual(cond: Mapping[str, Any]) -> Mapping[str, Any]:
    status, reason, message = cond.get("status"), cond.get("reason"), cond.get("message")
    if (
        (status is None or type(status) is str)
        and (reason is None or type(reason) is str)
        and (message is None or type(message) is str)
    ):
        return cond
    return {**cond, **{k: str(cond[k]) for k in _CONDITION_TEXT if cond.get(k) is not None}}


def condition_true(conds: Mapping[str, Mapping[str, Any]], ctype: str) -> bool | None:
    """True/False from the condition, None when the condition is absent."""
    cond = conds.get(ctype)
    if cond is None:
        return None
    return str(cond.get("status")) == "True"


def iter_objs(objs: Sequence[Obj], namespace: str | None = None) -> Iterator[Obj]:
    for o in objs:
        if namespace is None or o.namespace == namespace:
            yield o
