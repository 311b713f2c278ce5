"""Run a pinned Envoy Gateway's translator on a scenario's objects (see translator/main.go)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .build import translator_binary
from .releases import EgRelease

# The kinds EG's loader reads (internal/gatewayapi/resource/load.go); anything else (cert-manager,
# Pods) is not the translator's input; EndpointSlices are read beside it, as EG's provider does.
TRANSLATOR_KINDS = frozenset(
    {
        "GatewayClass", "Gateway", "ListenerSet", "XListenerSet", "HTTPRoute", "GRPCRoute", "TLSRoute",
        "TCPRoute", "UDPRoute", "ReferenceGrant", "Namespace", "Service", "Secret", "ConfigMap",
        "EnvoyProxy", "EnvoyPatchPolicy", "ClientTrafficPolicy", "BackendTrafficPolicy", "SecurityPolicy",
        "BackendTLSPolicy", "EnvoyExtensionPolicy", "Backend", "HTTPRouteFilter", "EndpointSlice",
    }
)  # fmt: skip
TIMEOUT = 120.0


class TranslateError(RuntimeError):
    pass


@dataclass(frozen=True)
class EgTranslation:
    """What EG computed: objects carrying its statuses, and per Gateway (``ns/name``) the xDS resources
    (``listeners``, ``routes``, ``clusters``, ``endpoints``, ``secrets``) it would send to that
    Gateway's Envoy, in proto field names."""

    version: str
    resources: tuple[Mapping[str, Any], ...]
    xds: Mapping[str, Mapping[str, list[dict[str, Any]]]]
    rejected: tuple[Mapping[str, str], ...] = field(default=())

    def status_of(self, kind: str, namespace: str | None, name: str) -> Mapping[str, Any] | None:
        for obj in self.resources:
            meta = obj.get("metadata") or {}
            if (
                obj.get("kind") == kind
                and meta.get("name") == name
                and (meta.get("namespace") or None) == (namespace or None)
            ):
                status = obj.get("status")
                return status if isinstance(status, Mapping) else {}
        return None


def translator_input(rel: EgRelease, objects: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The objects EG reads, each in the API version this release reads it in."""
    versions = dict(rel.api_versions)
    out: list[Mapping[str, Any]] = []
    for obj in objects:
        kind = obj.get("kind")
        if kind not in TRANSLATOR_KINDS:
            continue
        wanted = versions.get(str(kind))
        out.append(
            {**obj, "apiVersion": wanted}
            if wanted and str(obj.get("apiVersion", "")).startswith("gateway.networking.k8s.io/")
            else obj
        )
    return out


def run_translator(rel: EgRelease, objects: Iterable[Mapping[str, Any]]) -> EgTranslation:
    binary = translator_binary(rel)
    payload = json.dumps(translator_input(rel, objects), default=str).encode()
    try:
        proc = subprocess.run([str(binary)], input=payload, capture_output=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise TranslateError(f"eg-translate {rel.version} did not finish within {TIMEOUT:g}s") from None
    if proc.returncode != 0:
        raise TranslateError(f"eg-translate {rel.version}: {proc.stderr.decode(errors='replace').strip()}")
    data = json.loads(proc.stdout)
    return EgTranslation(
        version=str(data.get("egVersion") or rel.version),
        resources=tuple(data.get("resources") or ()),
        xds=data.get("xds") or {},
        rejected=tuple(data.get("rejected") or ()),
    )
