"""The real-cluster tier: etcd, kube-apiserver, Envoy Gateway's controller and the lab's node.

One cluster per test module (it takes about 30 s to start once built), started the way a user starts
it, with ``scripts/lab up SCENARIO --cluster real --json``, and stopped with ``scripts/lab down``. It
needs root (pod network namespaces), ``ip``, ``kubectl``, HAProxy and Go; the builds are cached
(``scripts/lab real-build``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliResult, run_cli

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "scripts" / "lab"


def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "the real cluster needs root (pod network namespaces)"
    for tool in ("ip", "kubectl", "unshare"):
        if shutil.which(tool) is None:
            return f"the real cluster needs `{tool}`"
    if shutil.which("go") is None and not os.access("/usr/local/go/bin/go", os.X_OK):
        return "the real cluster needs Go to build kube-apiserver, etcd and envoy-gateway"
    return None


class RealLab:
    def __init__(self, info: dict[str, Any]) -> None:
        self.info = info

    def kubeconfig(self, who: str = "admin") -> str:
        return str(self.info["kubeconfigs"][who])

    def kubectl(
        self, *args: str, who: str = "admin", input_text: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kubectl", "--kubeconfig", self.kubeconfig(who), *args],
            input=input_text,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def check(self, *args: str, who: str = "admin") -> CliResult:
        probe = ["--resolver", str(self.info["dns"]), "--ca-file", str(self.info["caFile"])]
        return run_cli(
            "check", "--kubeconfig", self.kubeconfig(who), *probe, "-o", "json", *args, timeout=120
        )


@contextmanager
def real_cluster(scenario: str, state: Path) -> Iterator[RealLab]:
    """`scripts/lab up SCENARIO --cluster real --json`, as a user starts it, and `lab down` afterwards."""
    reason = _unavailable()
    if reason:
        pytest.skip(reason)
    env = {**os.environ, "PATH": os.environ.get("PATH", "") + os.pathsep + "/usr/local/go/bin"}
    up = subprocess.run(
        [str(LAB), "up", scenario, "--cluster", "real", "--json", "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        check=False,
    )
    assert up.returncode == 0, f"lab up --cluster real failed:\n{up.stderr}\n{up.stdout}"
    try:
        yield RealLab(json.loads(up.stdout))
    finally:
        subprocess.run(
            [str(LAB), "down", "--state-dir", str(state)], capture_output=True, timeout=120, check=False
        )


@pytest.fixture(scope="module")
def real_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealLab]:
    with real_cluster("demo", tmp_path_factory.mktemp("real-lab")) as lab:
        yield lab
