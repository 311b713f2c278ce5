"""The few Kubernetes calls the observers need (create, delete, get, list, pod log), on top of the
`Connection` the snapshot reader made. Every call is bounded by a timeout and never raises for an API
answer: 403 becomes a clean "not allowed" result the caller can turn into a note."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from egdoctor.snapshot.cluster import Connection


@dataclass(frozen=True)
class KubeResult:
    status: int  # HTTP status; 0 when the request did not complete
    body: Any = None
    text: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def forbidden(self) -> bool:
        return self.status == 403

    @property
    def not_found(self) -> bool:
        return self.status == 404

    def describe(self) -> str:
        if self.status == 0:
            return self.error or "no answer from the API server"
        message = self.body.get("message") if isinstance(self.body, Mapping) else None
        word = {403: "forbidden", 404: "not found", 409: "conflict", 422: "invalid"}.get(self.status, "error")
        return f"HTTP {self.status} {word}" + (f": {message}" if message else "")


def _one_line(exc: BaseException) -> str:
    return (" ".join(str(exc).split()) or type(exc).__name__)[:300]


class Kube:
    def __init__(self, conn: Connection, timeout: float) -> None:
        self.conn = conn
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        *,
        raw: bool = False,
        timeout: float | None = None,
    ) -> KubeResult:
        api = self.conn.api
        url_path = path + ("?" + urlencode(query) if query else "")
        headers = {"Accept": "text/plain, */*" if raw else "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            m, url, hdrs, payload, _ = api.param_serialize(
                method, url_path, header_params=headers, body=body, auth_settings=["BearerToken"]
            )
            resp = api.call_api(
                m, url, header_params=hdrs, body=payload, _request_timeout=timeout or self.timeout
            )
            data = resp.read()
        except Exception as exc:  # urllib3 and TLS errors alike: the call did not complete
            return KubeResult(0, error=_one_line(exc))
        text = data.decode("utf-8", "replace") if isinstance(data, bytes | bytearray) else str(data or "")
        parsed: Any = None
        if not raw or resp.status >= 400:
            try:
                parsed = json.loads(text) if text else None
            except ValueError:
                parsed = None
        return KubeResult(resp.status, parsed, text)

    # -- paths ----------------------------------------------------------------------------------------
    @staticmethod
    def path(group: str, version: str, plural: str, namespace: str | None, name: str | None = None) -> str:
        base = f"/apis/{group}/{version}" if group else f"/api/{version}"
        if namespace is not None:
            base += f"/namespaces/{quote(namespace)}"
        base += f"/{plural}"
        return base + (f"/{quote(name)}" if name else "")

    def create(
        self, group: str, version: str, plural: str, namespace: str, obj: Mapping[str, Any]
    ) -> KubeResult:
        return self.request("POST", self.path(group, version, plural, namespace), body=dict(obj))

    def delete(self, group: str, version: str, plural: str, namespace: str, name: str) -> KubeResult:
        return self.request(
            "DELETE",
            self.path(group, version, plural, namespace, name),
            body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
        )

    def get(self, group: str, version: str, plural: str, namespace: str | None, name: str) -> KubeResult:
        return self.request("GET", self.path(group, version, plural, namespace, name))

    def list(
        self, group: str, version: str, plural: str, namespace: str | None, label_selector: str | None = None
    ) -> KubeResult:
        query = {"labelSelector": label_selector} if label_selector else None
        return self.request("GET", self.path(group, version, plural, namespace), query)

    def pod_log(
        self,
        namespace: str,
        pod: str,
        container: str | None,
        since_seconds: int | None = None,
        tail_lines: int | None = None,
        limit_bytes: int = 8 * 1024 * 1024,
    ) -> KubeResult:
        query: dict[str, str] = {"limitBytes": str(limit_bytes)}
        if container:
            query["container"] = container
        if since_seconds is not None:
            query["sinceSeconds"] = str(max(1, since_seconds))
        if tail_lines is not None:
            query["tailLines"] = str(tail_lines)
        path = f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)}/log"
        return self.request("GET", path, query, raw=True)
