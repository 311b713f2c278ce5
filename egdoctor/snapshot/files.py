"""Offline input: objects from YAML/JSON files, as `kubectl get -o yaml` prints them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from egdoctor.findings.model import ObjectRef
from egdoctor.snapshot import bounded_json
from egdoctor.snapshot.assemble import assemble, derive_envoy_services
from egdoctor.snapshot.kinds import KINDS, spec_for_object
from egdoctor.snapshot.model import Malformed, Snapshot, Source

_SUFFIXES = {".yaml", ".yml", ".json"}


class InputError(Exception):
    """A path that cannot be read at all (a usage error, not a finding)."""


def expand(paths: Iterable[str]) -> list[Path]:
    files: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"--from-file {text}: no such file or directory")
    return files


class _NoAliasLoader(yaml.SafeLoader):
    """kubectl never writes YAML aliases; refusing them keeps a small file from expanding into gigabytes.

    Unquoted timestamps stay strings, as the API server serves them: a `datetime` would be an object no
    JSON report can hold."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "YAML aliases are not supported", event.start_mark)
        return super().compose_node(parent, index)


_NoAliasLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _documents(path: Path) -> Iterator[Any]:
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() == ".json":
        yield bounded_json.loads(text)
        return
    yield from yaml.load_all(text, Loader=_NoAliasLoader)


_PARSE_ERRORS = (yaml.YAMLError, ValueError, OSError, RecursionError)
_DOCUMENT_START = re.compile(r"^---(?=\s|$)", re.MULTILINE)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _documents_one_by_one(path: Path) -> tuple[list[Any], list[tuple[int | None, BaseException]]]:
    """A multi-document YAML file whose whole parse failed, parsed again document by document (split at
    `---` lines, as kubectl writes them)."""
    if path.suffix.lower() == ".json":
        return [], []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return [], [(None, exc)]
    chunks = _DOCUMENT_START.split(text)
    if len(chunks) < 2:
        return [], []
    docs: list[Any] = []
    broken: list[tuple[int | None, BaseException]] = []
    for index, chunk in enumerate(c for c in chunks if c.strip()):
        try:
            docs.append(yaml.load(chunk, Loader=_NoAliasLoader))
        except _PARSE_ERRORS as exc:
            broken.append((index, exc))
    return docs, broken


def _flatten(doc: Any) -> Iterator[Any]:
    if (
        isinstance(doc, Mapping)
        and isinstance(doc.get("items"), list)
        and str(doc.get("kind", "")).endswith("List")
    ):
        for item in doc["items"]:
            yield from _flatten(item)
    elif doc is not None:
        yield doc


def load_files(paths: Iterable[str], namespaces: frozenset[str] | None) -> Snapshot:
    files = expand(paths)
    raw: dict[str, list[Mapping[str, Any]]] = {name: [] for name in KINDS}
    malformed: list[Malformed] = []
    for path in files:
        try:
            docs = list(_documents(path))
        except _PARSE_ERRORS as exc:
            # one broken document (a tenant object nested past the parser's limit, say) costs only itself
            docs, broken = _documents_one_by_one(path)
            if not docs:
                broken = [(None, exc)]
            for index, error in broken:
                where = str(path) if index is None else f"{path} (document {index + 1})"
                malformed.append(
                    Malformed(ObjectRef("File", None, where), f"cannot parse: {_first_line(error)}")
                )
        for doc in docs:
            for item in _flatten(doc):
                if not isinstance(item, Mapping) or not isinstance(item.get("kind"), str):
                    malformed.append(Malformed(ObjectRef("File", None, str(path)), "a document without kind"))
                    continue
                spec = spec_for_object(str(item.get("apiVersion", "")), item["kind"])
                if spec is not None:
                    raw[spec.name].append(item)
    raw["EnvoyService"] = list(derive_envoy_services(raw))
    # A dump holds what its author exported: a kind with no object in it was probably not exported.
    held = {name for name, items in raw.items() if items}
    if raw["Service"]:
        held.add("EnvoyService")
    source = Source("files", files=tuple(str(f) for f in files))
    return assemble(raw, namespaces, source, extra_malformed=malformed, fetched=held)
