"""The OpenAPI v3 documents the lab API server publishes, generated from its resource catalogue.

``kubectl apply`` validates by default (``--validate=strict``). Before sending an object it asks the server,
through ``/openapi/v3``, whether the PATCH operation of the object's kind declares the ``fieldValidation``
query parameter; when it does, kubectl leaves validation to the server and sends ``fieldValidation=Strict``
with the request. Without a document kubectl stops with "failed to download openapi". The upstream code
this follows (kubernetes/kubernetes):

- staging/src/k8s.io/kubectl/pkg/cmd/util/helpers.go, ``GetValidationDirective``: ``--validate`` defaults
  to ``strict``.
- staging/src/k8s.io/kubectl/pkg/cmd/util/factory_client_access.go, ``Validator``: a
  ``ParamVerifyingSchema`` over the OpenAPI v3 verifier, falling back to OpenAPI v2.
- staging/src/k8s.io/kubectl/pkg/validation/schema.go, ``NewParamVerifyingSchema``: client-side schema
  validation only runs when the server lacks ``fieldValidation``.
- staging/src/k8s.io/cli-runtime/pkg/resource/query_param_verifier_v3.go, ``supportsQueryParamV3``: finds
  the PATCH operation whose ``x-kubernetes-group-version-kind`` names the kind and looks for the
  parameter among its ``in: query`` parameters.
- staging/src/k8s.io/client-go/openapi/client.go and groupversion.go: the ``/openapi/v3`` index is
  ``{"paths": {"apis/<g>/<v>": {"serverRelativeURL": "/openapi/v3/apis/<g>/<v>?hash=<H>"}}}``
  (``api/v1`` for the core group); each group-version document is fetched from its ``serverRelativeURL``.
- staging/src/k8s.io/kubectl/pkg/cmd/apply/patcher.go, ``gvkSupportsPatchOpenAPIV3``: a strategic merge
  patch is computed from the document only when the PATCH operation accepts
  ``application/strategic-merge-patch+json``; the documents here carry no schemas, so they do not offer
  it and kubectl keeps its OpenAPI-less behaviour for patches.

The documents declare the operations and parameters of each served kind, with kube-apiserver's wire shape
(``x-kubernetes-action``, ``x-kubernetes-group-version-kind``, inline parameters), but no schemas: the
stand-in checks top-level fields only (``unknown_top_level_fields``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from egdoctor_lab.apiserver import ResourceType

FIELD_VALIDATION = "fieldValidation"

# Top-level fields of the kinds that have more than spec and status (k8s.io/api types).
_TOP_LEVEL_FIELDS: Mapping[tuple[str, str], frozenset[str]] = {
    ("", "Secret"): frozenset({"data", "stringData", "type", "immutable"}),
    ("", "ConfigMap"): frozenset({"data", "binaryData", "immutable"}),
    ("", "Endpoints"): frozenset({"subsets"}),
    ("", "Event"): frozenset(
        {
            "action",
            "count",
            "eventTime",
            "firstTimestamp",
            "involvedObject",
            "lastTimestamp",
            "message",
            "reason",
            "related",
            "reportingComponent",
            "reportingInstance",
            "series",
            "source",
            "type",
        }
    ),
    ("discovery.k8s.io", "EndpointSlice"): frozenset({"addressType", "endpoints", "ports"}),
}
_OBJECT_FIELDS = frozenset({"apiVersion", "kind", "metadata"})
_SPEC_AND_STATUS = frozenset({"spec", "status"})


def unknown_top_level_fields(obj: Mapping[str, Any], rt: ResourceType) -> list[str]:
    """Top-level fields the kind does not declare, in the order the object has them."""
    known = _OBJECT_FIELDS | _TOP_LEVEL_FIELDS.get((rt.group, rt.kind), _SPEC_AND_STATUS)
    return [name for name in obj if name not in known]


def strict_decoding_message(fields: Sequence[str]) -> str:
    """k8s.io/apimachinery/pkg/runtime/error.go, ``strictDecodingError.Error``."""
    return "strict decoding error: " + ", ".join(f'unknown field "{name}"' for name in fields)


def group_version_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _query(name: str, description: str, kind: str = "string") -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": kind, "uniqueItems": True},
    }


def _path_parameter(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "description": f"{name} of the object" if name == "name" else "object name and auth scope",
        "required": True,
        "schema": {"type": "string", "uniqueItems": True},
    }


_DRY_RUN = _query("dryRun", "When present, indicates that modifications should not be persisted.")
_FIELD_MANAGER = _query(
    "fieldManager", "fieldManager is a name associated with the actor making these changes."
)
_FIELD_VALIDATION = _query(
    FIELD_VALIDATION,
    "fieldValidation instructs the server on how to handle objects in the request containing unknown or "
    "duplicate fields. Valid values are: Ignore, Warn, Strict.",
)
_FORCE = _query("force", "Force is going to force Apply requests.", "boolean")
_PRETTY = _query("pretty", "If 'true', then the output is pretty printed.")
_WRITE_PARAMETERS = [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION]
_PATCH_CONTENT = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
)
_JSON = {"application/json": {"schema": {"type": "object"}}}


def _operation(
    rt: ResourceType, version: str, action: str, verb: str, suffix: str, parameters: list[dict[str, Any]]
) -> dict[str, Any]:
    group_part = "".join(p.capitalize() for p in (rt.group or "core").split(".")[:1])
    scope = "Namespaced" if rt.namespaced and action != "list-all" else ""
    operation: dict[str, Any] = {
        "tags": [f"{group_part.lower()}_{version}"],
        "operationId": f"{verb}{group_part}{version.capitalize()}{scope}{rt.kind}{suffix}",
        "responses": {"200": {"description": "OK", "content": _JSON}},
        "x-kubernetes-action": action if action != "list-all" else "list",
        "x-kubernetes-group-version-kind": {"group": rt.group, "version": version, "kind": rt.kind},
    }
    if parameters:
        operation["parameters"] = parameters
    if verb in ("create", "replace"):
        operation["requestBody"] = {"content": _JSON, "required": True}
    if verb == "patch":
        operation["requestBody"] = {
            "content": {media: {"schema": {"type": "object"}} for media in _PATCH_CONTENT},
            "required": True,
        }
    return operation


def _paths_for(rt: ResourceType, version: str) -> dict[str, dict[str, Any]]:
    prefix = "/" + group_version_path(rt.group, version)
    scope = f"{prefix}/namespaces/{{namespace}}" if rt.namespaced else prefix
    collection, item = f"{scope}/{rt.plural}", f"{scope}/{rt.plural}/{{name}}"
    scope_parameters = [_path_parameter("namespace")] if rt.namespaced else []
    verbs = set(rt.verbs)
    paths: dict[str, dict[str, Any]] = {}

    coll: dict[str, Any] = {"parameters": [*scope_parameters, _PRETTY]}
    if "list" in verbs:
        coll["get"] = _operation(rt, version, "list", "list", "", [])
    if "create" in verbs:
        coll["post"] = _operation(rt, version, "post", "create", "", list(_WRITE_PARAMETERS))
    paths[collection] = coll
    if rt.namespaced and "list" in verbs:
        paths[f"{prefix}/{rt.plural}"] = {
            "parameters": [_PRETTY],
            "get": _operation(rt, version, "list-all", "list", "ForAllNamespaces", []),
        }
    if not verbs & {"get", "update", "patch", "delete"}:
        return paths

    item_parameters = [_path_parameter("name"), *scope_parameters, _PRETTY]
    suffixes = [("", item)]
    if rt.status:
        suffixes.append(("Status", f"{item}/status"))
    for suffix, path in suffixes:
        entry: dict[str, Any] = {"parameters": item_parameters}
        if "get" in verbs:
            entry["get"] = _operation(rt, version, "get", "read", suffix, [])
        if "update" in verbs:
            entry["put"] = _operation(rt, version, "put", "replace", suffix, list(_WRITE_PARAMETERS))
        if "patch" in verbs:
            entry["patch"] = _operation(rt, version, "patch", "patch", suffix, [*_WRITE_PARAMETERS, _FORCE])
        if "delete" in verbs and not suffix:
            entry["delete"] = _operation(rt, version, "delete", "delete", suffix, [_DRY_RUN])
        paths[path] = entry
    return paths


def group_version_document(
    types: Iterable[ResourceType], version: str, server_version: str
) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for rt in types:
        paths.update(_paths_for(rt, version))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": server_version},
        "paths": paths,
        "components": {"schemas": {}},
    }


def encode(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode("utf-8")


def document_hash(encoded: bytes) -> str:
    """kube-openapi's handler3 names a document version by the upper-case hex SHA-512 of its bytes."""
    return hashlib.sha512(encoded).hexdigest().upper()


def index(documents: Mapping[str, bytes]) -> dict[str, Any]:
    """The ``/openapi/v3`` discovery document: group-version path -> where its document lives."""
    return {
        "paths": {
            path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={document_hash(encoded)}"}
            for path, encoded in sorted(documents.items())
        }
    }
