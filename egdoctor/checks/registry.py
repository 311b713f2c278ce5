"""Check registration: each check declares the kinds it reads and the codes it may report.

The snapshot fetches exactly the union of the inputs of the checks that run, and a kind that cannot be
read names the checks it disabled, with no extra code in the checks themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from egdoctor.findings.codes import REGISTRY
from egdoctor.findings.model import Finding

if TYPE_CHECKING:
    from egdoctor.model.topology import Topology
    from egdoctor.snapshot.model import Snapshot


@dataclass(frozen=True)
class Options:
    gateway_class: str = "eg"
    namespace_label: tuple[str, str] = ("shared-gateway-access", "true")
    expect_mode: str | None = None  # "direct" | "xff"
    expect_hops: int | None = None
    cert_warn_days: int = 14
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


@dataclass(frozen=True)
class CheckContext:
    snapshot: Snapshot
    topology: Topology
    options: Options


CheckFunc = Callable[[CheckContext], Iterable[Finding]]


@dataclass(frozen=True)
class CheckSpec:
    id: str
    func: CheckFunc
    inputs: tuple[str, ...]
    codes: tuple[str, ...]
    summary: str


CHECKS: dict[str, CheckSpec] = {}


def check(id: str, inputs: Iterable[str], codes: Iterable[str]) -> Callable[[CheckFunc], CheckFunc]:
    def register(func: CheckFunc) -> CheckFunc:
        codes_t = tuple(codes)
        unknown = [c for c in codes_t if c not in REGISTRY]
        if unknown:
            raise ValueError(f"check {id} declares unknown codes {unknown}")
        if id in CHECKS:
            raise ValueError(f"check {id} registered twice")
        summary = (func.__doc__ or "").strip().splitlines()[0] if func.__doc__ else id
        CHECKS[id] = CheckSpec(id, func, tuple(inputs), codes_t, summary)
        return func

    return register


def all_checks() -> dict[str, CheckSpec]:
    # Importing the check modules registers them; kept here so callers never import them by hand.
    from egdoctor.checks import catalogue  # noqa: F401

    return CHECKS
