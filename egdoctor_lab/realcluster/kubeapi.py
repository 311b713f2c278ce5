"""A small REST client for the lab's own controllers (kubelet, cloud controller) on the real API server.

They authenticate with their own client certificates, so the API server's RBAC decides what they may do,
as it would for the real components.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import urllib.error
import urllib.request
from typing import Any

from .pki import KeyPair


class ApiError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class KubeClient:
    def __init__(self, server: str, ca: str, identity: KeyPair) -> None:
        self.server = server.rstrip("/")
        self._context = ssl.create_default_context(cafile=ca)
        self._context.load_cert_chain(str(identity.cert), str(identity.key))

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float = 10.0,
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self._context) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            with contextlib.suppress(ValueError, AttributeError):
                detail = json.loads(detail).get("message", detail)
            raise ApiError(exc.code, detail) from None
        return json.loads(raw) if raw else None

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def get_or_none(self, path: str) -> Any:
        try:
            return self.get(path)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def items(self, path: str) -> list[dict[str, Any]]:
        listing = self.get(path)
        return list(listing.get("items") or [])

    def apply(self, path: str, obj: dict[str, Any], manager: str, subresource: str = "") -> Any:
        """Server-side apply, as controllers that own fields do."""
        suffix = f"/{subresource}" if subresource else ""
        return self.request(
            "PATCH",
            f"{path}{suffix}?fieldManager={manager}&force=true",
            obj,
            content_type="application/apply-patch+yaml",
        )

    def merge_patch(self, path: str, patch: dict[str, Any]) -> Any:
        return self.request("PATCH", path, patch, content_type="application/merge-patch+json")

    def delete(self, path: str) -> None:
        try:
            self.request("DELETE", path)
        except ApiError as exc:
            if exc.status != 404:
                raise
