"""The finding: what every check and probe produces and every renderer consumes."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from egdoctor.findings.fix import Fix


class Severity(str, enum.Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValueError(f"unknown severity {text!r} (use error, warning or info)") from None


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


@dataclass(frozen=True, order=True)
class ObjectRef:
    kind: str
    namespace: str | None
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name}


@dataclass(frozen=True, order=True)
class GatewayRef:
    """The Gateway (and optionally listener) a finding concerns: used for scoping and grouping."""

    namespace: str
    name: str
    listener: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    def __str__(self) -> str:
        base = f"{self.namespace}/{self.name}"
        return f"{base} listener {self.listener}" if self.listener else base


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str
    hint: str
    subject: ObjectRef | None = None
    gateway: GatewayRef | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    check: str = ""
    # When set, the finding concerns only these namespaces' owners (a Gateway-wide policy overridden for
    # one team's routes), even though its subject and Gateway are shared.
    concerns: tuple[str, ...] = ()
    fix: Fix | None = None  # a deterministic fix (egdoctor/fixes/plan.py), attached after the checks ran

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "object": self.subject.to_json() if self.subject else None,
            "gateway": (
                {
                    "namespace": self.gateway.namespace,
                    "name": self.gateway.name,
                    "listener": self.gateway.listener,
                }
                if self.gateway
                else None
            ),
            "message": self.message,
            "hint": self.hint,
            "evidence": dict(self.evidence),
            "check": self.check,
            "concerns": list(self.concerns),
            **({"fix": self.fix.to_json()} if self.fix is not None else {}),
        }
