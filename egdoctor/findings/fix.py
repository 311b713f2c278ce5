"""A deterministic fix a finding carries: the exact kubectl command, and for a change to one object the
merge patch itself. egdoctor prints fixes (`--fix-plan`, `fix` in the machine formats) and never runs
them; every name in a command is shell-quoted."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from egdoctor.findings.model import ObjectRef

HEREDOC_END = "EGDOCTOR_MANIFEST"


@dataclass(frozen=True)
class Fix:
    description: str  # one line: what running it changes
    argv: tuple[str, ...]  # the kubectl command, without --context (the plan adds the run's context)
    target: ObjectRef | None = None  # the object the patch changes, or the object the manifest creates
    patch: Mapping[str, Any] | None = None  # a JSON merge patch (RFC 7386) of `target`
    manifest: str | None = None  # YAML fed to `kubectl apply -f -` (argv ends with "-f", "-")

    def command(self, context: str | None = None) -> str:
        """The shell command: shlex-quoted argv, with a quoted here-document for a manifest (the
        delimiter is quoted, so the shell expands nothing in it)."""
        argv = list(self.argv)
        if context:
            argv[1:1] = ["--context", context]
        line = shlex.join(argv)
        if self.manifest is None:
            return line
        return f"{line} <<'{HEREDOC_END}'\n{self.manifest.rstrip()}\n{HEREDOC_END}"

    def to_json(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "command": self.command(),
            "object": self.target.to_json() if self.target else None,
            "patch": dict(self.patch) if self.patch is not None else None,
        }


def merge_patch_argv(
    resource: str, namespace: str | None, name: str, patch: Mapping[str, Any]
) -> tuple[str, ...]:
    where = ("-n", namespace) if namespace else ()
    body = json.dumps(patch, separators=(",", ":"), sort_keys=True)
    return ("kubectl", "patch", resource, *where, name, "--type", "merge", "-p", body)
