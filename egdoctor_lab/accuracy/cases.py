"""EG's translator test cases as a live cluster would serve them, each with EG's verdict per object.

A case is ``NAME.in.yaml`` (the objects, one list per kind, as ``resource.Resources`` in
internal/gatewayapi/resource/resource.go of envoyproxy/gateway reads them) and ``NAME.out.yaml`` (the
same objects with the statuses EG's translator computed). The test harness
(internal/gatewayapi/translator_test.go) translates them for the GatewayClass ``envoy-gateway-class`` and
adds fixtures the files lean on: Services ``service-1``..``service-4`` and ``mirror-service`` in
``default``, ``otel-collector`` in ``monitoring``, their EndpointSlices, and the Secrets of
``testdata/base/base.yaml``. A live cluster adds what the translator leaves to EG's infrastructure
layer: the GatewayClass accepted by EG's provider, each Gateway's ``Programmed`` condition and address,
the Envoy LoadBalancer Service with its ingress address, and the Namespaces objects live in.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MODULE = "github.com/envoyproxy/gateway"
CLASS = "envoy-gateway-class"
CONTROLLER = "gateway.envoyproxy.io/gatewayclass-controller"
CONTROLLER_NAMESPACE = "envoy-gateway-system"
GW = "gateway.networking.k8s.io"
EG = "gateway.envoyproxy.io"

# resource.Resources' list fields (lower-cased: sigs.k8s.io/yaml matches JSON names case-insensitively,
# and some test files spell them so) -> the kind their items are.
SECTIONS = {
    "gateways": "Gateway",
    "listenersets": "ListenerSet",
    "httproutes": "HTTPRoute",
    "grpcroutes": "GRPCRoute",
    "tlsroutes": "TLSRoute",
    "tcproutes": "TCPRoute",
    "udproutes": "UDPRoute",
    "referencegrants": "ReferenceGrant",
    "namespaces": "Namespace",
    "services": "Service",
    "endpointslices": "EndpointSlice",
    "secrets": "Secret",
    "configmaps": "ConfigMap",
    "envoypatchpolicies": "EnvoyPatchPolicy",
    "clienttrafficpolicies": "ClientTrafficPolicy",
    "backendtrafficpolicies": "BackendTrafficPolicy",
    "securitypolicies": "SecurityPolicy",
    "backendtlspolicies": "BackendTLSPolicy",
    "envoyextensionpolicies": "EnvoyExtensionPolicy",
    "backends": "Backend",
    "httpfilters": "HTTPRouteFilter",
    "envoyproxiesforgateways": "EnvoyProxy",
    "serviceimports": "ServiceImport",
    "clustertrustbundles": "ClusterTrustBundle",
}
SINGLE_SECTIONS = {"gatewayclass": "GatewayClass", "envoyproxyforgatewayclass": "EnvoyProxy"}

# Condition types whose True is the bad news; every other type is bad when False.
NEGATIVE_WHEN_TRUE = frozenset(
    {"Conflicted", "Overridden", "PartiallyInvalid", "OverlappingTLSConfig", "Degraded", "Invalid"}
)
# True-only notes EG adds beside an accepted object: not a verdict that something is broken.
INFORMATIONAL = frozenset(
    {"Warning", "Merged", "Aggregated", "RouteRulesOverlap", "InsecureFrontendValidationMode"}
)


class DataMissing(RuntimeError):
    """EG's test data for the release is not in Go's module cache and cannot be downloaded."""


def testdata_dir(version: str) -> Path:
    """``internal/gatewayapi/testdata`` of envoyproxy/gateway at ``version``, from Go's module cache."""
    from egdoctor_lab.eg.build import BuildError, find_go

    try:
        go = find_go()
    except BuildError as exc:
        raise DataMissing(str(exc)) from None
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GO111MODULE": "on"}
    proc = subprocess.run(
        [go, "mod", "download", "-json", f"{MODULE}@{version}"],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
        timeout=600,
        check=False,
    )
    try:
        info = json.loads(proc.stdout)
    except ValueError:
        info = {}
    directory = Path(str(info.get("Dir") or "")) / "internal" / "gatewayapi" / "testdata"
    if proc.returncode != 0 or not info.get("Dir") or not directory.is_dir():
        why = info.get("Error") or proc.stderr.strip() or "no Dir in its answer"
        raise DataMissing(f"go mod download {MODULE}@{version}: {why}")
    return directory


@dataclass(frozen=True)
class Problem:
    """One negative condition EG wrote on an object."""

    type: str
    status: str
    reason: str
    where: str  # "status", "listener http", "parent Gateway ns/name", "ancestor ..."


@dataclass
class Case:
    name: str
    objects: list[dict[str, Any]]
    # every object EG gave a status: (kind, namespace, name) -> its negative conditions (none: healthy)
    verdicts: dict[tuple[str, str | None, str], list[Problem]] = field(default_factory=dict)


def case_names(directory: Path) -> list[str]:
    return sorted(
        p.name[: -len(".in.yaml")]
        for p in directory.glob("*.in.yaml")
        if (directory / p.name.replace(".in.yaml", ".out.yaml")).is_file()
    )


def _items(doc: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for key, value in doc.items():
        lower = str(key).lower()
        if lower in SINGLE_SECTIONS and isinstance(value, Mapping):
            yield SINGLE_SECTIONS[lower], dict(value)
        elif lower in SECTIONS and isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    yield SECTIONS[lower], dict(item)


def _key(kind: str, obj: Mapping[str, Any]) -> tuple[str, str | None, str]:
    meta = obj.get("metadata") or {}
    return (kind, meta.get("namespace") or None, str(meta.get("name") or ""))


def _api_version(kind: str) -> str:
    if kind in ("Namespace", "Service", "Secret", "ConfigMap"):
        return "v1"
    if kind == "EndpointSlice":
        return "discovery.k8s.io/v1"
    if kind in (
        "EnvoyProxy", "EnvoyPatchPolicy", "ClientTrafficPolicy", "BackendTrafficPolicy", "SecurityPolicy",
        "EnvoyExtensionPolicy", "Backend", "HTTPRouteFilter",
    ):  # fmt: skip
        return f"{EG}/v1alpha1"
    return f"{GW}/v1"


def problems_of(status: Mapping[str, Any]) -> list[Problem]:
    found: list[Problem] = []

    def scan(conditions: Any, where: str) -> None:
        for cond in conditions or []:
            if not isinstance(cond, Mapping):
                continue
            ctype, cstatus = str(cond.get("type") or ""), str(cond.get("status") or "")
            bad = cstatus == "True" if ctype in NEGATIVE_WHEN_TRUE else cstatus == "False"
            if bad and ctype not in INFORMATIONAL:
                found.append(Problem(ctype, cstatus, str(cond.get("reason") or ""), where))

    scan(status.get("conditions"), "status")
    for entry in status.get("listeners") or []:
        if isinstance(entry, Mapping):
            scan(entry.get("conditions"), f"listener {entry.get('name')}")
    for list_key, ref_key in (("parents", "parentRef"), ("ancestors", "ancestorRef")):
        for entry in status.get(list_key) or []:
            if isinstance(entry, Mapping):
                ref = entry.get(ref_key) or {}
                scan(entry.get("conditions"), f"{ref_key} {ref.get('kind') or ''} {ref.get('name')}".strip())
    return found


def _has_verdict(status: Any) -> bool:
    """EG said something about the object: a condition anywhere in its status."""
    if not isinstance(status, Mapping):
        return False
    if status.get("conditions"):
        return True
    for list_key in ("listeners", "parents", "ancestors"):
        for entry in status.get(list_key) or []:
            if isinstance(entry, Mapping) and entry.get("conditions"):
                return True
    return False


def load_case(directory: Path, name: str) -> Case:
    with open(directory / f"{name}.in.yaml", encoding="utf-8") as fh:
        given = yaml.safe_load(fh) or {}
    with open(directory / f"{name}.out.yaml", encoding="utf-8") as fh:
        computed = yaml.safe_load(fh) or {}
    statuses = {_key(kind, obj): obj.get("status") for kind, obj in _items(computed)}
    case = Case(name, [])
    for kind, obj in _items(given):
        obj = copy.deepcopy(obj)
        obj.setdefault("kind", kind)
        obj.setdefault("apiVersion", _api_version(kind))
        key = _key(kind, obj)
        status = statuses.get(key)
        if isinstance(status, Mapping):
            obj["status"] = copy.deepcopy(dict(status))
        if _has_verdict(status):
            assert isinstance(status, Mapping)
            case.verdicts[key] = problems_of(status)
        case.objects.append(obj)
    _keep_last_of_each_name(case)
    _add_fixtures(case, directory)
    _add_live_cluster_parts(case)
    _strip_nulls(case.objects)
    return case


def _keep_last_of_each_name(case: Case) -> None:
    """A few test files hold two objects of one kind and name; a cluster holds one (the later apply), and
    the out file's status for that name is the later one's."""
    last = {_key(o["kind"], o): i for i, o in enumerate(case.objects)}
    case.objects = [o for i, o in enumerate(case.objects) if last[_key(o["kind"], o)] == i]


def _strip_nulls(objects: list[dict[str, Any]]) -> None:
    """``lastTransitionTime: null`` is how Go's YAML writes an unset time; an API server writes a time."""
    for obj in objects:
        status = obj.get("status")
        if isinstance(status, Mapping):
            _stamp_times(status)


def _stamp_times(value: Any) -> None:
    if isinstance(value, dict):
        if "type" in value and "status" in value and value.get("lastTransitionTime") is None:
            value["lastTransitionTime"] = "2025-01-01T00:00:00Z"
        for inner in value.values():
            _stamp_times(inner)
    elif isinstance(value, list):
        for inner in value:
            _stamp_times(inner)


def _service(namespace: str, name: str, ip: str, ports: list[tuple[str, int, str]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"namespace": namespace, "name": name},
        "spec": {
            "clusterIP": ip,
            "ports": [
                {"name": pname, "port": port, "targetPort": port, "protocol": proto}
                for pname, port, proto in ports
            ],
        },
    }


def _slice(namespace: str, service: str, ip: str, ports: list[tuple[str, int, str]]) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "namespace": namespace,
            "name": f"{service}-endpointslice",
            "labels": {"kubernetes.io/service-name": service},
        },
        "addressType": "IPv4",
        "ports": [{"name": pname, "port": port, "protocol": proto} for pname, port, proto in ports],
        "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}],
    }


def _add_fixtures(case: Case, directory: Path) -> None:
    """What translator_test.go adds to every case (see its "Add common test fixtures")."""
    served = {(o["kind"], (o.get("metadata") or {}).get("namespace"), (o.get("metadata") or {}).get("name"))
              for o in case.objects}  # fmt: skip
    four = [("http", 8080, "TCP"), ("https", 8443, "TCP"), ("tcp", 8163, "TCP"), ("udp", 8162, "UDP")]
    fixtures = []
    for i in range(1, 5):
        fixtures.append(_service("default", f"service-{i}", "1.1.1.1", four))
        fixtures.append(_slice("default", f"service-{i}", "7.7.7.7", four))
    fixtures.append(_service("default", "mirror-service", "2.2.2.2", [("http", 8080, "TCP")]))
    fixtures.append(_slice("default", "mirror-service", "7.6.5.4", [("http", 8080, "TCP")]))
    otel = [("grpc", 4317, "TCP"), ("zipkin", 9411, "TCP")]
    fixtures.append(_service("monitoring", "otel-collector", "3.3.3.3", otel))
    fixtures.append(_slice("monitoring", "otel-collector", "8.7.6.5", otel))
    base = directory / "base" / "base.yaml"
    if base.is_file():
        with open(base, encoding="utf-8") as fh:
            for kind, obj in _items(yaml.safe_load(fh) or {}):
                obj.setdefault("kind", kind)
                obj.setdefault("apiVersion", _api_version(kind))
                fixtures.append(obj)
    for obj in fixtures:
        meta = obj["metadata"]
        if (obj["kind"], meta.get("namespace"), meta.get("name")) not in served:
            case.objects.append(obj)


def _add_live_cluster_parts(case: Case) -> None:
    objects = case.objects
    if not any(o["kind"] == "GatewayClass" for o in objects):
        spec: dict[str, Any] = {"controllerName": CONTROLLER}
        proxy = next((o for o in objects if o["kind"] == "EnvoyProxy"), None)
        if proxy is not None:
            meta = proxy.get("metadata") or {}
            spec["parametersRef"] = {
                "group": EG,
                "kind": "EnvoyProxy",
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
            }
        objects.append(
            {
                "apiVersion": f"{GW}/v1",
                "kind": "GatewayClass",
                "metadata": {"name": CLASS},
                "spec": spec,
                "status": {"conditions": [_condition("Accepted", "True", "Accepted")]},
            }
        )
    services = []
    for index, gateway in enumerate(o for o in objects if o["kind"] == "Gateway"):
        if (gateway.get("spec") or {}).get("gatewayClassName") != CLASS:
            continue
        address = f"198.51.100.{index % 250 + 1}"
        status = gateway.setdefault("status", {})
        conditions = status.setdefault("conditions", [])
        types = {c.get("type") for c in conditions if isinstance(c, Mapping)}
        accepted = next(
            (c.get("status") for c in conditions if isinstance(c, Mapping) and c.get("type") == "Accepted"),
            "True",
        )
        if "Accepted" not in types:
            conditions.append(_condition("Accepted", "True", "Accepted"))
        if "Programmed" not in types:
            if accepted == "True":
                conditions.append(_condition("Programmed", "True", "Programmed"))
            else:
                conditions.append(_condition("Programmed", "False", "Invalid"))
        status.setdefault("addresses", [{"type": "IPAddress", "value": address}])
        services.append(_envoy_service(gateway, address))
    objects.extend(services)
    known = {(o.get("metadata") or {}).get("name") for o in objects if o["kind"] == "Namespace"}
    wanted = {(o.get("metadata") or {}).get("namespace") for o in objects} - {None, ""} - known
    for namespace in sorted(str(n) for n in wanted):
        objects.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})


def _condition(ctype: str, status: str, reason: str) -> dict[str, Any]:
    return {
        "type": ctype,
        "status": status,
        "reason": reason,
        "message": "",
        "lastTransitionTime": "2025-01-01T00:00:00Z",
    }


def _envoy_service(gateway: Mapping[str, Any], address: str) -> dict[str, Any]:
    """The LoadBalancer Service EG's infrastructure layer creates for a Gateway (its labels as in
    internal/infrastructure/kubernetes/proxy/resource.go of envoyproxy/gateway)."""
    meta = gateway.get("metadata") or {}
    name, namespace = str(meta.get("name")), str(meta.get("namespace"))
    labels = {
        "app.kubernetes.io/name": "envoy",
        "app.kubernetes.io/component": "proxy",
        "app.kubernetes.io/managed-by": "envoy-gateway",
        "gateway.envoyproxy.io/owning-gateway-name": name,
        "gateway.envoyproxy.io/owning-gateway-namespace": namespace,
    }
    ports: dict[tuple[int, str], dict[str, Any]] = {}
    for listener in (gateway.get("spec") or {}).get("listeners") or []:
        if not isinstance(listener, Mapping) or not isinstance(listener.get("port"), int):
            continue
        proto = "UDP" if listener.get("protocol") == "UDP" else "TCP"
        port = listener["port"]
        ports.setdefault(
            (port, proto),
            {"name": f"{proto.lower()}-{port}", "port": port, "protocol": proto, "targetPort": 10000 + port},
        )
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": f"envoy-{namespace}-{name}"[:63],
            "namespace": CONTROLLER_NAMESPACE,
            "labels": labels,
        },
        "spec": {
            "type": "LoadBalancer",
            "externalTrafficPolicy": "Local",
            "selector": labels,
            "ports": list(ports.values()),
        },
        "status": {"loadBalancer": {"ingress": [{"ip": address, "ipMode": "Proxy"}]}},
    }
