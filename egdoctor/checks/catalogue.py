"""Every check module, imported once so its checks register."""

from egdoctor.checks import (  # noqa: F401
    clientip,
    gateways,
    policies,
    routes,
    tls,
    verdicts,
)
