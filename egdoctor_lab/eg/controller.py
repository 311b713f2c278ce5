"""The lab's Envoy Gateway mode: EG's translator writes the statuses and configures each Envoy.

``LabCluster`` owns one of these when it runs with ``--eg VERSION``. On start and whenever a client
changes an object EG watches, every object in the store goes through the pinned EG translator; the
statuses EG computed are written back (``statuses.py`` says what stays the scenario's) and each
Gateway's Envoy is given EG's xDS resources (``envoy_config.py``). Like Envoy on a cluster, which
NACKs an update it cannot load and keeps serving the previous one, a configuration Envoy refuses
(``envoy --mode validate``) is not applied; the statuses are written all the same.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from egdoctor_lab.datapath.plan import DataPathPlan, GatewayAddresses

from .build import envoy_binary
from .envoy_config import LabSite, eg_bootstrap
from .releases import EgRelease
from .statuses import apply_statuses, object_key
from .translate import EgTranslation, run_translator


def envoy_process_name(gateway_key: str) -> str:
    return "envoy-" + gateway_key.replace("/", "-")


class EgController:
    def __init__(self, rel: EgRelease, keep: Mapping[str, str]) -> None:
        self.release = rel
        self.keep = dict(keep)
        self.translation: EgTranslation | None = None
        self.xds: dict[str, Mapping[str, Any]] = {}
        self.served_certificates: dict[str, dict[str, tuple[Path, Path]]] = {}
        self.notes: list[str] = []

    @property
    def envoy(self) -> str:
        return str(envoy_binary(self.release))

    @property
    def images(self) -> tuple[str, str]:
        """Images of an Envoy pod's containers: Envoy and EG's shutdown-manager."""
        return (
            f"docker.io/envoyproxy/envoy:distroless-v{self.release.envoy}",
            f"docker.io/envoyproxy/gateway:{self.release.version}",
        )

    def controller_pod(self) -> dict[str, Any]:
        """The EG controller's Pod as the Helm chart deploys it (label ``control-plane: envoy-gateway``)."""
        image = f"docker.io/envoyproxy/gateway:{self.release.version}"
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "envoy-gateway-7d9f8b6c5d-lab01",
                "namespace": "envoy-gateway-system",
                "labels": {
                    "control-plane": "envoy-gateway",
                    "app.kubernetes.io/name": "gateway-helm",
                    "app.kubernetes.io/instance": "eg",
                },
            },
            "spec": {"containers": [{"name": "envoy-gateway", "image": image}]},
            "status": {
                "phase": "Running",
                "containerStatuses": [{"name": "envoy-gateway", "image": image, "ready": True}],
            },
        }

    def controller_deployment(self) -> dict[str, Any]:
        """The Deployment that owns that Pod, as the Helm chart names and labels it
        (charts/gateway-helm/templates/envoy-gateway-deployment.yaml)."""
        pod = self.controller_pod()
        labels = dict(pod["metadata"]["labels"])
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "envoy-gateway", "namespace": "envoy-gateway-system", "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": pod["spec"]},
            },
            "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1},
        }

    def info(self) -> dict[str, Any]:
        return {"version": self.release.version, "source": "translator", "envoy": self.release.envoy_server}

    def translate(self, objects: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Translate the objects; return them with EG's statuses (only those whose status changed)."""
        objects = list(objects)
        translation = run_translator(self.release, objects)
        self.translation = translation
        for rejected in translation.rejected:
            what, error = rejected.get("object"), rejected.get("error")
            note = f"EG {self.release.version} would not accept {what}: {error}"
            if note not in self.notes:
                self.notes.append(note)
        served = apply_statuses(objects, translation, self.keep)
        return [
            new for old, new in zip(objects, served, strict=True) if old.get("status") != new.get("status")
        ]

    def candidate_xds(self) -> dict[str, Mapping[str, Any]]:
        return dict(self.translation.xds) if self.translation is not None else {}

    def envoy_configs(
        self, plan: DataPathPlan, addresses: dict[str, GatewayAddresses], echo: tuple[str, int]
    ) -> dict[str, dict[str, Any]]:
        return self.configs_for(self.xds, plan, addresses, echo)

    def configs_for(
        self,
        xds: Mapping[str, Mapping[str, Any]],
        plan: DataPathPlan,
        addresses: dict[str, GatewayAddresses],
        echo: tuple[str, int],
    ) -> dict[str, dict[str, Any]]:
        out = {}
        for gw in plan.gateways:
            if gw.key not in xds:
                continue  # EG translated no listener of this Gateway: it has no Envoy configuration
            site = LabSite(addresses[gw.key], echo, self.served_certificates.get(gw.key, {}))
            out[envoy_process_name(gw.key)] = eg_bootstrap(xds[gw.key], site)
        return out

    def refuses(self, configs: Mapping[str, dict[str, Any]], work_dir: Path) -> str | None:
        """Why Envoy would reject one of the configurations, or None."""
        for name, config in configs.items():
            candidate = work_dir / f"{name}-candidate.json"
            candidate.write_text(json.dumps(config))
            argv = [
                self.envoy,
                "--mode",
                "validate",
                "-c",
                str(candidate),
                "-l",
                "error",
                "--disable-hot-restart",
            ]
            try:
                proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
            except subprocess.TimeoutExpired:
                continue
            if proc.returncode != 0:
                lines = (proc.stdout + proc.stderr).strip().splitlines()
                return f"{name}: " + (
                    lines[-1] if lines else f"envoy --mode validate exited {proc.returncode}"
                )
        return None


__all__ = ["EgController", "envoy_process_name", "object_key"]
