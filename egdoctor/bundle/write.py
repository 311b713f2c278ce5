"""Write a support bundle: the objects one run read (Secrets already reduced to their certificate by the
snapshot), what could not be read, the probe observations and a manifest, as a tar.gz.

Layout (docs/bundles.md): manifest.json, snapshot.json (scope, access problems, malformed objects, which
lists succeeded), objects/<Kind>.json (a `kind: List` per kind, as `kubectl get -o json` prints it) and,
when probes ran, probes.json."""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from egdoctor import __version__
from egdoctor.bundle.probe_codec import probe_report_to_json
from egdoctor.checks.registry import Options
from egdoctor.probes.model import ProbeReport
from egdoctor.report.json_safe import json_safe
from egdoctor.snapshot.model import Snapshot
from egdoctor.snapshot.objects import thaw

BUNDLE_VERSION = 1


def bundle_members(
    snapshot: Snapshot,
    probes: ProbeReport | None,
    options: Options,
    server_version: str | None,
    created: datetime,
) -> dict[str, Any]:
    """Member name -> JSON document."""
    members: dict[str, Any] = {
        "manifest.json": _manifest(snapshot, probes, options, server_version, created),
        "snapshot.json": {
            "namespaces": sorted(snapshot.namespaces) if snapshot.namespaces is not None else None,
            "server": snapshot.source.server,
            "context": snapshot.source.context,
            "problems": [asdict(p) for p in snapshot.problems],
            "malformed": [{"object": m.subject.to_json(), "reason": m.reason} for m in snapshot.malformed],
            "fetched": sorted(snapshot.fetched),
            "listed": sorted([name, ns] for name, ns in snapshot.listed),
        },
    }
    for name in sorted(snapshot.fetched | set(snapshot.objects)):
        items = [thaw(o.raw) for o in snapshot.of(name)]
        members[f"objects/{name}.json"] = {"apiVersion": "v1", "kind": "List", "items": items}
    if probes is not None:
        members["probes.json"] = probe_report_to_json(probes)
    return members


def _manifest(
    snapshot: Snapshot,
    probes: ProbeReport | None,
    options: Options,
    server_version: str | None,
    created: datetime,
) -> dict[str, Any]:
    return {
        "bundleVersion": BUNDLE_VERSION,
        "egdoctor": __version__,
        "createdAt": created.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "server": snapshot.source.server,
        "serverVersion": server_version,
        "context": snapshot.source.context,
        "namespaces": sorted(snapshot.namespaces) if snapshot.namespaces is not None else None,
        "allNamespaces": snapshot.namespaces is None,
        "forbidden": [_problem_line(p) for p in snapshot.problems if p.reason == "forbidden"],
        "failed": [_problem_line(p) for p in snapshot.problems if p.reason != "forbidden"],
        "objects": {name: len(snapshot.of(name)) for name in sorted(snapshot.objects) if snapshot.of(name)},
        "probes": "not run" if probes is None else "skipped" if probes.skipped else "recorded",
        "options": {
            "gatewayClass": options.gateway_class,
            "namespaceLabel": "=".join(options.namespace_label),
            "expectMode": options.expect_mode,
            "expectHops": options.expect_hops,
            "certWarnDays": options.cert_warn_days,
        },
        "secrets": "only each Secret's certificate (tls.crt) and the names of its keys; no other value",
    }


def _problem_line(p: Any) -> dict[str, Any]:
    return {
        "kind": p.input,
        "verb": p.verb,
        "resource": p.resource,
        "namespace": p.namespace,
        "reason": p.reason,
        "message": p.message,
    }


def write_bundle(path: str, members: Mapping[str, Any]) -> int:
    """Write the members to `path` (a .tar.gz); returns its size in bytes."""
    buffer = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, document in members.items():
            data = json.dumps(json_safe(document), indent=1, allow_nan=False).encode()
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), int(now), 0o644
            tar.addfile(info, io.BytesIO(data))
    # written whole at the end: an interrupted run leaves no half bundle behind
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(buffer.getvalue())
    partial.replace(target)
    return len(buffer.getvalue())
