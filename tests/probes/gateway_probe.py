"""One `egdoctor check` of the healthy shared-Gateway dump with its probes sent to a given loopback address
(the lab's DNS answering the route hostname with it): how the probe-fault tests meet a misbehaving server."""

from __future__ import annotations

import time

from egdoctor_lab.datapath.dns import DnsServer, DnsTable
from tests.conftest import SCENARIOS, CliResult, run_cli


def probe_at(address: str, timeout_s: float) -> tuple[CliResult, float]:
    """The run's result and its wall time in seconds."""
    dns = DnsServer(DnsTable({"team-a.example.com": [address]}, ["example.com"]))
    dns.start()
    try:
        started = time.monotonic()
        result = run_cli(
            "check",
            "--from-file",
            str(SCENARIOS / "shared-direct-healthy.yaml"),
            "-n",
            "team-a",
            "-o",
            "json",
            "--address",
            address,
            "--probe-timeout",
            f"{timeout_s:g}s",
            "--resolver",
            f"{dns.address[0]}:{dns.address[1]}",
            timeout=60,
        )
        return result, time.monotonic() - started
    finally:
        dns.stop()
