"""The CRDs the real cluster serves, read from the pinned Go modules themselves, never from copies.

* Gateway API: ``config/crd/standard/`` of ``sigs.k8s.io/gateway-api`` at the version Envoy Gateway's
  go.mod requires (v1.6.1 for EG v1.9.1);
* cert-manager's, where the scenario uses cert-manager: ``deploy/crds/`` of
  ``github.com/cert-manager/cert-manager`` (CRDs only: the lab runs no cert-manager controller);
* Envoy Gateway's own: ``charts/gateway-crds-helm/templates/generated/`` of the EG module. Those files
  are Helm templates only by their first and last lines (``{{- if .Values.crds.envoyGateway.enabled }}``
  and ``{{- end }}``), which are dropped; anything else templated is refused rather than guessed.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from egdoctor_lab.eg.build import find_go

CERT_MANAGER_MODULE = "github.com/cert-manager/cert-manager"
CERT_MANAGER_VERSION = "v1.21.2"  # the newest release the module proxy serves


def uses_cert_manager(objects: list[dict[str, object]]) -> bool:
    """Whether the scenario has cert-manager objects or Secrets cert-manager wrote."""
    for obj in objects:
        if str(obj.get("apiVersion", "")).split("/")[0].endswith("cert-manager.io"):
            return True
        meta = obj.get("metadata")
        annotations = meta.get("annotations") if isinstance(meta, dict) else None
        if isinstance(annotations, dict) and any(str(k).startswith("cert-manager.io/") for k in annotations):
            return True
    return False


class CrdError(RuntimeError):
    pass


def module_dir(module: str, version: str) -> Path:
    """The module's directory in Go's module cache, downloaded if needed (verified against go.sum)."""
    proc = subprocess.run(
        [find_go(), "mod", "download", "-json", f"{module}@{version}"],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ),
    )
    try:
        info = json.loads(proc.stdout)
    except ValueError:
        info = {}
    if proc.returncode != 0 or not info.get("Dir"):
        raise CrdError(
            f"go mod download {module}@{version} failed: {info.get('Error') or proc.stderr.strip()}"
        )
    return Path(info["Dir"])


def _untemplated(path: Path) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if not (line.startswith("{{") and line.rstrip().endswith("}}"))]
    if any("{{" in line for line in kept):
        raise CrdError(f"{path} holds Helm templating beyond its enabling guard")
    return "\n".join(kept) + "\n"


def crd_documents(eg_version: str, gateway_api_version: str, cert_manager: bool) -> list[tuple[str, str]]:
    """``(source, YAML)`` for every CRD file, Gateway API first."""
    docs: list[tuple[str, str]] = []
    if cert_manager:
        cm = module_dir(CERT_MANAGER_MODULE, CERT_MANAGER_VERSION)
        for path in sorted((cm / "deploy" / "crds").glob("*.yaml")):
            source = f"{CERT_MANAGER_MODULE}@{CERT_MANAGER_VERSION}/{path.relative_to(cm)}"
            docs.append((source, path.read_text()))
    gateway_api = module_dir("sigs.k8s.io/gateway-api", gateway_api_version)
    for path in sorted((gateway_api / "config" / "crd" / "standard").glob("*.yaml")):
        docs.append(
            (
                f"sigs.k8s.io/gateway-api@{gateway_api_version}/{path.relative_to(gateway_api)}",
                path.read_text(),
            )
        )
    eg = module_dir("github.com/envoyproxy/gateway", eg_version)
    generated = eg / "charts" / "gateway-crds-helm" / "templates" / "generated"
    for path in sorted(generated.glob("*.yaml")):
        docs.append(
            (f"github.com/envoyproxy/gateway@{eg_version}/{path.relative_to(eg)}", _untemplated(path))
        )
    if not docs:
        raise CrdError("no CRD files found in the pinned modules")
    return docs


def gateway_api_version(eg_version: str) -> str:
    """The sigs.k8s.io/gateway-api version the EG release's go.mod requires."""
    gomod = module_dir("github.com/envoyproxy/gateway", eg_version) / "go.mod"
    for line in gomod.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "sigs.k8s.io/gateway-api":
            return parts[1]
    raise CrdError(f"{gomod} does not require sigs.k8s.io/gateway-api")
