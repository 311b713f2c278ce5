"""Envoy Gateway's controller, ``envoy-gateway server``, run out of cluster with a kubeconfig.

As the Helm chart installs it (``charts/gateway-helm`` in the EG module): the certgen Job first
(``envoy-gateway certgen``, which writes the ``envoy-gateway``, ``envoy`` and ``envoy-rate-limit``
Secrets through the API), then the controller with the chart's EnvoyGateway configuration (Kubernetes
provider, the gatewayclass controller name). With the Kubernetes provider the xDS server reads its
certificate from ``/certs`` (``internal/xds/runner/runner.go``), where the chart mounts the
``envoy-gateway`` Secret; the lab mounts it there the same way, in a mount namespace of the controller's
own (``unshare --mount``), so nothing on the host changes but an empty ``/certs`` mount point.
"""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import yaml

from egdoctor_lab.datapath.procs import ManagedProcess

from .kubeapi import KubeClient
from .podnet import PodNetwork

NAMESPACE = "envoy-gateway-system"
CONTROLLER_NAME = "gateway.envoyproxy.io/gatewayclass-controller"
XDS_PORT = 18000
MOUNT_POINT = Path("/certs")


class EgControllerError(RuntimeError):
    pass


def envoy_gateway_config() -> dict[str, object]:
    """The chart's default EnvoyGateway configuration (``values.tmpl.yaml`` ``config.envoyGateway``)."""
    return {
        "apiVersion": "gateway.envoyproxy.io/v1alpha1",
        "kind": "EnvoyGateway",
        "gateway": {"controllerName": CONTROLLER_NAME},
        "provider": {"type": "Kubernetes"},
        "logging": {"level": {"default": "info"}},
        "extensionApis": {},
    }


def certgen(binary: Path, kubeconfig: Path, log: Path) -> None:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "ENVOY_GATEWAY_NAMESPACE": NAMESPACE}
    with open(log, "wb") as out:
        proc = subprocess.run(
            [str(binary), "certgen", "--disable-topology-injector"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=60,
        )
    if proc.returncode != 0:
        raise EgControllerError(f"envoy-gateway certgen failed (exit {proc.returncode}), see {log}")


def mount_secret(client: KubeClient, directory: Path) -> Path:
    """The ``envoy-gateway`` Secret's keys as files, as the chart's ``certs`` volume mounts them."""
    secret = client.get(f"/api/v1/namespaces/{NAMESPACE}/secrets/envoy-gateway")
    directory.mkdir(parents=True, exist_ok=True)
    for key, value in (secret.get("data") or {}).items():
        path = directory / key
        path.touch(mode=0o600)
        path.write_bytes(base64.b64decode(value))
    return directory


def controller_process(
    binary: Path, kubeconfig: Path, directory: Path, certs: Path, net: PodNetwork
) -> ManagedProcess:
    """The controller in its own pod network namespace: it listens on :8080, :8081, :18000, :18002 and
    :19001 of every address, which on the host would collide with the backends and other programs."""
    if not MOUNT_POINT.is_dir():
        try:
            MOUNT_POINT.mkdir()
        except OSError as exc:
            raise EgControllerError(
                f"cannot create the mount point {MOUNT_POINT} for EG's xDS certificate: {exc}"
            ) from None
    config = directory / "envoy-gateway.yaml"
    config.write_text(yaml.safe_dump(envoy_gateway_config(), sort_keys=False))
    script = f'mount --bind "$1" {MOUNT_POINT} && exec "$2" server --config-path "$3"'
    argv = [
        *("ip", "netns", "exec", net.netns),
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        "sh",
        str(certs),
        str(binary),
        str(config),
    ]
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "ENVOY_GATEWAY_NAMESPACE": NAMESPACE}
    return ManagedProcess(
        "envoy-gateway", argv, directory / "envoy-gateway.log", directory / "pids.json", env
    )


def xds_service() -> dict[str, object]:
    """The chart's ``envoy-gateway`` Service (``templates/envoy-gateway-service.yaml``), its xDS port."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "envoy-gateway",
            "namespace": NAMESPACE,
            "labels": {"control-plane": "envoy-gateway"},
        },
        "spec": {
            "type": "ClusterIP",
            "selector": {"control-plane": "envoy-gateway"},
            "ports": [{"name": "grpc", "port": XDS_PORT, "targetPort": XDS_PORT, "protocol": "TCP"}],
        },
    }
