"""Read a support bundle back into a snapshot and the recorded probe report.

A bundle arrives from someone else, so it is read as hostile: members are read into memory (never
extracted), only the names egdoctor writes are accepted, links and devices are refused, and the file,
each member and the number of members are bounded before anything is decompressed into memory."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from egdoctor.bundle.probe_codec import BadProbeRecord, probe_report_from_json
from egdoctor.findings.model import ObjectRef
from egdoctor.probes.model import ProbeReport
from egdoctor.snapshot import bounded_json
from egdoctor.snapshot.assemble import assemble
from egdoctor.snapshot.kinds import KINDS
from egdoctor.snapshot.model import AccessProblem, Malformed, Snapshot, Source

MAX_BUNDLE_BYTES = 256 * 1024 * 1024  # compressed, on disk
MAX_MEMBER_BYTES = 256 * 1024 * 1024  # one member, uncompressed
MAX_TOTAL_BYTES = 512 * 1024 * 1024  # every member together, uncompressed
MAX_MEMBERS = 4 * len(KINDS) + 8
_FIXED = {"manifest.json", "snapshot.json", "probes.json"}


class BundleError(Exception):
    """The file is not a bundle egdoctor can read; the message says why in one line."""


@dataclass(frozen=True)
class Bundle:
    snapshot: Snapshot
    probes: ProbeReport | None
    manifest: Mapping[str, Any]
    created: datetime


def read_bundle(path: str) -> Bundle:
    members = _members(path)
    for required in ("manifest.json", "snapshot.json"):
        if required not in members:
            raise BundleError(f"{path}: not an egdoctor bundle (no {required})")
    manifest = _map(members["manifest.json"], "manifest.json")
    if manifest.get("bundleVersion") != 1:
        raise BundleError(
            f"{path}: bundle version {manifest.get('bundleVersion')!r} is not one this egdoctor reads"
        )
    created = _created(manifest.get("createdAt"), path)
    snapshot = _snapshot(members, path, created)
    probes = None
    if "probes.json" in members:
        note = (
            f"recorded evidence: these probe results were recorded at {manifest.get('createdAt')} by "
            f"egdoctor {manifest.get('egdoctor')} and read from the bundle, not sent again"
        )
        try:
            probes = probe_report_from_json(members["probes.json"], note)
        except BadProbeRecord as exc:
            raise BundleError(f"{path}: probes.json: {exc}") from None
    return Bundle(snapshot, probes, manifest, created)


def _members(path: str) -> dict[str, Any]:
    file = Path(path)
    try:
        size = file.stat().st_size
    except OSError as exc:
        raise BundleError(f"--from-bundle {path}: {exc.strerror or exc}") from None
    if not file.is_file():
        raise BundleError(f"--from-bundle {path}: not a file")
    if size > MAX_BUNDLE_BYTES:
        raise BundleError(f"{path}: {size} bytes, more than a bundle may be ({MAX_BUNDLE_BYTES})")
    out: dict[str, Any] = {}
    total = 0
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            for count, member in enumerate(_iterate(tar), start=1):
                if count > MAX_MEMBERS:
                    raise BundleError(f"{path}: more than {MAX_MEMBERS} members")
                name = _accepted_name(member, path)
                if member.size > MAX_MEMBER_BYTES or total + member.size > MAX_TOTAL_BYTES:
                    raise BundleError(f"{path}: member {name} is too large ({member.size} bytes)")
                stream = tar.extractfile(member)
                if stream is None:
                    raise BundleError(f"{path}: member {name} cannot be read")
                data = stream.read(member.size + 1)
                if len(data) != member.size:
                    raise BundleError(f"{path}: member {name} is not the size its header says")
                total += len(data)
                if name in out:
                    raise BundleError(f"{path}: member {name} appears twice")
                out[name] = _parse(data, name, path)
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        if isinstance(exc, BundleError):
            raise
        raise BundleError(f"{path}: not a readable tar.gz ({type(exc).__name__}: {exc})") from None
    return out


def _iterate(tar: tarfile.TarFile) -> Any:
    while True:
        member = tar.next()
        if member is None:
            return
        yield member


def _accepted_name(member: tarfile.TarInfo, path: str) -> str:
    name = member.name
    shown = json.dumps(name[:80])
    if not member.isfile():
        raise BundleError(f"{path}: member {shown} is not a regular file (links and devices are refused)")
    if name in _FIXED:
        return name
    if name.startswith("objects/") and name.endswith(".json") and name[8:-5] in KINDS:
        return name
    raise BundleError(f"{path}: member {shown} is not one egdoctor writes")


def _parse(data: bytes, name: str, path: str) -> Any:
    try:
        return bounded_json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"{path}: member {name} is not JSON ({exc})") from None


def _created(value: Any, path: str) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is not None:
                return parsed
        except ValueError:
            pass
    raise BundleError(f"{path}: manifest.json createdAt is not a time with a zone")


def _snapshot(members: Mapping[str, Any], path: str, created: datetime) -> Snapshot:
    recorded = _map(members["snapshot.json"], "snapshot.json")
    raw: dict[str, list[Any]] = {}
    for name, document in members.items():
        if name.startswith("objects/"):
            items = _map(document, name).get("items")
            if not isinstance(items, list):
                raise BundleError(f"{path}: member {name} has no items list")
            raw[name[8:-5]] = items
    namespaces = recorded.get("namespaces")
    if namespaces is not None and not _strings(namespaces):
        raise BundleError(f"{path}: snapshot.json namespaces is not a list of names")
    fetched = recorded.get("fetched") or []
    if not _strings(fetched):
        raise BundleError(f"{path}: snapshot.json fetched is not a list of kinds")
    try:
        problems = [AccessProblem(**_problem(p)) for p in recorded.get("problems") or []]
        malformed = [_malformed(m) for m in recorded.get("malformed") or []]
        listed = {_listed(entry) for entry in recorded.get("listed") or []}
    except (TypeError, ValueError) as exc:
        raise BundleError(f"{path}: snapshot.json: {exc}") from None
    source = Source(
        "cluster",
        server=_text(recorded.get("server")),
        context=_text(recorded.get("context")),
        bundle=path,
        recorded_at=created.isoformat(timespec="seconds").replace("+00:00", "Z"),
    )
    return assemble(
        raw,
        frozenset(namespaces) if namespaces is not None else None,
        source,
        problems,
        extra_malformed=malformed,
        fetched=[f for f in fetched if f in KINDS],
        listed=listed,
    )


def _problem(value: Any) -> dict[str, Any]:
    m = _map(value, "a problem")
    fields = ("input", "reason", "verb", "resource", "namespace", "message")
    out = {k: m.get(k) for k in fields}
    if not all(isinstance(out[k], str) for k in fields if k != "namespace") or not isinstance(
        out["namespace"], str | None
    ):
        raise ValueError("a problem entry is not what egdoctor writes")
    return out


def _malformed(value: Any) -> Malformed:
    m = _map(value, "a malformed entry")
    obj = _map(m.get("object"), "a malformed object")
    kind, namespace, name, reason = obj.get("kind"), obj.get("namespace"), obj.get("name"), m.get("reason")
    if not (isinstance(kind, str) and isinstance(name, str) and isinstance(reason, str)):
        raise ValueError("a malformed entry is not what egdoctor writes")
    return Malformed(ObjectRef(kind, namespace if isinstance(namespace, str) else None, name), reason)


def _listed(value: Any) -> tuple[str, str | None]:
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)):
        raise ValueError("a listed entry is not [kind, namespace]")
    if not isinstance(value[1], str | None):
        raise ValueError("a listed entry is not [kind, namespace]")
    return value[0], value[1]


def _map(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BundleError(f"{what} is not a JSON object")
    return value


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
