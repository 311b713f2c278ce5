"""The direct-mode rows of the probe matrix on a real cluster: the Octavia annotation reaches the load
balancer the way it does at Elastx, through an EnvoyProxy the GatewayClass references
(egdoctor_lab/realcluster/objects.py), EG creates the Service from it, and the lab's cloud controller
configures the amphora from that Service. Expectations are the scenarios' own (tests/test_scenarios.py).

EG copies ``envoyService.annotations`` of the EnvoyProxy onto the Service it creates (EG v1.9.1
``internal/infrastructure/kubernetes/proxy/resource_provider.go``, ``expectedServiceAnnotations``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from egdoctor_lab.scenario import load_scenario
from tests.conftest import SCENARIOS
from tests.real.conftest import RealLab, real_cluster

# The rows whose data path is the load balancer alone (the XFF rows need CDN/WAF edges the real
# cluster does not run).
DIRECT_ROWS = [
    "probe-direct-v2-strict",
    "probe-direct-lb-plain",
    "probe-direct-v2-ctp-no-proxy",
    "probe-direct-lb-plain-optional",
    "probe-direct-v1-strict",
    "probe-no-ctp-lb-plain",
]

# One machine runs one real cluster at a time: keep the tier on one test worker (scripts/test runs
# pytest with --dist loadgroup), so a module's cluster serves all its tests in order.
pytestmark = pytest.mark.xdist_group("real-cluster")


def _fill(text: str, lab: RealLab) -> str:
    gateways = json.loads(lab.kubectl("get", "gateway", "-A", "-o", "json").stdout)["items"]
    for gw in gateways:
        key = f"{gw['metadata']['namespace']}/{gw['metadata']['name']}"
        address = (gw.get("status") or {}).get("addresses", [{}])[0].get("value", "")
        text = text.replace("{" + key + ".lb}", address)
        for lb in lab.info["loadBalancers"].values():
            if lb["gateway"] == key and lb["memberSources"]:
                text = text.replace("{" + key + ".member}", lb["memberSources"][0])
    return text.replace("{this}", "127.0.0.1")


@pytest.mark.parametrize("row", DIRECT_ROWS)
def test_direct_row_on_a_real_cluster(row: str, tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIOS / f"{row}.yaml")
    with real_cluster(row, tmp_path) as lab:
        for expect in scenario.settings["expect"]:
            _check(lab, json.loads(_fill(json.dumps(expect), lab)))


def _check(lab: RealLab, expect: dict[str, Any]) -> None:
    result = lab.check(*expect.get("args", []))
    report = result.json
    codes = {f["code"] for f in report["findings"]}
    detail = "\n".join(f"{f['code']} {f['object']} {f['message']}" for f in report["findings"])
    where = f"{expect.get('args')}:\n{detail}"
    if "exit" in expect:
        assert result.exit_code == expect["exit"], f"exit {result.exit_code} {where}\n{result.stderr}"
    for code in expect.get("codes", []):
        assert code in codes, f"{code} not reported {where}"
    for code in expect.get("absent", []):
        assert code not in codes, f"{code} reported {where}"
    for want in expect.get("findings", []):
        assert any(
            f["code"] == want["code"] and want.get("message_contains", "") in f["message"]
            for f in report["findings"]
        ), f"no finding matches {want} {where}"
