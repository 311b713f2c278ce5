"""Which Envoy Gateway release runs the cluster: the image tag of the controller Deployment.

Support engineers may read envoy-gateway-system, tenants usually may not; when the version is unknown the
report header says so once and version-specific advice falls back to what holds for current releases.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from egdoctor.snapshot.kinds import ENVOY_GATEWAY_SYSTEM
from egdoctor.snapshot.model import Snapshot
from egdoctor.snapshot.objects import as_list, as_map

Version = tuple[int, int, int]
_TAG = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")


def version_from_image(image: str) -> Version | None:
    """`docker.io/envoyproxy/gateway:v1.9.1` (or with `@sha256:...`) -> (1, 9, 1); None for a tag that is
    no release (`latest`, a commit)."""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1]
    if ":" not in name:
        return None
    match = _TAG.match(name.split(":", 1)[1])
    if match is None:
        return None
    return (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


@dataclass(frozen=True)
class EgVersion:
    version: Version | None
    image: str | None  # the controller image the version was read from
    why_unknown: str | None = None

    @property
    def text(self) -> str:
        if self.version is not None:
            return "v" + ".".join(str(n) for n in self.version)
        return "unknown"

    def before(self, major: int, minor: int) -> bool:
        """Known to be an older release than major.minor (unknown: assume a current one)."""
        return self.version is not None and self.version[:2] < (major, minor)


def eg_version(snapshot: Snapshot) -> EgVersion:
    if snapshot.source.mode == "files" and not snapshot.of("EnvoyGatewayDeployment"):
        return EgVersion(None, None, "the files hold no controller Deployment")
    if "EnvoyGatewayDeployment" not in snapshot.fetched:
        return EgVersion(None, None, "the controller Deployment was not read")
    problems = snapshot.problems_for("EnvoyGatewayDeployment")
    deployments = [
        d
        for d in snapshot.of("EnvoyGatewayDeployment")
        if d.namespace == ENVOY_GATEWAY_SYSTEM and d.labels.get("control-plane") == "envoy-gateway"
    ]
    for deployment in deployments:
        template = as_map(as_map(deployment.spec.get("template")).get("spec"))
        containers = [c for c in as_list(template.get("containers")) if isinstance(c, Mapping)]
        for container in containers:
            image = str(container.get("image") or "")
            version = version_from_image(image)
            if version is not None:
                return EgVersion(version, image)
        images = [str(c.get("image") or "") for c in containers]
        return EgVersion(None, images[0] if images else None, "the controller image has no release tag")
    if any(p.reason == "forbidden" for p in problems):
        why = f"not allowed to read Deployments in {ENVOY_GATEWAY_SYSTEM}"
    elif any(p.reason == "absent" for p in problems):
        why = "the cluster serves no apps/v1 Deployments"
    elif problems:
        why = f"reading Deployments in {ENVOY_GATEWAY_SYSTEM} failed: {problems[0].message}"
    else:
        why = f"no Deployment labelled control-plane=envoy-gateway in {ENVOY_GATEWAY_SYSTEM}"
    return EgVersion(None, None, why)
