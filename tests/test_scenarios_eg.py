"""The probe matrix, the demo and the TLS probe scenarios on Envoy Gateway's translation, per pinned release.

With ``--eg`` the lab serves the statuses EG's translator computes and each Gateway's Envoy runs the xDS
EG produced (egdoctor_lab/eg/); only what a loopback machine needs is rewritten
(egdoctor_lab/eg/envoy_config.py REWRITES). Envoy keeps its default access-log flush (10 s), as under EG
(EG sets no --file-flush-interval-msec), so the access-log observer waits for it. The route observer's
HTTPRoute and HTTPRouteFilter are translated by the same EG release: before v1.8 a direct-response body
is a literal (internal/xds/translator/route.go in envoyproxy/gateway v1.7.0), so egdoctor must read the
client IP from response headers there (egdoctor/probes/observers.py), and from the body from v1.8 on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from egdoctor_lab.eg.releases import RELEASES
from tests.test_scenarios import EXPECTATIONS, check_expectation

# The probe matrix (one row each); the demo and the TLS probe scenarios are added below.
PROBE_MATRIX = {
    "probe-direct-v2-strict",
    "probe-direct-lb-plain",
    "probe-direct-v2-ctp-no-proxy",
    "probe-direct-lb-plain-optional",
    "probe-direct-v1-strict",
    "probe-xff-edge1-hops1",
    "probe-xff-edge2-hops2",
    "probe-xff-hops-too-high",
    "probe-xff-hops-too-low",
    "probe-xff-lb-open",
    "probe-no-ctp-lb-plain",
}
# Not run on EG: the scenario's Envoy serves a certificate that expired after EG last translated the
# Gateway (its spec.egStatus.keep says so). EG checks a certificate's dates when it translates
# (internal/gatewayapi/tls.go in envoyproxy/gateway), so a fresh translation drops that listener.
EG_STALE = {"probe-tls-served-expired"}
# A probe phase that waits for Envoy's default access-log flush (10 s) next to the probes themselves.
EG_PROBE_BOUND = 16.0


def _observer(expect: dict[str, Any]) -> str:
    args = list(expect.get("args") or [])
    return args[args.index("--observe") + 1] if "--observe" in args else "auto"


def _selected() -> list[Any]:
    params = []
    for param in EXPECTATIONS:
        path, expect = param.values
        name = Path(path).stem
        # Scenarios without a data path add nothing here: drift 0 (tests/eg/test_drift.py) already says
        # their statuses are EG's, and egdoctor reads nothing else from them.
        wanted = (
            name in ("demo", "probe-https-only-direct")
            or name.startswith("probe-tls-")
            or name in PROBE_MATRIX
        )
        wanted = wanted and name not in EG_STALE
        # The access-log (default) and route observers; the other variants test egdoctor, not EG.
        if (
            not wanted
            or _observer(expect) not in ("auto", "route")
            or "--probe-timeout" in (expect.get("args") or [])
        ):
            continue
        for version in sorted(RELEASES):
            params.append(pytest.param(path, expect, version, id=f"{version}-{param.id}"))
    return params


@pytest.mark.parametrize(("scenario", "expect", "version"), _selected())
def test_scenario_on_envoy_gateway(
    scenario: Path, expect: dict[str, Any], version: str, tmp_path: Path
) -> None:
    # The text rendering is not Envoy Gateway's business: the stand-in runs check it.
    check_expectation(scenario, expect, tmp_path, eg=version, bound=EG_PROBE_BOUND, text=False)


def test_every_matrix_row_is_selected() -> None:
    names = {Path(p.values[0]).stem for p in _selected()}
    assert names >= PROBE_MATRIX and "demo" in names
