"""A Kubernetes API server stand-in that speaks the real REST protocol over HTTPS.

egdoctor reads clusters with the official ``kubernetes`` client; this server lets it (and its tests) talk
to a scenario instead of a cluster. It is not a fake client: requests travel over TLS, carry a bearer
token, and are answered with the JSON shapes, status codes and ``Status`` error bodies a real
kube-apiserver produces, so client-side parsing and error handling get exercised for real.

What is served
    ``CATALOGUE`` below is the list of "installed CRDs" plus the core kinds egdoctor reads. A scenario can
    take groups, group versions or single kinds away (``absentGroups``/``absentKinds``): they vanish from
    discovery and their paths answer 404, as on a cluster where the CRDs were never installed. A stored
    object can be read at every served version of its kind; only ``apiVersion`` is rewritten, there is no
    schema conversion. Objects are served verbatim, malformed ones included, because egdoctor's robustness
    against odd controller output is part of what the lab tests. The server only fills
    ``metadata.uid``, ``metadata.resourceVersion`` and ``metadata.creationTimestamp`` when they are missing,
    and the ``kubernetes.io/metadata.name`` label on namespaces (a real API server always sets it, and
    namespace selectors in Gateway ``allowedRoutes`` depend on it). Namespaces that objects live in,
    ``default``, ``kube-system``, ``kube-public``, ``kube-node-lease`` and the context namespace exist even
    when the scenario does not declare them, as on any real cluster.

RBAC denials
    A denial matches on verb (``*`` = every verb), resource plural (``*`` = every resource; ``services``
    also covers ``services/status``) and optionally group. Its namespace decides the scope:

    * no namespace (or ``*``): every request for the resource, in any namespace and at the cluster scope;
    * a concrete namespace: requests in that namespace AND all-namespaces requests for the resource
      (``GET /api/v1/services``), because an identity lacking rights in one namespace cannot hold the
      ClusterRole that a cluster-wide request needs;
    * cluster-scoped resources (namespaces, gatewayclasses, clusterissuers) are only denied by denials
      without a namespace.

    Denied requests get 403 with the message kube-apiserver's RBAC authorizer writes. The identity is
    ``system:serviceaccount:lab:egdoctor``. ``SelfSubjectAccessReview`` answers from the same denials, so
    ``kubectl auth can-i``-style checks agree with what requests experience.

Protocol
    Discovery (``/version``, ``/api``, ``/api/v1``, ``/apis``, ``/apis/{group}``,
    ``/apis/{group}/{version}``), and for every served resource list (namespaced, all-namespaces,
    cluster-scoped), get, create, replace, merge / strategic-merge (treated as merge) / JSON / apply
    patch, delete, deletecollection and the ``status`` subresource. ``labelSelector`` (all operators),
    ``fieldSelector`` (``metadata.name``, ``metadata.namespace`` and a few per-kind fields),
    ``limit``/``continue`` and ``dryRun=All`` work.
    ``watch`` answers 405. Writes keep real semantics where clients can observe them: ``status`` is only
    written through the subresource, custom resources get ``metadata.generation`` bumped on spec changes,
    ``resourceVersion`` preconditions give 409 Conflict, deleting a namespace deletes its contents.
    ``/openapi/v3`` and one OpenAPI v3 document per served group-version (egdoctor_lab/openapi.py):
    operations and parameters only, no schemas, enough for ``kubectl apply``/``create`` to leave
    validation to the server under their default ``--validate=strict``. ``fieldValidation=Strict``
    rejects unknown top-level fields on create, replace and merge / strategic / JSON patches with
    kube-apiserver's answers (400 BadRequest, 422 Invalid for patches); ``Warn`` and ``Ignore`` accept
    them (without the warning or the pruning kube-apiserver does); nested fields and server-side apply
    patches are not checked.

Pod logs
    ``GET .../pods/{name}/log`` answers ``text/plain`` from ``LabApi.pod_logs`` (set by whoever runs a
    data path; without one a pod has an empty log), with kube-apiserver's container rules (one
    container is the default, several need ``container``) and ``sinceSeconds``, ``sinceTime``,
    ``tailLines``, ``limitBytes`` and ``timestamps``. ``follow`` returns what is there and ends. RBAC
    denials name the resource ``pods/log``.

Store events
    ``LabStore.subscribe`` registers a callback for writes made through the API (create, update,
    patch, delete), so the lab can play a controller: it runs synchronously after the write, before
    the client gets its answer, so a client that reads right after its write sees the controller's
    reaction, as it would once a real controller had caught up.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import hmac
import json
import os
import re
import secrets
import shutil
import socket
import socketserver
import ssl
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, unquote

import yaml

from egdoctor_lab import openapi
from egdoctor_lab.faults import FaultBook, broken_body
from egdoctor_lab.faults import Request as FaultRequest
from egdoctor_lab.pki import LabPki, create_pki
from egdoctor_lab.scenario import (
    LabSettings,
    Scenario,
    ScenarioError,
    YamlLoader,
    is_settings_document,
    load_scenario,
)

LAB_USER = "system:serviceaccount:lab:egdoctor"
KUBERNETES_VERSION = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.4",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-12-10T00:00:00Z",
    "goVersion": "go1.22.9",
    "compiler": "gc",
    "platform": "linux/amd64",
}
STANDARD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
ALWAYS_PRESENT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
_BUILTIN_GROUPS = frozenset({"", "discovery.k8s.io", "authorization.k8s.io"})


@dataclass(frozen=True)
class ResourceType:
    """One served kind. ``versions`` lists served versions, the preferred one first."""

    group: str
    versions: tuple[str, ...]
    plural: str
    singular: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status: bool = True  # has a /status subresource
    field_selectors: tuple[str, ...] = ()  # beyond metadata.name and metadata.namespace
    verbs: tuple[str, ...] = STANDARD_VERBS
    stored: bool = True  # False for review kinds that are answered on the spot and never stored

    @property
    def qualified(self) -> str:
        """The group-qualified plural that kube-apiserver puts in error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def custom(self) -> bool:
        return self.group not in _BUILTIN_GROUPS

    def api_version(self, version: str) -> str:
        return f"{self.group}/{version}" if self.group else version


_GW = "gateway.networking.k8s.io"
_EG = "gateway.envoyproxy.io"
_GWX = "gateway.networking.x-k8s.io"
_CM = "cert-manager.io"
_ACME = "acme.cert-manager.io"
_POD_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)
_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)

# The lab's "installed CRDs" and core kinds. Extend here; everything else derives from this table.
# fmt: off
CATALOGUE: tuple[ResourceType, ...] = (
    ResourceType("", ("v1",), "namespaces", "namespace", "Namespace", namespaced=False, short_names=("ns",),
                 field_selectors=("status.phase",)),
    ResourceType("", ("v1",), "services", "service", "Service", short_names=("svc",), categories=("all",)),
    ResourceType("", ("v1",), "secrets", "secret", "Secret", status=False, field_selectors=("type",)),
    ResourceType("", ("v1",), "configmaps", "configmap", "ConfigMap", short_names=("cm",), status=False),
    ResourceType("", ("v1",), "endpoints", "endpoints", "Endpoints", short_names=("ep",), status=False),
    ResourceType("", ("v1",), "pods", "pod", "Pod", short_names=("po",), categories=("all",),
                 field_selectors=_POD_FIELDS),
    ResourceType("", ("v1",), "nodes", "node", "Node", namespaced=False, short_names=("no",),
                 field_selectors=("spec.unschedulable",)),
    ResourceType("", ("v1",), "events", "event", "Event", short_names=("ev",), status=False,
                 field_selectors=_EVENT_FIELDS),
    ResourceType("apps", ("v1",), "deployments", "deployment", "Deployment", short_names=("deploy",),
                 categories=("all",)),
    ResourceType("discovery.k8s.io", ("v1",), "endpointslices", "endpointslice", "EndpointSlice",
                 status=False),
    ResourceType("authorization.k8s.io", ("v1",), "selfsubjectaccessreviews", "", "SelfSubjectAccessReview",
                 namespaced=False, status=False, verbs=("create",), stored=False),
    ResourceType(_GW, ("v1", "v1beta1"), "gatewayclasses", "gatewayclass", "GatewayClass", namespaced=False,
                 short_names=("gc",), categories=("gateway-api",)),
    ResourceType(_GW, ("v1", "v1beta1"), "gateways", "gateway", "Gateway", short_names=("gtw",),
                 categories=("gateway-api",)),
    ResourceType(_GW, ("v1", "v1beta1"), "httproutes", "httproute", "HTTPRoute", categories=("gateway-api",)),
    ResourceType(_GW, ("v1",), "grpcroutes", "grpcroute", "GRPCRoute", categories=("gateway-api",)),
    ResourceType(_GW, ("v1beta1", "v1"), "referencegrants", "referencegrant", "ReferenceGrant",
                 short_names=("refgrant",), categories=("gateway-api",), status=False),
    ResourceType(_GW, ("v1alpha2",), "tcproutes", "tcproute", "TCPRoute", categories=("gateway-api",)),
    ResourceType(_GW, ("v1alpha2",), "tlsroutes", "tlsroute", "TLSRoute", categories=("gateway-api",)),
    ResourceType(_GW, ("v1alpha2",), "udproutes", "udproute", "UDPRoute", categories=("gateway-api",)),
    ResourceType(_GW, ("v1",), "listenersets", "listenerset", "ListenerSet", short_names=("lset",),
                 categories=("gateway-api",)),
    ResourceType(_GWX, ("v1alpha1",), "xlistenersets", "xlistenerset", "XListenerSet",
                 categories=("gateway-api",)),
    ResourceType(_GW, ("v1", "v1alpha3"), "backendtlspolicies", "backendtlspolicy", "BackendTLSPolicy",
                 short_names=("btlspolicy",), categories=("gateway-api",)),
    ResourceType(_EG, ("v1alpha1",), "clienttrafficpolicies", "clienttrafficpolicy", "ClientTrafficPolicy",
                 short_names=("ctp",), categories=("envoy-gateway",)),
    ResourceType(_EG, ("v1alpha1",), "backendtrafficpolicies", "backendtrafficpolicy", "BackendTrafficPolicy",
                 short_names=("btp",), categories=("envoy-gateway",)),
    ResourceType(_EG, ("v1alpha1",), "securitypolicies", "securitypolicy", "SecurityPolicy",
                 short_names=("sp",), categories=("envoy-gateway",)),
    ResourceType(_EG, ("v1alpha1",), "envoyproxies", "envoyproxy", "EnvoyProxy", short_names=("eproxy",),
                 categories=("envoy-gateway",)),
    ResourceType(_EG, ("v1alpha1",), "httproutefilters", "httproutefilter", "HTTPRouteFilter",
                 short_names=("hrf",), categories=("envoy-gateway",), status=False),
    ResourceType(_EG, ("v1alpha1",), "envoyextensionpolicies", "envoyextensionpolicy", "EnvoyExtensionPolicy",
                 short_names=("eep",), categories=("envoy-gateway",)),
    ResourceType(_EG, ("v1alpha1",), "envoypatchpolicies", "envoypatchpolicy", "EnvoyPatchPolicy",
                 short_names=("epp",), categories=("envoy-gateway",)),
    ResourceType(_EG, ("v1alpha1",), "backends", "backend", "Backend", short_names=("be",),
                 categories=("envoy-gateway",)),
    ResourceType(_CM, ("v1",), "certificates", "certificate", "Certificate", short_names=("cert", "certs"),
                 categories=("cert-manager",)),
    ResourceType(_CM, ("v1",), "certificaterequests", "certificaterequest", "CertificateRequest",
                 short_names=("cr", "crs"), categories=("cert-manager",)),
    ResourceType(_CM, ("v1",), "issuers", "issuer", "Issuer", categories=("cert-manager",)),
    ResourceType(_CM, ("v1",), "clusterissuers", "clusterissuer", "ClusterIssuer", namespaced=False,
                 categories=("cert-manager",)),
    ResourceType(_ACME, ("v1",), "orders", "order", "Order",
                 categories=("cert-manager", "cert-manager-acme")),
    ResourceType(_ACME, ("v1",), "challenges", "challenge", "Challenge",
                 categories=("cert-manager", "cert-manager-acme")),
)
# fmt: on


def version_priority(version: str) -> tuple[int, int, int]:
    """Sort key putting versions in kube-apiserver's preference order (GA > beta > alpha, newer first)."""
    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (0, 0, 0)
    stage = {"alpha": 1, "beta": 2}.get(match.group(2) or "", 3)
    return (stage, int(match.group(1)), int(match.group(3) or 0))


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _group_of(api_version: Any) -> str | None:
    if not isinstance(api_version, str) or not api_version:
        return None
    return api_version.split("/", 1)[0] if "/" in api_version else ""


# --------------------------------------------------------------------------------------------------------
# Errors


def status_object(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


class ApiError(Exception):
    """An error answered as a ``Status`` body."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        return status_object(self.code, self.reason, self.message, self.details)


def _details(rt: ResourceType, name: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.plural
    return details


def _not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rt.qualified} "{name}" not found', _details(rt, name))


def _no_such_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def _namespace_not_found(namespace: str) -> ApiError:
    return ApiError(
        404, "NotFound", f'namespaces "{namespace}" not found', {"name": namespace, "kind": "namespaces"}
    )


def _already_exists(rt: ResourceType, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{rt.qualified} "{name}" already exists', _details(rt, name))


def _conflict(rt: ResourceType, name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {rt.qualified} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        _details(rt, name),
    )


def _bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def _invalid(rt: ResourceType, name: str, message: str) -> ApiError:
    qualified_kind = f"{rt.kind}.{rt.group}" if rt.group else rt.kind
    return ApiError(422, "Invalid", f'{qualified_kind} "{name}" is invalid: {message}', _details(rt, name))


def _method_not_allowed() -> ApiError:
    return ApiError(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {}
    )


def _unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def forbidden_message(
    rt: ResourceType, verb: str, namespace: str | None, name: str | None, subresource: str | None
) -> str:
    """kube-apiserver's wording for an RBAC denial (responsewriters.forbiddenMessage + NewForbidden)."""
    resource = f"{rt.plural}/{subresource}" if subresource else rt.plural
    if namespace:
        reason = (
            f'User "{LAB_USER}" cannot {verb} resource "{resource}" in API group "{rt.group}" '
            f'in the namespace "{namespace}"'
        )
    else:
        reason = (
            f'User "{LAB_USER}" cannot {verb} resource "{resource}" in API group "{rt.group}" '
            "at the cluster scope"
        )
    subject = f'{rt.qualified} "{name}"' if name else rt.qualified
    return f"{subject} is forbidden: {reason}"


# --------------------------------------------------------------------------------------------------------
# Selectors

_KEY = r"[A-Za-z0-9](?:[-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET_RE = re.compile(rf"({_KEY})\s+(in|notin)\s*\((.*)\)")
_OP_RE = re.compile(rf"({_KEY})\s*(==|=|!=|>|<)\s*({_VALUE})")
_NOT_EXISTS_RE = re.compile(rf"!\s*({_KEY})")
_EXISTS_RE = re.compile(_KEY)
_VALUE_RE = re.compile(_VALUE)


class SelectorError(ValueError):
    pass


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


@dataclass(frozen=True)
class LabelRequirement:
    key: str
    operator: str  # =, !=, in, notin, exists, !, >, <
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if self.operator == "=":
            return present and value == self.values[0]
        if self.operator == "!=":
            return not present or value != self.values[0]
        if self.operator == "in":
            return present and value in self.values
        if self.operator == "notin":
            return not present or value not in self.values
        try:
            number = int(value) if value is not None else None
        except ValueError:
            return False
        if number is None:
            return False
        limit = int(self.values[0])
        return number > limit if self.operator == ">" else number < limit


@dataclass(frozen=True)
class LabelSelector:
    """A parsed ``labelSelector`` query parameter (kube's string syntax); comma means AND."""

    requirements: tuple[LabelRequirement, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> LabelSelector:
        if text is None or not text.strip():
            return cls()
        requirements = []
        for raw in _split_top_level(text):
            term = raw.strip()
            if not term:
                raise SelectorError(f"unable to parse requirement: empty term in {text!r}")
            requirements.append(cls._parse_term(term))
        return cls(tuple(requirements))

    @staticmethod
    def _parse_term(term: str) -> LabelRequirement:
        if m := _SET_RE.fullmatch(term):
            values = tuple(v.strip() for v in m.group(3).split(","))
            if values == ("",):
                raise SelectorError(f"for 'in', 'notin' operators, values set can't be empty: {term!r}")
            for value in values:
                if not _VALUE_RE.fullmatch(value):
                    raise SelectorError(f"unable to parse requirement: invalid label value {value!r}")
            return LabelRequirement(m.group(1), m.group(2), values)
        if m := _OP_RE.fullmatch(term):
            operator = "=" if m.group(2) == "==" else m.group(2)
            if operator in (">", "<") and not re.fullmatch(r"-?\d+", m.group(3)):
                raise SelectorError(f"unable to parse requirement: {term!r}: 'Gt', 'Lt' need an integer")
            return LabelRequirement(m.group(1), operator, (m.group(3),))
        if m := _NOT_EXISTS_RE.fullmatch(term):
            return LabelRequirement(m.group(1), "!")
        if _EXISTS_RE.fullmatch(term):
            return LabelRequirement(term, "exists")
        raise SelectorError(f"unable to parse requirement: {term!r}")

    def matches(self, labels: Any) -> bool:
        # Malformed objects may carry labels that are not a string map; they match as if unlabelled.
        clean = {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}
        return all(r.matches(clean) for r in self.requirements)


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def parse_field_selector(text: str | None, rt: ResourceType) -> list[tuple[str, str, str]]:
    if text is None or not text.strip():
        return []
    supported = {"metadata.name", "metadata.namespace", *rt.field_selectors}
    terms = []
    for raw in text.split(","):
        m = re.fullmatch(r"\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*", raw)
        if not m:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{raw}'")
        if m.group(1) not in supported:
            raise SelectorError(f"field label not supported: {m.group(1)}")
        terms.append((m.group(1), "!=" if m.group(2) == "!=" else "=", m.group(3)))
    return terms


def _fields_match(obj: Mapping[str, Any], terms: list[tuple[str, str, str]]) -> bool:
    return all((_field_value(obj, path) == value) == (operator == "=") for path, operator, value in terms)


# --------------------------------------------------------------------------------------------------------
# Patches


class PatchError(ValueError):
    pass


def merge_patch(target: Any, patch: Any, *, strip_directives: bool = False) -> Any:
    """RFC 7386 JSON merge patch; ``strip_directives`` drops strategic-merge ``$`` keys."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if strip_directives and isinstance(key, str) and key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value, strip_directives=strip_directives)
    return result


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise PatchError(f"invalid JSON pointer {path!r}")
    if path == "":
        return []
    return [token.replace("~1", "/").replace("~0", "~") for token in path[1:].split("/")]


def _index(container: list[Any], token: str, *, allow_end: bool) -> int:
    if allow_end and token == "-":
        return len(container)
    if not re.fullmatch(r"0|[1-9]\d*", token):
        raise PatchError(f"invalid array index {token!r}")
    index = int(token)
    if index > len(container) or (index == len(container) and not allow_end):
        raise PatchError(f"array index {index} out of range")
    return index


def _walk(doc: Any, tokens: list[str]) -> Any:
    node = doc
    for token in tokens:
        if isinstance(node, dict):
            if token not in node:
                raise PatchError(f"path /{'/'.join(tokens)} does not exist")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, allow_end=False)]
        else:
            raise PatchError(f"path /{'/'.join(tokens)} does not exist")
    return node


def _ptr_add(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _walk(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, allow_end=True), value)
    else:
        raise PatchError(f"cannot add at /{'/'.join(tokens)}")
    return doc


def _ptr_remove(doc: Any, tokens: list[str]) -> Any:
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _walk(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        del parent[last]
    elif isinstance(parent, list):
        del parent[_index(parent, last, allow_end=False)]
    else:
        raise PatchError(f"path /{'/'.join(tokens)} does not exist")
    return doc


def json_patch(doc: Any, operations: Any) -> Any:
    """RFC 6902 JSON patch."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in operations:
        if not isinstance(op, Mapping) or "op" not in op:
            raise PatchError(f"invalid JSON patch operation {op!r}")
        tokens = _pointer(op.get("path"))
        kind = op["op"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"operation {kind} needs a value")
        if kind == "add":
            doc = _ptr_add(doc, tokens, copy.deepcopy(op["value"]))
        elif kind == "remove":
            doc = _ptr_remove(doc, tokens)
        elif kind == "replace":
            _walk(doc, tokens)
            doc = (
                _ptr_add(_ptr_remove(doc, tokens), tokens, copy.deepcopy(op["value"]))
                if tokens
                else op["value"]
            )
        elif kind in ("move", "copy"):
            source = _pointer(op.get("from"))
            value = copy.deepcopy(_walk(doc, source))
            if kind == "move":
                doc = _ptr_remove(doc, source)
            doc = _ptr_add(doc, tokens, value)
        elif kind == "test":
            if _walk(doc, tokens) != op["value"]:
                raise PatchError(f"test operation failed at {op.get('path')}")
        else:
            raise PatchError(f"unknown JSON patch operation {kind!r}")
    return doc


# --------------------------------------------------------------------------------------------------------
# Store

_Key = tuple[str, str, str, str]  # group, plural, namespace ("" when cluster-scoped), name
# Aliases, because inside LabStore the name ``list`` is the method.
_Objects = list[dict[str, Any]]
_Keys = list[_Key]
_Lines = list[str]


def _without_api_version(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "apiVersion"}


def _content(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The part of an object whose change bumps metadata.generation."""
    return {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata", "status")}


@dataclass(frozen=True)
class StoreEvent:
    """A write made through the API: ``object`` as the client got it back (for a delete, the last state)."""

    verb: str  # create, update, patch or delete
    resource: ResourceType
    object: dict[str, Any]
    subresource: str | None = None

    @property
    def namespace(self) -> str | None:
        return (self.object.get("metadata") or {}).get("namespace")

    @property
    def name(self) -> str:
        return str((self.object.get("metadata") or {}).get("name") or "")


StoreListener = Callable[[StoreEvent], None]


class LabStore:
    """Thread-safe in-memory object store, keyed by group, plural, namespace and name.

    Tests read it through ``get``/``list``/``objects``; the server mutates it under ``lock``.
    """

    def __init__(self, types: Iterable[ResourceType] = CATALOGUE) -> None:
        self.lock = threading.RLock()
        self._types: dict[tuple[str, str], ResourceType] = {
            (rt.group, rt.plural): rt for rt in types if rt.stored
        }
        self._objects: dict[_Key, dict[str, Any]] = {}
        self._rv = 0
        self._listeners: list[tuple[StoreListener, frozenset[str] | None]] = []

    # -- events -------------------------------------------------------------------------------------------

    def subscribe(self, listener: StoreListener, kinds: Iterable[str] | None = None) -> Callable[[], None]:
        """Call ``listener`` for API writes of the given kinds (all kinds when None); returns an unsubscribe.

        Listeners run without the store lock held; writes they make to the store directly fire no events.
        """
        entry = (listener, frozenset(kinds) if kinds is not None else None)
        with self.lock:
            self._listeners.append(entry)

        def unsubscribe() -> None:
            with self.lock:
                if entry in self._listeners:
                    self._listeners.remove(entry)

        return unsubscribe

    def notify(self, event: StoreEvent) -> None:
        with self.lock:
            listeners = list(self._listeners)
        for listener, kinds in listeners:
            if kinds is not None and event.resource.kind not in kinds:
                continue
            try:
                listener(event)
            except Exception:
                # A broken listener must not turn a committed write into an error for the client.
                traceback.print_exc()

    # -- lookups ------------------------------------------------------------------------------------------

    @property
    def types(self) -> Sequence[ResourceType]:
        return list(self._types.values())

    def resource_type(self, resource: str) -> ResourceType:
        """Resolve ``services``, ``httproutes.gateway.networking.k8s.io``, ``HTTPRoute`` or ``group/Kind``."""
        wanted = resource.lower()
        group: str | None = None
        if "/" in wanted:
            group, wanted = wanted.rsplit("/", 1)
            group = "" if group in ("", "core", "v1") else group
        candidates = [
            rt
            for rt in self._types.values()
            if (group is None or rt.group == group)
            and wanted in (rt.plural, rt.kind.lower(), rt.qualified, rt.singular, *rt.short_names)
        ]
        if len(candidates) != 1:
            raise KeyError(f"unknown or ambiguous resource {resource!r}")
        return candidates[0]

    def type_for_object(self, obj: Mapping[str, Any]) -> ResourceType | None:
        group = _group_of(obj.get("apiVersion"))
        kind = obj.get("kind")
        for rt in self._types.values():
            if rt.group == group and rt.kind == kind:
                return rt
        return None

    @staticmethod
    def key_for(rt: ResourceType, namespace: str | None, name: str) -> _Key:
        return (rt.group, rt.plural, (namespace or "") if rt.namespaced else "", name)

    # -- reads for tests ----------------------------------------------------------------------------------

    @property
    def resource_version(self) -> str:
        with self.lock:
            return str(self._rv)

    def get(self, resource: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        rt = self.resource_type(resource)
        with self.lock:
            obj = self._objects.get(self.key_for(rt, namespace or "default", name))
            return copy.deepcopy(obj) if obj is not None else None

    def list(self, resource: str, namespace: str | None = None) -> _Objects:
        rt = self.resource_type(resource)
        with self.lock:
            return [copy.deepcopy(o) for o in self.items(rt, namespace)]

    def objects(self) -> _Objects:
        with self.lock:
            return [copy.deepcopy(self._objects[k]) for k in sorted(self._objects)]

    def __len__(self) -> int:
        with self.lock:
            return len(self._objects)

    # -- primitives (callers hold the lock) --------------------------------------------------------------

    def next_resource_version(self) -> str:
        with self.lock:
            self._rv += 1
            return str(self._rv)

    def peek_resource_version(self) -> str:
        with self.lock:
            return str(self._rv + 1)

    def lookup(self, key: _Key) -> dict[str, Any] | None:
        return self._objects.get(key)

    def put(self, key: _Key, obj: dict[str, Any]) -> None:
        with self.lock:
            self._objects[key] = obj

    def remove(self, key: _Key) -> dict[str, Any] | None:
        with self.lock:
            return self._objects.pop(key, None)

    def items(self, rt: ResourceType, namespace: str | None) -> _Objects:
        """Stored objects of a type in key order; ``namespace`` None means every namespace."""
        with self.lock:
            keys = sorted(
                k
                for k in self._objects
                if k[0] == rt.group and k[1] == rt.plural and (namespace is None or k[2] == namespace)
            )
            return [self._objects[k] for k in keys]

    def keys_in_namespace(self, namespace: str) -> _Keys:
        with self.lock:
            return [k for k in self._objects if k[2] == namespace and (k[0], k[1]) != ("", "namespaces")]

    def namespace_exists(self, namespace: str) -> bool:
        with self.lock:
            return ("", "namespaces", "", namespace) in self._objects

    # -- loading ------------------------------------------------------------------------------------------

    def add(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Admit an object the way scenario objects are admitted; returns the stored copy."""
        stored = self._admit(copy.deepcopy(dict(obj)))
        if isinstance(stored, str):
            raise ValueError(stored)
        return copy.deepcopy(stored)

    def load(self, objects: Iterable[Any], extra_namespaces: Iterable[str] = ()) -> Sequence[str]:
        """Admit scenario objects; returns one line per object that is not served and why."""
        skipped: _Lines = []
        with self.lock:
            for obj in objects:
                if is_settings_document(obj):
                    continue
                if not isinstance(obj, dict):
                    skipped.append(f"{type(obj).__name__} document: not an object")
                    continue
                outcome = self._admit(copy.deepcopy(obj))
                if isinstance(outcome, str):
                    skipped.append(outcome)
            self._synthesise_namespaces(extra_namespaces)
        return skipped

    def _admit(self, obj: dict[str, Any]) -> dict[str, Any] | str:
        raw_meta = obj.get("metadata")
        meta_for_label: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        where = "/".join(str(meta_for_label[k]) for k in ("namespace", "name") if meta_for_label.get(k))
        label = f"{obj.get('kind')} {where or '<unnamed>'} ({obj.get('apiVersion')})"
        rt = self.type_for_object(obj)
        if rt is None:
            return f"{label}: kind not served by the lab (absent or not in the catalogue)"
        meta = obj.setdefault("metadata", {})
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            return f"{label}: metadata is not a mapping"
        name = meta.get("name")
        name = name if isinstance(name, str) else ""
        if rt.namespaced:
            namespace = meta.get("namespace")
            if not isinstance(namespace, str) or not namespace:
                namespace = meta["namespace"] = "default"
        else:
            namespace = ""
        key = self.key_for(rt, namespace, name)
        with self.lock:
            if key in self._objects:
                where = f"{namespace}/{name}" if namespace else name
                raise ScenarioError(f"duplicate object: {rt.kind} {where} appears twice")
            meta.setdefault("uid", str(uuid.uuid5(uuid.NAMESPACE_URL, f"egdoctor-lab:{'/'.join(key)}")))
            given = meta.get("resourceVersion")
            if isinstance(given, str) and given.isdigit():
                self._rv = max(self._rv, int(given))
            else:
                meta["resourceVersion"] = self.next_resource_version()
            meta.setdefault("creationTimestamp", _now())
            if rt.kind == "Namespace" and name:
                labels = meta.setdefault("labels", {})
                if isinstance(labels, dict):
                    labels.setdefault(NAMESPACE_NAME_LABEL, name)
            self._objects[key] = obj
        return obj

    def _synthesise_namespaces(self, extra: Iterable[str]) -> None:
        if ("", "namespaces") not in self._types:
            return
        wanted = set(ALWAYS_PRESENT_NAMESPACES) | {n for n in extra if n}
        wanted |= {k[2] for k in self._objects if k[2]}
        for name in sorted(wanted):
            if not self.namespace_exists(name):
                self._admit(
                    {
                        "apiVersion": "v1",
                        "kind": "Namespace",
                        "metadata": {"name": name},
                        "spec": {"finalizers": ["kubernetes"]},
                        "status": {"phase": "Active"},
                    }
                )


# --------------------------------------------------------------------------------------------------------
# Request handling (no sockets here)


def is_served(rt: ResourceType, version: str, settings: LabSettings) -> bool:
    if rt.group in settings.absent_groups or (rt.group, version) in settings.absent_group_versions:
        return False
    names = {rt.kind.lower(), rt.plural}
    for group, kind_version, kind in settings.absent_kinds:
        if kind in names and group in (None, rt.group) and kind_version in (None, version):
            return False
    return True


def served_resources(settings: LabSettings) -> dict[tuple[str, str], dict[str, ResourceType]]:
    """Per (group, version): the resources discovery lists and requests may reach."""
    served: dict[tuple[str, str], dict[str, ResourceType]] = {}
    for rt in CATALOGUE:
        for version in rt.versions:
            if is_served(rt, version, settings):
                served.setdefault((rt.group, version), {})[rt.plural] = rt
    return served


def served_types(settings: LabSettings) -> list[ResourceType]:
    """Kinds served at one version at least; objects of any other kind are not stored."""
    seen: dict[tuple[str, str], ResourceType] = {}
    for resources in served_resources(settings).values():
        for rt in resources.values():
            seen[(rt.group, rt.plural)] = rt
    return list(seen.values())


@dataclass
class ApiRequest:
    method: str
    path: str
    query: str
    headers: Mapping[str, str] | Message
    body: bytes = b""


@dataclass
class ApiResponse:
    status: int
    payload: Any
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    body_fault: str | None = None  # egdoctor_lab.scenario.FAULT_BODIES: the body is broken on the wire

    def encode(self) -> bytes:
        if isinstance(self.payload, bytes):
            return self.payload
        if isinstance(self.payload, str):
            return self.payload.encode("utf-8")
        return json.dumps(self.payload, separators=(",", ":"), default=str).encode("utf-8")


_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


class LabApi:
    """Turns requests into responses against a store; the HTTP layer lives in ``LabApiServer``."""

    def __init__(self, store: LabStore, settings: LabSettings, token: str) -> None:
        self.store = store
        self.settings = settings
        self.token = token
        self.served = served_resources(settings)
        self._openapi: dict[str, bytes] | None = None
        self.fault_book = FaultBook(settings.faults)
        # (namespace, pod, container) -> (unix time, line) pairs, oldest first; None: no log.
        self.pod_logs: Callable[[str, str, str], Sequence[tuple[float, str]] | None] | None = None

    # -- catalogue filtering -------------------------------------------------------------------------------

    def group_versions(self, group: str) -> list[str]:
        versions = {v for (g, v) in self.served if g == group}
        return sorted(versions, key=version_priority, reverse=True)

    def groups(self) -> list[str]:
        order: list[str] = []
        for rt in CATALOGUE:
            if rt.group and rt.group not in order and self.group_versions(rt.group):
                order.append(rt.group)
        return order

    # -- entry point ----------------------------------------------------------------------------------------

    def handle(self, req: ApiRequest) -> tuple[ApiResponse, dict[str, Any]]:
        info: dict[str, Any] = {}
        try:
            if self.settings.latency_ms:
                time.sleep(self.settings.latency_ms / 1000.0)
            response = self._route(req, info)
            if info.get("bodyFault") and response.status == 200:
                response.body_fault = info["bodyFault"]
        except ApiError as err:
            response = ApiResponse(err.code, err.status(), headers=err.headers)
        except Exception as exc:
            # A lab bug must reach the client as a 500 it can report, not as a dropped connection.
            traceback.print_exc()
            response = ApiResponse(
                500, status_object(500, "InternalError", f"Internal error occurred: {exc}", {})
            )
        return response, info

    def _authenticated(self, req: ApiRequest) -> bool | None:
        """True/False for a valid/invalid bearer token, None when no credentials were sent."""
        header = req.headers.get("Authorization")
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(value.strip().encode(), self.token.encode())

    def _route(self, req: ApiRequest, info: dict[str, Any]) -> ApiResponse:
        segments = [unquote(s) for s in req.path.split("/") if s]
        params = parse_qs(req.query, keep_blank_values=True)
        auth = self._authenticated(req)
        if segments and segments[0] in ("healthz", "livez", "readyz") and auth is not False:
            # Health endpoints are open to anonymous callers on a default kube-apiserver.
            return ApiResponse(200, "ok", "text/plain; charset=utf-8")
        if not auth:
            raise _unauthorized()
        if req.method not in ("GET", "HEAD") and segments[:1] not in (["api"], ["apis"]):
            raise _method_not_allowed()
        if not segments:
            return ApiResponse(200, {"paths": self._root_paths()})
        if segments[:2] == ["openapi", "v3"]:
            self._get_only(req, {})
            return self._openapi_v3("/".join(segments[2:]))
        if len(segments) <= {"api": 2, "apis": 3}.get(segments[0], 0):
            self._apply_faults(FaultRequest("get", "", "discovery", None, None, False, False), info)
        if segments == ["version"]:
            return ApiResponse(200, dict(KUBERNETES_VERSION))
        if segments[0] == "api":
            if len(segments) == 1:
                return self._get_only(req, self._api_versions(req))
            if segments[1] != "v1":
                raise _no_such_path()
            group, version, rest = "", "v1", segments[2:]
        elif segments[0] == "apis":
            if len(segments) == 1:
                return self._get_only(req, self._group_list())
            group = segments[1]
            if not self.group_versions(group):
                raise _no_such_path()
            if len(segments) == 2:
                return self._get_only(req, {"kind": "APIGroup", "apiVersion": "v1", **self._group(group)})
            version, rest = segments[2], segments[3:]
        else:
            raise _no_such_path()
        if (group, version) not in self.served:
            raise _no_such_path()
        if not rest:
            return self._get_only(req, self._resource_list(group, version))
        return self._resource_request(req, params, group, version, rest, info)

    @staticmethod
    def _get_only(req: ApiRequest, payload: dict[str, Any]) -> ApiResponse:
        if req.method not in ("GET", "HEAD"):
            raise _method_not_allowed()
        return ApiResponse(200, payload)

    # -- discovery -----------------------------------------------------------------------------------------

    def _root_paths(self) -> list[str]:
        paths = ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v3", "/readyz", "/version"]
        for group in self.groups():
            paths.append(f"/apis/{group}")
            paths.extend(f"/apis/{group}/{v}" for v in self.group_versions(group))
        return sorted(paths)

    def _openapi_documents(self) -> dict[str, bytes]:
        if self._openapi is None:
            by_group_version: dict[str, list[ResourceType]] = {}
            for (group, version), resources in self.served.items():
                path = openapi.group_version_path(group, version)
                by_group_version[path] = list(resources.values())
            server_version = str(KUBERNETES_VERSION["gitVersion"])
            self._openapi = {
                path: openapi.encode(
                    openapi.group_version_document(types, path.rsplit("/", 1)[-1], server_version)
                )
                for path, types in by_group_version.items()
            }
        return self._openapi

    def _openapi_v3(self, path: str) -> ApiResponse:
        documents = self._openapi_documents()
        if not path:
            return ApiResponse(200, openapi.index(documents))
        if path not in documents:
            raise _no_such_path()
        return ApiResponse(200, documents[path])

    @staticmethod
    def _api_versions(req: ApiRequest) -> dict[str, Any]:
        host = req.headers.get("Host") or "127.0.0.1"
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
        }

    def _group(self, group: str) -> dict[str, Any]:
        versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in self.group_versions(group)]
        return {"name": group, "versions": versions, "preferredVersion": versions[0]}

    def _group_list(self) -> dict[str, Any]:
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [self._group(g) for g in self.groups()]}

    def _resource_list(self, group: str, version: str) -> dict[str, Any]:
        resources: list[dict[str, Any]] = []
        for rt in self.served[(group, version)].values():
            entry: dict[str, Any] = {
                "name": rt.plural,
                "singularName": rt.singular,
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": list(rt.verbs),
            }
            if rt.short_names:
                entry["shortNames"] = list(rt.short_names)
            if rt.categories:
                entry["categories"] = list(rt.categories)
            resources.append(entry)
            if rt.status:
                resources.append(
                    {
                        "name": f"{rt.plural}/status",
                        "singularName": "",
                        "namespaced": rt.namespaced,
                        "kind": rt.kind,
                        "verbs": ["get", "patch", "update"],
                    }
                )
            if (rt.group, rt.plural) == ("", "pods"):
                resources.append(
                    {
                        "name": "pods/log",
                        "singularName": "",
                        "namespaced": True,
                        "kind": "Pod",
                        "verbs": ["get"],
                    }
                )
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }

    # -- resources -----------------------------------------------------------------------------------------

    def _resource_request(
        self,
        req: ApiRequest,
        params: dict[str, list[str]],
        group: str,
        version: str,
        rest: list[str],
        info: dict[str, Any],
    ) -> ApiResponse:
        served = self.served[(group, version)]
        namespace: str | None = None
        if (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
        ):
            namespace, rest = rest[1], rest[2:]
            rt = served.get(rest[0])
            if rt is None or not rt.namespaced or len(rest) > 3:
                raise _no_such_path()
        else:
            rt = served.get(rest[0])
            if rt is None or len(rest) > 3 or (rt.namespaced and len(rest) > 1):
                raise _no_such_path()
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        info.update(group=group, version=version, resource=rt.plural, namespace=namespace, name=name)
        if subresource is not None:
            info["subresource"] = subresource
            is_log = subresource == "log" and (rt.group, rt.plural) == ("", "pods")
            if not is_log and (subresource != "status" or not rt.status):
                raise _no_such_path()

        watch = _param(params, "watch") in ("true", "1")
        verb = {
            ("GET", False): "watch" if watch else "list",
            ("GET", True): "watch" if watch else "get",
            ("HEAD", False): "list",
            ("HEAD", True): "get",
            ("POST", False): "create",
            ("PUT", True): "update",
            ("PATCH", True): "patch",
            ("DELETE", True): "delete",
            ("DELETE", False): "deletecollection",
        }.get((req.method, name is not None))
        if verb is None or verb not in rt.verbs:
            raise _method_not_allowed()
        if subresource and verb not in (("get",) if subresource == "log" else ("get", "update", "patch")):
            raise _method_not_allowed()
        if verb == "create" and rt.namespaced and namespace is None:
            raise _method_not_allowed()
        info["verb"] = verb

        if not rt.stored:
            return self._access_review(req, rt, version)
        self._authorize(rt, verb, namespace, name, subresource)
        continued = verb == "list" and bool(_param(params, "continue"))
        request = FaultRequest(verb, rt.group, rt.plural, subresource, namespace, rt.namespaced, continued)
        self._apply_faults(request, info, _details(rt, name))
        if verb == "watch":
            raise ApiError(405, "MethodNotAllowed", "the lab API server does not serve watch requests", {})

        dry_run = "All" in params.get("dryRun", [])
        strict = _param(params, openapi.FIELD_VALIDATION) == "Strict"
        if verb == "list":
            with self.store.lock:
                # Encoded under the lock straight from the stored objects, without the deep copy a
                # caller that keeps the listing needs: kube-apiserver serves lists from its cache of
                # encoded objects, and copying every object made the stand-in, not the client, the cost
                # of a large list (docs/performance.md).
                listing = self._list(rt, version, namespace, params, copy_items=False)
                return ApiResponse(200, ApiResponse(200, listing).encode())
        assert name is not None or verb in ("create", "deletecollection")
        if verb == "get" and subresource == "log":
            return self._pod_log(rt, version, namespace or "", name or "", params)
        if verb == "get":
            return ApiResponse(200, self._get(rt, version, namespace, name or "", subresource))
        if verb == "create":
            response = self._create(req, rt, version, namespace, dry_run, strict)
        elif verb == "update":
            response = self._update(req, rt, version, namespace, name or "", subresource, dry_run, strict)
        elif verb == "patch":
            response = self._patch(
                req, params, rt, version, namespace, name or "", subresource, dry_run, strict
            )
        elif verb == "delete":
            response = self._delete(req, rt, version, namespace, name or "", dry_run)
        else:
            response = self._delete_collection(rt, version, namespace, params, dry_run)
        if not dry_run:
            self._notify(verb, rt, subresource, response)
        return response

    def _notify(self, verb: str, rt: ResourceType, subresource: str | None, response: ApiResponse) -> None:
        if response.status >= 300 or not isinstance(response.payload, dict):
            return
        objects = [response.payload]
        if verb == "deletecollection":
            verb, objects = "delete", [o for o in response.payload.get("items") or [] if isinstance(o, dict)]
        for obj in objects:
            if verb == "delete":
                meta = obj.get("metadata") or {}
                key = self.store.key_for(rt, meta.get("namespace"), str(meta.get("name") or ""))
                with self.store.lock:
                    if self.store.lookup(key) is not None:
                        continue  # dryRun given in the DeleteOptions body
            self.store.notify(StoreEvent(verb, rt, obj, subresource))

    def _pod_log(
        self, rt: ResourceType, version: str, namespace: str, name: str, params: Mapping[str, list[str]]
    ) -> ApiResponse:
        """kube-apiserver's pod log options (pkg/registry/core/pod/strategy.go LogLocation)."""
        pod = self._get(rt, version, namespace, name, None)
        spec = pod.get("spec")
        raw_containers = spec.get("containers") if isinstance(spec, dict) else None
        containers = [str(c.get("name")) for c in raw_containers or [] if isinstance(c, dict)]
        container = _param(params, "container") or ""
        if not container:
            if len(containers) == 1:
                container = containers[0]
            elif not containers:
                raise _bad_request(f"a container name must be specified for pod {name}")
            else:
                choices = " ".join(containers)
                raise _bad_request(
                    f"a container name must be specified for pod {name}, choose one of: [{choices}]"
                )
        elif container not in containers:
            raise _bad_request(f"container {container} is not valid for pod {name}")
        if _param(params, "previous") in ("true", "1"):
            raise _bad_request(f'previous terminated container "{container}" in pod "{name}" not found')

        def number(field: str, minimum: int) -> int | None:
            raw = _param(params, field)
            if raw is None or raw == "":
                return None
            try:
                value = int(raw)
            except ValueError:
                raise _bad_request(f"{field}: invalid value {raw!r}: must be an integer") from None
            if value < minimum:
                bound = "greater than or equal to 0" if minimum == 0 else "greater than 0"
                message = f"{field}: Invalid value: {value}: must be {bound}"
                raise ApiError(
                    422,
                    "Invalid",
                    f'PodLogOptions.meta.k8s.io "{name}" is invalid: {message}',
                    {"name": name, "kind": "PodLogOptions"},
                )
            return value

        since_seconds, tail_lines, limit_bytes = (
            number("sinceSeconds", 1),
            number("tailLines", 0),
            number("limitBytes", 1),
        )
        since_time = _param(params, "sinceTime")
        if since_seconds is not None and since_time:
            raise _bad_request("at most one of `sinceTime` or `sinceSeconds` may be specified")
        cutoff: float | None = None
        if since_seconds is not None:
            cutoff = time.time() - since_seconds
        elif since_time:
            try:
                cutoff = datetime.fromisoformat(since_time.replace("Z", "+00:00")).timestamp()
            except ValueError:
                raise _bad_request(f"sinceTime: invalid value {since_time!r}: must be RFC 3339") from None
        source = self.pod_logs(namespace, name, container) if self.pod_logs is not None else None
        lines = list(source or [])
        # The kubelet seeks to the last tailLines lines first and filters them by time afterwards.
        if tail_lines is not None:
            lines = lines[len(lines) - tail_lines :] if tail_lines else []
        if cutoff is not None:
            lines = [(t, text) for t, text in lines if t >= cutoff]
        stamped = _param(params, "timestamps") in ("true", "1")
        out = []
        for t, text in lines:
            if stamped:
                stamp = datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
                text = f"{stamp} {text}"
            out.append(text + "\n")
        data = "".join(out).encode("utf-8")
        if limit_bytes is not None:
            data = data[:limit_bytes]
        return ApiResponse(200, data, "text/plain")

    def denied(
        self, rt: ResourceType, verb: str, namespace: str | None, subresource: str | None = None
    ) -> bool:
        return any(
            d.matches(
                verb=verb,
                group=rt.group,
                resource=rt.plural,
                subresource=subresource,
                namespace=namespace,
                namespaced=rt.namespaced,
            )
            for d in self.settings.denials
        )

    def _authorize(
        self, rt: ResourceType, verb: str, namespace: str | None, name: str | None, subresource: str | None
    ) -> None:
        if self.denied(rt, verb, namespace, subresource):
            raise ApiError(
                403,
                "Forbidden",
                forbidden_message(rt, verb, namespace if rt.namespaced else None, name, subresource),
                _details(rt, name),
            )

    def _apply_faults(
        self, request: FaultRequest, info: dict[str, Any], details: dict[str, Any] | None = None
    ) -> None:
        for fault in self.fault_book.pick(request):
            if fault.delay_ms:
                time.sleep(fault.delay_ms / 1000.0)
            if fault.succeed:
                continue
            if fault.body:
                info["bodyFault"] = fault.body  # served normally, broken on the wire
                continue
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            raise ApiError(fault.code, fault.reason, fault.message, details or {}, headers)

    def _present(
        self, obj: Mapping[str, Any], rt: ResourceType, version: str, copy_values: bool = True
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"apiVersion": rt.api_version(version), "kind": rt.kind}
        for key, value in obj.items():
            if key not in ("apiVersion", "kind"):
                out[key] = copy.deepcopy(value) if copy_values else value
        return out

    def _get(
        self, rt: ResourceType, version: str, namespace: str | None, name: str, subresource: str | None
    ) -> dict[str, Any]:
        with self.store.lock:
            obj = self.store.lookup(self.store.key_for(rt, namespace, name))
            if obj is None:
                raise _not_found(rt, name)
            return self._present(obj, rt, version)

    def _list(
        self,
        rt: ResourceType,
        version: str,
        namespace: str | None,
        params: dict[str, list[str]],
        copy_items: bool = True,
    ) -> dict[str, Any]:
        try:
            labels = LabelSelector.parse(_param(params, "labelSelector"))
            fields = parse_field_selector(_param(params, "fieldSelector"), rt)
        except SelectorError as exc:
            raise _bad_request(str(exc)) from None
        limit = _param(params, "limit")
        try:
            page_size = int(limit) if limit not in (None, "") else 0
        except ValueError:
            raise _bad_request(f"invalid limit {limit!r}") from None
        if self.settings.page_cap:
            page_size = min(page_size, self.settings.page_cap) if page_size > 0 else self.settings.page_cap
        start = _decode_continue(_param(params, "continue"))
        with self.store.lock:
            resource_version = self.store.resource_version
            matching = [
                (self._sort_key(o), o)
                for o in self.store.items(rt, namespace)
                if labels.matches((o.get("metadata") or {}).get("labels")) and _fields_match(o, fields)
            ]
            if start is not None:
                matching = [(k, o) for k, o in matching if k > start]
            metadata: dict[str, Any] = {"resourceVersion": resource_version}
            if page_size > 0 and len(matching) > page_size:
                metadata["continue"] = _encode_continue(matching[page_size - 1][0])
                metadata["remainingItemCount"] = len(matching) - page_size
                matching = matching[:page_size]
            items = [self._present(o, rt, version, copy_items) for _, o in matching]
        return {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version(version),
            "metadata": metadata,
            "items": items,
        }

    @staticmethod
    def _sort_key(obj: Mapping[str, Any]) -> tuple[str, str]:
        meta = obj.get("metadata") or {}
        return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))

    # -- writes --------------------------------------------------------------------------------------------

    def _decode(self, req: ApiRequest) -> Any:
        if not req.body.strip():
            raise _bad_request("the request body is empty")
        content_type = (req.headers.get("Content-Type") or "application/json").split(";")[0].strip().lower()
        try:
            if "yaml" in content_type:
                return yaml.load(req.body.decode("utf-8"), Loader=YamlLoader)
            return json.loads(req.body)
        except (ValueError, yaml.YAMLError) as exc:
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise _bad_request(f"error decoding request body: {first_line}") from None

    def _decode_object(self, req: ApiRequest, rt: ResourceType, version: str, strict: bool) -> dict[str, Any]:
        obj = self._decode(req)
        if not isinstance(obj, dict):
            raise _bad_request("the request body is not a JSON object")
        if strict:
            self._check_fields(obj, rt, version)
        return self._check_type(obj, rt, version)

    @staticmethod
    def _check_fields(obj: Mapping[str, Any], rt: ResourceType, version: str) -> None:
        """``fieldValidation=Strict`` for top-level fields, worded as kube-apiserver's
        ``transformDecodeError`` (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/rest.go)."""
        unknown = openapi.unknown_top_level_fields(obj, rt)
        if unknown:
            kind = obj.get("kind") or rt.kind
            raise _bad_request(
                f'{kind} in version "{version}" cannot be handled as a {rt.kind}: '
                f"{openapi.strict_decoding_message(unknown)}"
            )

    @staticmethod
    def _check_type(obj: dict[str, Any], rt: ResourceType, version: str) -> dict[str, Any]:
        expected = rt.api_version(version)
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if kind not in (None, rt.kind):
            raise _bad_request(
                f"the kind of the object ({kind}) does not match the kind on the URL ({rt.kind})"
            )
        if api_version not in (None, expected) and not (
            _group_of(api_version) == rt.group and api_version.split("/")[-1] in rt.versions
        ):
            raise _bad_request(
                f"the API version in the data ({api_version}) does not match "
                f"the expected API version ({expected})"
            )
        obj["apiVersion"], obj["kind"] = expected, rt.kind
        meta = obj.get("metadata")
        if meta is None:
            obj["metadata"] = {}
        elif not isinstance(meta, dict):
            raise _bad_request("metadata must be an object")
        return obj

    @staticmethod
    def _check_patched_fields(patched: Mapping[str, Any], rt: ResourceType) -> None:
        """``fieldValidation=Strict`` on a patched object: patch.go (``jsonPatcher``, ``applyPatchToObject``)
        answers an Invalid with no kind or name, the patched object as the invalid value of ``patch``."""
        unknown = openapi.unknown_top_level_fields(patched, rt)
        if not unknown:
            return
        value = json.dumps(json.dumps(patched, separators=(",", ":")))
        cause = f"Invalid value: {value}: {openapi.strict_decoding_message(unknown)}"
        raise ApiError(
            422,
            "Invalid",
            f' "" is invalid: patch: {cause}',
            {"causes": [{"reason": "FieldValueInvalid", "message": cause, "field": "patch"}]},
        )

    def _check_namespace(self, obj: dict[str, Any], rt: ResourceType, namespace: str | None) -> None:
        meta = obj["metadata"]
        if rt.namespaced:
            given = meta.get("namespace")
            if given and given != namespace:
                raise _bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)

    def _create(
        self,
        req: ApiRequest,
        rt: ResourceType,
        version: str,
        namespace: str | None,
        dry_run: bool,
        strict: bool,
    ) -> ApiResponse:
        obj = self._decode_object(req, rt, version, strict)
        return self._create_object(obj, rt, version, namespace, dry_run)

    def _create_object(
        self, obj: dict[str, Any], rt: ResourceType, version: str, namespace: str | None, dry_run: bool
    ) -> ApiResponse:
        self._check_namespace(obj, rt, namespace)
        meta = obj["metadata"]
        name = meta.get("name")
        if not name:
            prefix = meta.get("generateName")
            if not prefix or not isinstance(prefix, str):
                raise _invalid(rt, "", "metadata.name: Required value: name or generateName is required")
            name = prefix + "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(5))
            meta["name"] = name
        if not isinstance(name, str) or len(name) > 253 or not _NAME_RE.fullmatch(name):
            raise _invalid(
                rt,
                str(name),
                f'metadata.name: Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of '
                "lower case alphanumeric characters, '-' or '.', and must start and end with an "
                "alphanumeric character",
            )
        with self.store.lock:
            if rt.namespaced and namespace and not self.store.namespace_exists(namespace):
                raise _namespace_not_found(namespace)
            key = self.store.key_for(rt, namespace, name)
            if self.store.lookup(key) is not None:
                raise _already_exists(rt, name)
            for server_owned in (
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "deletionTimestamp",
                "generation",
            ):
                meta.pop(server_owned, None)
            meta["uid"] = str(uuid.uuid4())
            meta["resourceVersion"] = (
                self.store.peek_resource_version() if dry_run else self.store.next_resource_version()
            )
            meta["creationTimestamp"] = _now()
            if rt.custom:
                meta["generation"] = 1
            if rt.kind == "Namespace":
                labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
                meta["labels"] = {**labels, NAMESPACE_NAME_LABEL: name}
                obj["status"] = {"phase": "Active"}
            elif rt.status:
                # Status is written by controllers through the subresource, never on create.
                obj.pop("status", None)
            if not dry_run:
                self.store.put(key, obj)
            return ApiResponse(201, self._present(obj, rt, version))

    def _next_state(
        self, rt: ResourceType, current: dict[str, Any], incoming: dict[str, Any], subresource: str | None
    ) -> dict[str, Any]:
        if subresource == "status":
            new = copy.deepcopy(current)
            if "status" in incoming:
                new["status"] = copy.deepcopy(incoming["status"])
            else:
                new.pop("status", None)
            new["apiVersion"] = incoming.get("apiVersion", current.get("apiVersion"))
            return new
        new = copy.deepcopy(incoming)
        meta = new.setdefault("metadata", {})
        current_meta = current.get("metadata") or {}
        for server_owned in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "generation",
            "name",
            "namespace",
        ):
            if server_owned in current_meta:
                meta[server_owned] = copy.deepcopy(current_meta[server_owned])
            else:
                meta.pop(server_owned, None)
        meta["resourceVersion"] = current_meta.get("resourceVersion")
        if rt.status:
            if "status" in current:
                new["status"] = copy.deepcopy(current["status"])
            else:
                new.pop("status", None)
        if rt.kind == "Namespace":
            labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
            meta["labels"] = {**labels, NAMESPACE_NAME_LABEL: meta.get("name")}
        if rt.custom and _content(new) != _content(current):
            generation = current_meta.get("generation")
            meta["generation"] = (generation if isinstance(generation, int) else 0) + 1
        return new

    def _commit(
        self,
        rt: ResourceType,
        version: str,
        key: _Key,
        current: dict[str, Any],
        new: dict[str, Any],
        dry_run: bool,
    ) -> ApiResponse:
        if _without_api_version(new) == _without_api_version(current):
            # A no-op write leaves resourceVersion alone, as kube-apiserver does.
            return ApiResponse(200, self._present(current, rt, version))
        meta = new["metadata"]
        meta["resourceVersion"] = (
            self.store.peek_resource_version() if dry_run else self.store.next_resource_version()
        )
        if not dry_run:
            self.store.put(key, new)
        return ApiResponse(200, self._present(new, rt, version))

    def _update(
        self,
        req: ApiRequest,
        rt: ResourceType,
        version: str,
        namespace: str | None,
        name: str,
        subresource: str | None,
        dry_run: bool,
        strict: bool,
    ) -> ApiResponse:
        obj = self._decode_object(req, rt, version, strict)
        meta = obj["metadata"]
        if meta.get("name") not in (None, name):
            raise _bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        self._check_namespace(obj, rt, namespace)
        with self.store.lock:
            key = self.store.key_for(rt, namespace, name)
            current = self.store.lookup(key)
            if current is None:
                raise _not_found(rt, name)
            wanted_rv = meta.get("resourceVersion")
            if wanted_rv and wanted_rv != (current.get("metadata") or {}).get("resourceVersion"):
                raise _conflict(rt, name)
            return self._commit(
                rt, version, key, current, self._next_state(rt, current, obj, subresource), dry_run
            )

    def _patch(
        self,
        req: ApiRequest,
        params: dict[str, list[str]],
        rt: ResourceType,
        version: str,
        namespace: str | None,
        name: str,
        subresource: str | None,
        dry_run: bool,
        strict: bool,
    ) -> ApiResponse:
        content_type = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        patch_types = (
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
            "application/json-patch+json",
            "application/apply-patch+yaml",
        )
        if content_type not in patch_types:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media types include: "
                f"{', '.join(patch_types)}",
                {},
            )
        if content_type == "application/apply-patch+yaml" and not _param(params, "fieldManager"):
            raise _bad_request("PATCH, application/apply-patch+yaml requests must specify a fieldManager")
        patch = self._decode(req)
        with self.store.lock:
            key = self.store.key_for(rt, namespace, name)
            current = self.store.lookup(key)
            if current is None:
                if content_type == "application/apply-patch+yaml" and subresource is None:
                    if not isinstance(patch, dict):
                        raise _bad_request("an apply patch must be an object")
                    obj = self._check_type(copy.deepcopy(patch), rt, version)
                    if obj["metadata"].get("name") not in (None, name):
                        raise _bad_request("the name of the object does not match the name on the URL")
                    obj["metadata"]["name"] = name
                    return self._create_object(obj, rt, version, namespace, dry_run)
                raise _not_found(rt, name)
            presented = self._present(current, rt, version)
            try:
                if content_type == "application/json-patch+json":
                    patched = json_patch(presented, patch)
                else:
                    if not isinstance(patch, dict):
                        raise _bad_request("a merge patch must be a JSON object")
                    strategic = content_type == "application/strategic-merge-patch+json"
                    patched = merge_patch(presented, patch, strip_directives=strategic)
            except PatchError as exc:
                raise _invalid(rt, name, str(exc)) from None
            if not isinstance(patched, dict) or not isinstance(patched.get("metadata", {}), dict):
                raise _invalid(rt, name, "the patched object is not a valid object")
            if strict:
                self._check_patched_fields(patched, rt)
            patched = self._check_type(patched, rt, version)
            current_rv = (current.get("metadata") or {}).get("resourceVersion")
            if patched["metadata"].get("resourceVersion") not in (None, current_rv):
                raise _conflict(rt, name)
            return self._commit(
                rt, version, key, current, self._next_state(rt, current, patched, subresource), dry_run
            )

    def _delete(
        self, req: ApiRequest, rt: ResourceType, version: str, namespace: str | None, name: str, dry_run: bool
    ) -> ApiResponse:
        options = self._delete_options(req)
        dry_run = dry_run or "All" in (options.get("dryRun") or [])
        with self.store.lock:
            key = self.store.key_for(rt, namespace, name)
            current = self.store.lookup(key)
            if current is None:
                raise _not_found(rt, name)
            preconditions = options.get("preconditions") or {}
            meta = current.get("metadata") or {}
            if isinstance(preconditions, dict):
                for field in ("uid", "resourceVersion"):
                    if preconditions.get(field) and preconditions[field] != meta.get(field):
                        raise _conflict(rt, name)
            if not dry_run:
                self.store.remove(key)
                if rt.kind == "Namespace" and rt.group == "":
                    for contained in self.store.keys_in_namespace(name):
                        self.store.remove(contained)
            return ApiResponse(200, self._present(current, rt, version))

    def _delete_options(self, req: ApiRequest) -> dict[str, Any]:
        if not req.body.strip():
            return {}
        options = self._decode(req)
        return options if isinstance(options, dict) else {}

    def _delete_collection(
        self,
        rt: ResourceType,
        version: str,
        namespace: str | None,
        params: dict[str, list[str]],
        dry_run: bool,
    ) -> ApiResponse:
        with self.store.lock:
            listing = self._list(rt, version, namespace, {k: v for k, v in params.items() if k != "limit"})
            if not dry_run:
                for item in listing["items"]:
                    meta = item.get("metadata") or {}
                    self.store.remove(
                        self.store.key_for(rt, meta.get("namespace"), str(meta.get("name") or ""))
                    )
        return ApiResponse(200, listing)

    def _access_review(self, req: ApiRequest, rt: ResourceType, version: str) -> ApiResponse:
        review = self._decode(req)
        if not isinstance(review, dict) or not isinstance(review.get("spec"), dict):
            raise _bad_request("a SelfSubjectAccessReview needs a spec")
        attrs = review["spec"].get("resourceAttributes")
        allowed, reason = True, ""
        if isinstance(attrs, dict):
            group = str(attrs.get("group") or "")
            plural = str(attrs.get("resource") or "")
            target = next((t for t in CATALOGUE if t.group == group and t.plural == plural), None)
            namespace = attrs.get("namespace") or None
            if target is None:
                target = ResourceType(group, ("v1",), plural, "", "", namespaced=namespace is not None)
            verb = str(attrs.get("verb") or "")
            if self.denied(target, verb, namespace, attrs.get("subresource") or None):
                allowed = False
                reason = "denied by the lab scenario"
        status: dict[str, Any] = {"allowed": allowed}
        if reason:
            status.update(denied=True, reason=reason)
        body = {
            "kind": rt.kind,
            "apiVersion": rt.api_version(version),
            "metadata": {"creationTimestamp": None},
            "spec": review["spec"],
            "status": status,
        }
        return ApiResponse(201, body)


def _param(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def _encode_continue(key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _decode_continue(token: str | None) -> tuple[str, str] | None:
    if not token:
        return None
    try:
        namespace, name = json.loads(base64.urlsafe_b64decode(token.encode()))
        return (str(namespace), str(name))
    except (ValueError, TypeError, binascii.Error):
        raise _bad_request("continue key is not valid") from None


# --------------------------------------------------------------------------------------------------------
# HTTP


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "egdoctor-lab-apiserver"
    sys_version = ""
    # Idle keep-alive connections are closed after this long so worker threads do not pile up.
    timeout = 120
    server: _TlsHttpServer

    def _serve(self) -> None:
        started = time.monotonic()
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.send_error(400, "malformed request body")
            return
        path, _, query = self.path.partition("?")
        request = ApiRequest(self.command, path, query, self.headers, body)
        response, info = self.server.lab_api.handle(request)
        data = response.encode()
        length = len(data)
        if response.body_fault:
            data, length = broken_body(response.body_fault, data)
        # Recorded before the reply leaves, so a client that just got its answer finds it in the log.
        self.server.record(request, response, info, started, self.headers.get("User-Agent"))
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-cache, private")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        if length != len(data):
            self.close_connection = True  # the promised rest never comes

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests are recorded in the request log instead


class _TlsHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    # Keep-alive workers may sit in recv(); close() shuts their sockets instead of joining them.
    block_on_close = False
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], ssl_context: ssl.SSLContext, owner: LabApiServer) -> None:
        self.ssl_context = ssl_context
        self.owner = owner
        self.lab_api = owner.api
        self._connections: set[ssl.SSLSocket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall without DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the connection's worker thread, so a slow or broken client
        # cannot stall the accept loop.
        request.settimeout(10)
        # As kube-apiserver (Go sets TCP_NODELAY on every connection): with Nagle's algorithm the body,
        # written after the headers, waited for the client's delayed ACK, 40 ms on every request.
        with contextlib.suppress(OSError):
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with self._connections_lock:
            self._connections.add(tls)
        try:
            _Handler(tls, client_address, self)
        except OSError:
            pass
        finally:
            with self._connections_lock:
                self._connections.discard(tls)
            with contextlib.suppress(OSError):
                tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def record(
        self,
        request: ApiRequest,
        response: ApiResponse,
        info: dict[str, Any],
        started: float,
        agent: str | None,
    ) -> None:
        self.owner._record(request, response, info, started, agent)


class LabApiServer:
    """The lab API server: a scenario served over HTTPS on 127.0.0.1.

    Use as a context manager, or call ``start()``/``close()``. ``state_dir`` receives ``ca.pem``,
    ``kubeconfig`` and ``requests.log``; without one a temporary directory is used and removed on close.
    """

    def __init__(
        self,
        objects: Iterable[Mapping[str, Any]] = (),
        settings: Mapping[str, Any] | LabSettings | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        *,
        port: int = 0,
        token: str | None = None,
        scenario_name: str = "lab",
    ) -> None:
        self.settings = settings if isinstance(settings, LabSettings) else LabSettings.from_mapping(settings)
        self.scenario_name = scenario_name
        self.token = token or secrets.token_urlsafe(32)
        self._requested_port = port
        self._owns_state_dir = state_dir is None
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.store = LabStore(served_types(self.settings))
        self.api = LabApi(self.store, self.settings, self.token)
        # One line per scenario object that is not served (absent or unknown kind), for scenario authors.
        self.skipped: list[str] = list(self.store.load(objects, extra_namespaces=[self.settings.namespace]))
        self._requests: list[dict[str, Any]] = []
        self._log_lock = threading.Lock()
        self._log_file: IO[str] | None = None
        self._httpd: _TlsHttpServer | None = None
        self._thread: threading.Thread | None = None
        self._pki: LabPki | None = None
        self._timers: list[threading.Timer] = []

    @classmethod
    def from_scenario(
        cls,
        scenario: str | os.PathLike[str] | Scenario,
        state_dir: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> LabApiServer:
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(Path(scenario) if not isinstance(scenario, str) else scenario)
        kwargs.setdefault("scenario_name", scenario.name)
        return cls(scenario.objects, scenario.settings, state_dir, **kwargs)

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> LabApiServer:
        if self._httpd is not None:
            return self
        if self.state_dir is None:
            self.state_dir = Path(tempfile.mkdtemp(prefix="egdoctor-lab-"))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._pki = create_pki()
        self._pki.write_ca(self.ca_path)
        self._httpd = _TlsHttpServer(("127.0.0.1", self._requested_port), self._pki.server_context(), self)
        self._log_file = open(self.requests_log_path, "w", encoding="utf-8")  # noqa: SIM115 - lives until close()
        self._write_kubeconfig()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="lab-apiserver",
            daemon=True,
        )
        self._thread.start()
        for change in self.settings.changes:
            timer = threading.Timer(change.after_seconds, self.replace_object, args=(change.obj,))
            timer.daemon = True
            timer.start()
            self._timers.append(timer)
        return self

    def replace_object(self, obj: Mapping[str, Any]) -> None:
        """Put ``obj`` in place of its namesake at once, as a controller's write would (no events fire)."""
        rt = self.store.type_for_object(obj)
        if rt is None:
            return
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
        assert isinstance(meta, Mapping)
        key = self.store.key_for(rt, meta.get("namespace") or "default", str(meta.get("name") or ""))
        with self.store.lock:
            self.store.remove(key)
            self.store.add(obj)

    def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.close_connections()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._log_lock:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None
        if self._owns_state_dir and self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            self.state_dir = None

    stop = close

    def __enter__(self) -> LabApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    # -- addresses and files ---------------------------------------------------------------------------------

    def _require_started(self) -> _TlsHttpServer:
        if self._httpd is None:
            raise RuntimeError(
                "the lab API server is not running; call start() or use it as a context manager"
            )
        return self._httpd

    def _state_file(self, name: str) -> Path:
        if self.state_dir is None:
            raise RuntimeError("the lab API server has no state directory until it is started")
        return self.state_dir / name

    @property
    def port(self) -> int:
        return int(self._require_started().server_address[1])

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def namespace(self) -> str:
        return self.settings.namespace

    @property
    def ca_path(self) -> Path:
        return self._state_file("ca.pem")

    @property
    def ca_pem(self) -> bytes:
        if self._pki is None:
            raise RuntimeError("the lab API server is not running")
        return self._pki.ca_pem

    @property
    def kubeconfig_path(self) -> Path:
        return self._state_file("kubeconfig")

    @property
    def requests_log_path(self) -> Path:
        return self._state_file("requests.log")

    def kubeconfig(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [
                {
                    "name": "lab",
                    "cluster": {
                        "server": self.url,
                        "certificate-authority-data": base64.b64encode(self.ca_pem).decode("ascii"),
                    },
                }
            ],
            "users": [{"name": "lab", "user": {"token": self.token}}],
            "contexts": [
                {"name": "lab", "context": {"cluster": "lab", "user": "lab", "namespace": self.namespace}}
            ],
            "current-context": "lab",
        }

    def _write_kubeconfig(self) -> None:
        path = self.kubeconfig_path
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yaml.safe_dump(self.kubeconfig(), handle, sort_keys=False)

    # -- request log -----------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self._log_lock:
            return [dict(r) for r in self._requests]

    def clear_requests(self) -> None:
        """Forget logged requests in memory (the log file keeps them)."""
        with self._log_lock:
            self._requests.clear()

    def _record(
        self,
        request: ApiRequest,
        response: ApiResponse,
        info: dict[str, Any],
        started: float,
        agent: str | None,
    ) -> None:
        entry: dict[str, Any] = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "status": response.status,
            "durationMs": round((time.monotonic() - started) * 1000, 1),
        }
        for key in ("verb", "group", "version", "resource", "subresource", "namespace", "name"):
            if info.get(key) is not None:
                entry[key] = info[key]
        if agent:
            entry["userAgent"] = agent
        line = json.dumps(entry, separators=(",", ":"))
        with self._log_lock:
            self._requests.append(entry)
            if self._log_file is not None:
                self._log_file.write(line + "\n")
                self._log_file.flush()


__all__ = [
    "CATALOGUE",
    "LAB_USER",
    "ApiError",
    "LabApi",
    "LabApiServer",
    "LabStore",
    "LabelSelector",
    "ResourceType",
    "StoreEvent",
]
