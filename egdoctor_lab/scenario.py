"""Scenario files for the lab API server.

A scenario is a multi-document YAML file. Every document is an ordinary Kubernetes object written
exactly as a controller would have left it, except at most one settings document::

    apiVersion: lab.egdoctor.io/v1
    kind: LabScenario
    metadata: {name: shared-direct-healthy}
    description: one line for humans
    spec:
      context: {namespace: team-a}
      absentGroups: [cert-manager.io]
      absentKinds: [gateway.networking.k8s.io/TCPRoute]
      denials:
        - {verb: list, resource: services, namespace: envoy-gateway-system}
        - {verb: "*", resource: secrets}
      latencyMs: 0
      changes:            # what a controller does later: the object replaces its namesake N seconds
        - afterSeconds: 5 # after the server started (a Gateway that becomes Programmed part-way)
          object: {apiVersion: ..., kind: Gateway, metadata: {...}, status: {...}}

Unknown keys anywhere in the settings document are ignored, because other tools (expectations,
data-path set-up) keep their own sections in the same file.

Accepted forms beyond the basic contract, all optional:

* ``absentGroups`` entries may be ``group/version`` to drop a single served version of a group.
* ``absentKinds`` entries are ``group/Kind`` (core: ``Service``, ``v1/Service`` or ``core/Service``), or
  ``group/version/Kind`` to drop one version of a kind only; the plural name may stand in for the kind.
* a denial may list several values: ``verb``/``verbs``, ``resource``/``resources``, ``group``/``groups``.
* a document of ``kind: List`` contributes its ``items`` (the shape ``kubectl get -o yaml`` prints).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SETTINGS_API_GROUP = "lab.egdoctor.io"
SETTINGS_KIND = "LabScenario"
SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message is one line meant for a person."""


class YamlLoader(yaml.SafeLoader):
    """SafeLoader that leaves timestamps as strings.

    Kubernetes objects carry RFC 3339 times as strings; PyYAML would turn them into datetime objects
    that no longer serialise to JSON the way the API server sent them.
    """


YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_CORE_GROUP_ALIASES = {"", "core", "v1"}


def _core(group: str) -> str:
    return "" if group in _CORE_GROUP_ALIASES else group


def _str_tuple(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ScenarioError(f"{what} must be a string or a non-empty list of strings, got {value!r}")


@dataclass(frozen=True)
class Denial:
    """One RBAC gap: requests it matches are answered with 403 Forbidden.

    ``namespace`` None means every namespace and the cluster scope. A concrete namespace denies that
    namespace's requests and also all-namespaces requests for the resource: an identity lacking rights
    in one namespace cannot hold the ClusterRole a cluster-wide request needs. Cluster-scoped
    resources are only denied by denials without a namespace.
    """

    verbs: tuple[str, ...]
    resources: tuple[str, ...]
    namespace: str | None = None
    groups: tuple[str, ...] | None = None

    @classmethod
    def from_mapping(cls, raw: Any, index: int) -> Denial:
        where = f"spec.denials[{index}]"
        if not isinstance(raw, Mapping):
            raise ScenarioError(f"{where} must be a mapping, got {raw!r}")
        verb = raw.get("verb", raw.get("verbs", "*"))
        resource = raw.get("resource", raw.get("resources"))
        if resource is None:
            raise ScenarioError(f"{where} needs a resource (a plural such as services, or *)")
        group = raw.get("group", raw.get("groups"))
        namespace = raw.get("namespace")
        if namespace is not None and not isinstance(namespace, str):
            raise ScenarioError(f"{where}.namespace must be a string, got {namespace!r}")
        return cls(
            verbs=_str_tuple(verb, f"{where}.verb"),
            resources=_str_tuple(resource, f"{where}.resource"),
            namespace=None if namespace in (None, "", "*") else namespace,
            groups=None if group is None else tuple(_core(g) for g in _str_tuple(group, f"{where}.group")),
        )

    def matches(
        self,
        *,
        verb: str,
        group: str,
        resource: str,
        subresource: str | None,
        namespace: str | None,
        namespaced: bool,
    ) -> bool:
        """Whether this denial covers a request; ``namespace`` None is a cluster-scope request.

        A denial naming ``services`` also covers ``services/status``: a person writing it means the
        identity has no rights on services at all. ``services/status`` covers only the subresource.
        """
        if "*" not in self.verbs and verb not in self.verbs:
            return False
        if self.groups is not None and "*" not in self.groups and group not in self.groups:
            return False
        wanted = {"*", resource}
        if subresource:
            wanted |= {f"{resource}/{subresource}", f"{resource}/*"}
        if not wanted & set(self.resources):
            return False
        if self.namespace is None:
            return True
        if not namespaced:
            return False
        return namespace is None or namespace == self.namespace


_FAULT_REASONS = {
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
    429: "TooManyRequests",
    410: "Expired",
}
# A broken 200: a proxy's error page where JSON belongs, or a body cut off mid-way (Content-Length promises
# more than is sent, then the connection closes).
FAULT_BODIES = ("invalid-json", "truncated")


@dataclass(frozen=True)
class Fault:
    """A server-side failure for matching requests (an unhealthy aggregated API, an overloaded etcd):
    answered with ``code`` and a Status body after ``delay_ms``. Matching works like a denial. With
    ``succeed: true`` the request is only slow: after the delay it is served normally (a create that
    outlives the client's timeout and is persisted anyway).

    ``times`` limits the fault to the first N matching requests (an API that throttles, then recovers);
    ``retryAfter`` adds that header (seconds); ``continued: true`` matches only list pages that carry a
    continue token (an expired token answers 410); ``body`` answers 200 with a broken body instead of an
    error status (``invalid-json`` or ``truncated``). ``resource: discovery`` matches the discovery
    documents (``/api/v1``, ``/apis``, ``/apis/GROUP/VERSION``)."""

    match: Denial
    code: int = 500
    message: str = "Internal error occurred: injected by the lab"
    delay_ms: float = 0.0
    succeed: bool = False
    times: int | None = None
    retry_after: int | None = None
    continued: bool = False
    body: str | None = None

    @property
    def reason(self) -> str:
        return _FAULT_REASONS.get(self.code, "InternalError")

    @classmethod
    def from_mapping(cls, raw: Any, index: int) -> Fault:
        where = f"spec.faults[{index}]"
        if not isinstance(raw, Mapping):
            raise ScenarioError(f"{where} must be a mapping, got {raw!r}")
        code = raw.get("code", 500)
        delay = raw.get("delayMs", 0) or 0
        if isinstance(code, bool) or not isinstance(code, int) or not 400 <= code <= 599:
            raise ScenarioError(f"{where}.code must be an HTTP error status, got {code!r}")
        if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
            raise ScenarioError(f"{where}.delayMs must be a number >= 0, got {delay!r}")
        message = raw.get("message") or f"Internal error occurred: injected by the lab ({code})"
        succeed = raw.get("succeed", False)
        if not isinstance(succeed, bool):
            raise ScenarioError(f"{where}.succeed must be true or false, got {succeed!r}")
        times = raw.get("times")
        if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
            raise ScenarioError(f"{where}.times must be a whole number >= 1, got {times!r}")
        retry_after = raw.get("retryAfter")
        if retry_after is not None and (
            isinstance(retry_after, bool) or not isinstance(retry_after, int) or retry_after < 0
        ):
            raise ScenarioError(f"{where}.retryAfter must be whole seconds >= 0, got {retry_after!r}")
        continued = raw.get("continued", False)
        if not isinstance(continued, bool):
            raise ScenarioError(f"{where}.continued must be true or false, got {continued!r}")
        body = raw.get("body")
        if body is not None and body not in FAULT_BODIES:
            raise ScenarioError(f"{where}.body must be one of {', '.join(FAULT_BODIES)}, got {body!r}")
        return cls(
            Denial.from_mapping(raw, index),
            code,
            str(message),
            float(delay),
            succeed,
            times,
            retry_after,
            continued,
            body,
        )


@dataclass(frozen=True)
class LaterChange:
    """An object that replaces its namesake (same kind, namespace, name) ``after_seconds`` after the
    server started: a status a controller writes part-way through a run (`egdoctor check --wait`)."""

    after_seconds: float
    obj: Mapping[str, Any]

    @classmethod
    def from_mapping(cls, raw: Any, index: int) -> LaterChange:
        where = f"spec.changes[{index}]"
        if not isinstance(raw, Mapping):
            raise ScenarioError(f"{where} must be a mapping, got {raw!r}")
        after = raw.get("afterSeconds")
        if isinstance(after, bool) or not isinstance(after, int | float) or after < 0:
            raise ScenarioError(f"{where}.afterSeconds must be a number >= 0, got {after!r}")
        obj = raw.get("object")
        if not isinstance(obj, Mapping) or not isinstance(obj.get("kind"), str):
            raise ScenarioError(f"{where}.object must be a Kubernetes object with a kind")
        return cls(float(after), copy.deepcopy(dict(obj)))


@dataclass(frozen=True)
class LabSettings:
    """The parsed ``spec`` of a LabScenario document."""

    namespace: str = "default"
    absent_groups: frozenset[str] = frozenset()
    absent_group_versions: frozenset[tuple[str, str]] = frozenset()
    # (group or None for any group, version or None for every version, lower-case kind or plural)
    absent_kinds: frozenset[tuple[str | None, str | None, str]] = frozenset()
    denials: tuple[Denial, ...] = ()
    latency_ms: float = 0.0
    faults: tuple[Fault, ...] = ()
    # The most items one list page holds whatever `limit` the client asks (kube-apiserver may also answer
    # fewer than asked): small scenarios can then exercise paging. 0: no cap.
    page_cap: int = 0
    changes: tuple[LaterChange, ...] = ()

    @classmethod
    def from_mapping(cls, spec: Mapping[str, Any] | None) -> LabSettings:
        if spec is None:
            return cls()
        if not isinstance(spec, Mapping):
            raise ScenarioError(f"LabScenario spec must be a mapping, got {spec!r}")
        # Callers building scenarios in code may hand over the whole settings document.
        if spec.get("kind") == SETTINGS_KIND and isinstance(spec.get("spec"), Mapping | None):
            return cls.from_mapping(spec.get("spec"))

        context = spec.get("context") or {}
        if not isinstance(context, Mapping):
            raise ScenarioError(f"spec.context must be a mapping, got {context!r}")
        namespace = context.get("namespace") or "default"
        if not isinstance(namespace, str):
            raise ScenarioError(f"spec.context.namespace must be a string, got {namespace!r}")

        groups: set[str] = set()
        group_versions: set[tuple[str, str]] = set()
        for entry in _string_list(spec.get("absentGroups"), "spec.absentGroups"):
            if "/" in entry:
                group, version = entry.split("/", 1)
                group_versions.add((_core(group), version))
            else:
                groups.add(_core(entry))

        kinds: set[tuple[str | None, str | None, str]] = set()
        for entry in _string_list(spec.get("absentKinds"), "spec.absentKinds"):
            parts = entry.split("/")
            if len(parts) == 1:
                kinds.add((None, None, parts[0].lower()))
            elif len(parts) == 2:
                kinds.add((_core(parts[0]), None, parts[1].lower()))
            elif len(parts) == 3:
                kinds.add((_core(parts[0]), parts[1], parts[2].lower()))
            else:
                raise ScenarioError(
                    f"spec.absentKinds entry {entry!r} is not group/Kind or group/version/Kind"
                )

        raw_denials = spec.get("denials") or []
        if not isinstance(raw_denials, list):
            raise ScenarioError(f"spec.denials must be a list, got {raw_denials!r}")
        denials = tuple(Denial.from_mapping(d, i) for i, d in enumerate(raw_denials))

        raw_faults = spec.get("faults") or []
        if not isinstance(raw_faults, list):
            raise ScenarioError(f"spec.faults must be a list, got {raw_faults!r}")
        faults = tuple(Fault.from_mapping(f, i) for i, f in enumerate(raw_faults))

        latency = spec.get("latencyMs", 0) or 0
        if isinstance(latency, bool) or not isinstance(latency, int | float) or latency < 0:
            raise ScenarioError(f"spec.latencyMs must be a number >= 0, got {latency!r}")

        page_cap = spec.get("pageCap", 0) or 0
        if isinstance(page_cap, bool) or not isinstance(page_cap, int) or page_cap < 0:
            raise ScenarioError(f"spec.pageCap must be a whole number >= 0, got {page_cap!r}")

        raw_changes = spec.get("changes") or []
        if not isinstance(raw_changes, list):
            raise ScenarioError(f"spec.changes must be a list, got {raw_changes!r}")
        changes = tuple(LaterChange.from_mapping(c, i) for i, c in enumerate(raw_changes))

        return cls(
            namespace=namespace,
            absent_groups=frozenset(groups),
            absent_group_versions=frozenset(group_versions),
            absent_kinds=frozenset(kinds),
            denials=denials,
            latency_ms=float(latency),
            faults=faults,
            page_cap=page_cap,
            changes=changes,
        )


def _string_list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ScenarioError(f"{what} must be a list of strings, got {value!r}")
    return value


@dataclass
class Scenario:
    """A parsed scenario file."""

    name: str
    description: str
    objects: list[dict[str, Any]]
    settings: dict[str, Any]
    documents: list[Any] = field(default_factory=list)
    path: Path | None = None

    @property
    def lab_settings(self) -> LabSettings:
        return LabSettings.from_mapping(self.settings)


def is_settings_document(doc: Any) -> bool:
    if not isinstance(doc, Mapping) or doc.get("kind") != SETTINGS_KIND:
        return False
    api_version = doc.get("apiVersion")
    return isinstance(api_version, str) and api_version.split("/", 1)[0] == SETTINGS_API_GROUP


def builtin_scenarios(include_internal: bool = False) -> list[Path]:
    """Scenario files shipped with the lab; names starting with ``_`` are the lab's own fixtures."""
    if not SCENARIO_DIR.is_dir():
        return []
    return sorted(p for p in SCENARIO_DIR.glob("*.yaml") if include_internal or not p.name.startswith("_"))


def resolve_scenario_path(ref: str | Path) -> Path:
    """An existing file path, or a bare name looked up in ``egdoctor_lab/scenarios/<name>.yaml``."""
    path = Path(ref).expanduser()
    if path.is_file():
        return path.resolve()
    text = str(ref)
    if "/" not in text and "\\" not in text:
        stem = text[: -len(".yaml")] if text.endswith(".yaml") else text
        candidate = SCENARIO_DIR / f"{stem}.yaml"
        if candidate.is_file():
            return candidate
    if path.exists():
        raise ScenarioError(f"scenario {text!r} is not a regular file")
    builtin = ", ".join(p.stem for p in builtin_scenarios()) or "none"
    raise ScenarioError(
        f"scenario not found: {text!r} is neither a file nor a built-in scenario name (built-ins: {builtin})"
    )


def parse_scenario(text: str, *, source: str = "<scenario>", default_name: str = "scenario") -> Scenario:
    """Parse scenario YAML text; ``source`` only names the input in error messages."""
    try:
        documents = [d for d in yaml.load_all(text, Loader=YamlLoader) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ScenarioError(f"{source}: invalid YAML{where}: {problem}") from None
    return scenario_from_documents(documents, source=source, default_name=default_name)


def scenario_from_documents(
    documents: Iterable[Any], *, source: str = "<scenario>", default_name: str = "scenario"
) -> Scenario:
    docs = list(documents)
    settings_doc: Mapping[str, Any] | None = None
    objects: list[dict[str, Any]] = []
    for index, doc in enumerate(docs):
        if not isinstance(doc, dict):
            raise ScenarioError(f"{source}: document {index + 1} is not a mapping but {type(doc).__name__}")
        if is_settings_document(doc):
            if settings_doc is not None:
                raise ScenarioError(f"{source}: more than one {SETTINGS_KIND} document")
            settings_doc = doc
        elif doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            for item in doc["items"]:
                if not isinstance(item, dict):
                    raise ScenarioError(
                        f"{source}: document {index + 1} has a List item that is not a mapping"
                    )
                objects.append(copy.deepcopy(item))
        else:
            objects.append(copy.deepcopy(doc))

    settings: dict[str, Any] = {}
    name, description = default_name, ""
    if settings_doc is not None:
        spec = settings_doc.get("spec")
        if spec is not None and not isinstance(spec, dict):
            raise ScenarioError(f"{source}: {SETTINGS_KIND} spec must be a mapping")
        settings = copy.deepcopy(spec or {})
        meta = settings_doc.get("metadata")
        if isinstance(meta, Mapping) and isinstance(meta.get("name"), str) and meta["name"]:
            name = meta["name"]
        raw_description = settings_doc.get("description", settings.get("description", ""))
        description = raw_description if isinstance(raw_description, str) else ""
    try:
        LabSettings.from_mapping(settings)
    except ScenarioError as exc:
        raise ScenarioError(f"{source}: {exc}") from None
    # Certificates are made at load time so that their validity is relative to now and tests never rot.
    from egdoctor_lab.certs import CertSpecError, fill_certificates

    try:
        fill_certificates(objects)
    except CertSpecError as exc:
        raise ScenarioError(f"{source}: {exc}") from None
    return Scenario(name=name, description=description, objects=objects, settings=settings, documents=docs)


def load_scenario(ref: str | Path) -> Scenario:
    """Load a scenario from any path, or from a built-in scenario name."""
    path = resolve_scenario_path(ref)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read scenario {str(path)!r}: {exc}") from None
    scenario = parse_scenario(text, source=str(path), default_name=path.stem)
    scenario.path = path
    return scenario
