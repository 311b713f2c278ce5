"""The egdoctor lab: a Kubernetes API server stand-in and the scenarios it serves."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from egdoctor_lab.apiserver import LabApiServer
    from egdoctor_lab.scenario import Scenario, ScenarioError, load_scenario

__all__ = ["LabApiServer", "Scenario", "ScenarioError", "load_scenario"]


def __getattr__(name: str) -> Any:
    # Imported lazily so that tools which only read scenario files do not pull in the TLS stack.
    if name == "LabApiServer":
        from egdoctor_lab.apiserver import LabApiServer

        return LabApiServer
    if name in ("Scenario", "ScenarioError", "load_scenario"):
        from egdoctor_lab import scenario

        return getattr(scenario, name)
    raise AttributeError(f"module 'egdoctor_lab' has no attribute {name!r}")
