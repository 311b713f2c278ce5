"""The EnvoyProxy objects that configure a Gateway's Envoy, as Envoy Gateway finds them.

A GatewayClass names one with spec.parametersRef (namespaced; EG reads a missing namespace as "default",
internal/provider/kubernetes/controller.go processGatewayClassParamsRef), a Gateway with
spec.infrastructure.parametersRef (always in the Gateway's own namespace, internal/gatewayapi/contexts.go
attachEnvoyProxy). With mergeGateways the Gateway's own EnvoyProxy is ignored: one Envoy serves the class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from egdoctor.snapshot.kinds import EG
from egdoctor.snapshot.objects import as_map, dig

EnvoyProxyKey = tuple[str, str]  # (namespace, name)


def _ref(ref: Any, namespace: str | None) -> EnvoyProxyKey | None:
    ref = as_map(ref)
    if ref.get("kind") != "EnvoyProxy" or ref.get("group") != EG or not isinstance(ref.get("name"), str):
        return None
    return (str(namespace), str(ref["name"])) if namespace else None


def class_envoyproxy(gateway_class: Mapping[str, Any]) -> EnvoyProxyKey | None:
    ref = dig(gateway_class, "spec", "parametersRef")
    namespace = as_map(ref).get("namespace")
    return _ref(ref, str(namespace) if isinstance(namespace, str) and namespace else "default")


def gateway_envoyproxy(gateway: Mapping[str, Any]) -> EnvoyProxyKey | None:
    namespace = dig(gateway, "metadata", "namespace")
    return _ref(dig(gateway, "spec", "infrastructure", "parametersRef"), namespace or None)
