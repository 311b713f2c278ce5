"""Offline input: objects from YAML/JSON files, as `kubectl get -o yaml` prints them."""

from __future__ import annotations

import json
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
    """A path that cannot be read at all, or inputs of which none holds an object (a usage error, not a
    finding: a report on nothing would read as a pass)."""


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


def _documents_one_by_one(path: Path) -> tuple[list[tuple[int, Any]], list[tuple[int, BaseException]]]:
    """A multi-document YAML file whose whole parse failed, parsed again document by document (split at
    `---` lines, as kubectl writes them). Documents and errors carry their document's number; an error's
    mark counts lines from the top of the file, so that FILE:LINE:COLUMN points where an editor should
    jump."""
    if path.suffix.lower() == ".json":
        return [], []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return [], []
    separators = list(_DOCUMENT_START.finditer(text))
    if not separators:
        return [], []
    starts = [0] + [m.end() for m in separators]
    ends = [m.start() for m in separators] + [len(text)]
    docs: list[tuple[int, Any]] = []
    broken: list[tuple[int, BaseException]] = []
    number = 0
    for start, end in zip(starts, ends, strict=True):
        chunk = text[start:end]
        if not chunk.strip():
            continue
        number += 1
        # blank lines in front shift the parser's marks to the chunk's place in the file
        try:
            docs.append((number, yaml.load("\n" * text.count("\n", 0, start) + chunk, Loader=_NoAliasLoader)))
        except _PARSE_ERRORS as exc:
            broken.append((number, exc))
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


def parse_problem(path: Path, exc: BaseException) -> str:
    """`FILE:LINE:COLUMN: what` (1-based, like compilers), so an editor can jump to it."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        what = exc.problem or exc.context or "invalid YAML"
        return f"{path}:{mark.line + 1}:{mark.column + 1}: {what}"
    if isinstance(exc, json.JSONDecodeError):
        return f"{path}:{exc.lineno}:{exc.colno}: {exc.msg}"
    if isinstance(exc, yaml.reader.ReaderError):
        return f"{path}: not a text file (a binary character at byte {exc.position})"
    if isinstance(exc, RecursionError):
        return f"{path}: nested too deeply to read"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{path}: {first}"


def load_files(paths: Iterable[str], namespaces: frozenset[str] | None) -> Snapshot:
    paths = list(paths)
    files = expand(paths)
    raw: dict[str, list[Mapping[str, Any]]] = {name: [] for name in KINDS}
    malformed: list[Malformed] = []
    unreadable: list[str] = []  # why each file that gave no object gave none
    objects = 0
    for path in files:
        problems: list[str] = []  # FILE:LINE:COLUMN of each document that did not parse
        try:
            docs = list(enumerate(_documents(path), start=1))
        except _PARSE_ERRORS as exc:
            # one broken document (a tenant object nested past the parser's limit, say) costs only itself
            docs, broken = _documents_one_by_one(path)
            if not docs:
                problem = parse_problem(path, exc)
                unreadable.append(problem)
                malformed.append(Malformed(ObjectRef("File", None, str(path)), f"cannot parse {problem}"))
                continue
            for number, error in broken:
                problems.append(parse_problem(path, error))
                where = ObjectRef("File", None, f"{path} (document {number})")
                malformed.append(Malformed(where, f"cannot parse {problems[-1]}"))
        found = 0
        for number, doc in docs:
            for item in _flatten(doc):
                if not isinstance(item, Mapping) or not isinstance(item.get("kind"), str):
                    malformed.append(
                        Malformed(ObjectRef("File", None, str(path)), f"document {number} has no kind")
                    )
                    continue
                found += 1
                spec = spec_for_object(str(item.get("apiVersion", "")), item["kind"])
                if spec is not None:
                    raw[spec.name].append(item)
        if not found:
            unreadable.append(
                problems[0] if problems else f"{path}: no Kubernetes object (no document with a kind)"
            )
        objects += found
    if not objects:
        if not files:
            raise InputError(f"--from-file {', '.join(paths)}: no .yaml, .yml or .json file in it")
        more = f" (and {len(unreadable) - 1} more file(s))" if len(unreadable) > 1 else ""
        raise InputError(f"--from-file: nothing to diagnose: {unreadable[0]}{more}")
    raw["EnvoyService"] = list(derive_envoy_services(raw))
    # A dump holds what its author exported: a kind with no object in it was probably not exported.
    held = {name for name, items in raw.items() if items}
    if raw["Service"]:
        held.add("EnvoyService")
    source = Source("files", files=tuple(str(f) for f in files))
    return assemble(raw, namespaces, source, extra_malformed=malformed, fetched=held)
