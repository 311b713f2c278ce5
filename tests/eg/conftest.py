"""Envoy Gateway's own translation of a lab scenario, per pinned release (built with Go, then cached)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from egdoctor_lab.certs import CertificateFactory, fill_certificates
from egdoctor_lab.eg.releases import RELEASES, release
from egdoctor_lab.eg.translate import EgTranslation, run_translator
from egdoctor_lab.scenario import load_scenario
from tests.conftest import SCENARIOS


def scenario_objects(name: str) -> list[dict[str, Any]]:
    objects = [dict(o) for o in load_scenario(SCENARIOS / f"{name}.yaml").objects]
    fill_certificates(objects, CertificateFactory())
    return objects


@pytest.fixture(scope="session")
def translated() -> Callable[[str, str], EgTranslation]:
    cache: dict[tuple[str, str], EgTranslation] = {}

    def get(scenario: str, version: str = "newest") -> EgTranslation:
        key = (scenario, version)
        if key not in cache:
            cache[key] = run_translator(release(version), scenario_objects(scenario))
        return cache[key]

    return get


VERSIONS = sorted(RELEASES)
