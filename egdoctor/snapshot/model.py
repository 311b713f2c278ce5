"""The snapshot: one immutable picture of every object the checks need, and what could not be read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from egdoctor.findings.model import ObjectRef
from egdoctor.snapshot.objects import Obj


@dataclass(frozen=True)
class AccessProblem:
    """A kind that could not be read (or only partly): the reason decides the finding code."""

    input: str  # KindSpec.name
    reason: str  # "forbidden" | "absent" | "error"
    verb: str
    resource: str
    namespace: str | None  # None: cluster-wide or cluster-scoped
    message: str


@dataclass(frozen=True)
class Malformed:
    subject: ObjectRef
    reason: str


@dataclass(frozen=True)
class Source:
    mode: str  # "cluster" | "files"
    server: str = ""
    context: str = ""
    files: tuple[str, ...] = ()
    # read back from a support bundle: its path and when it was recorded (mode stays "cluster", so the
    # checks judge the recorded objects exactly as they judged them live)
    bundle: str = ""
    recorded_at: str = ""


@dataclass(frozen=True)
class Snapshot:
    objects: Mapping[str, tuple[Obj, ...]]
    namespaces: frozenset[str] | None  # the asked namespaces; None = every namespace
    source: Source
    problems: tuple[AccessProblem, ...] = ()
    malformed: tuple[Malformed, ...] = ()
    # inputs whose objects the snapshot really holds (listed from the cluster, or present in the files):
    # an object absent from a kind not in here is unknown, not missing
    fetched: frozenset[str] = frozenset()
    # (input, namespace or None for cluster-wide) of every list that succeeded, so a check can tell an
    # empty namespace from one that was never read
    listed: frozenset[tuple[str, str | None]] = frozenset()
    _index: Mapping[tuple[str, str | None, str], Obj] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(
        cls,
        objects: Mapping[str, list[Obj]],
        namespaces: frozenset[str] | None,
        source: Source,
        problems: list[AccessProblem] | tuple[AccessProblem, ...] = (),
        malformed: list[Malformed] | tuple[Malformed, ...] = (),
        fetched: frozenset[str] | set[str] = frozenset(),
        listed: frozenset[tuple[str, str | None]] | set[tuple[str, str | None]] = frozenset(),
    ) -> Snapshot:
        ordered = {k: tuple(sorted(v, key=lambda o: (o.namespace or "", o.name))) for k, v in objects.items()}
        index = {(k, o.namespace, o.name): o for k, objs in ordered.items() for o in objs}
        return cls(
            objects=MappingProxyType(ordered),
            namespaces=namespaces,
            source=source,
            problems=tuple(problems),
            malformed=tuple(malformed),
            fetched=frozenset(fetched),
            listed=frozenset(listed),
            _index=MappingProxyType(index),
        )

    def of(self, name: str) -> tuple[Obj, ...]:
        return self.objects.get(name, ())

    def get(self, name: str, namespace: str | None, obj_name: str) -> Obj | None:
        return self._index.get((name, namespace, obj_name))

    def problems_for(self, name: str) -> tuple[AccessProblem, ...]:
        return tuple(p for p in self.problems if p.input == name)

    def in_scope(self, namespace: str | None) -> bool:
        return self.namespaces is None or namespace in self.namespaces
