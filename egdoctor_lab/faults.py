"""Which injected fault answers a request, and how a fault breaks a 200's body.

Kept apart from the API server: the server asks `FaultBook.pick` once per request and applies the answer.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from egdoctor_lab.scenario import Fault

# What a proxy in front of the API server answers when its upstream fails, served as a 200 "JSON" body.
PROXY_ERROR_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body>upstream error</body></html>\n"


@dataclass(frozen=True)
class Request:
    verb: str
    group: str
    resource: str
    subresource: str | None
    namespace: str | None
    namespaced: bool
    continued: bool  # a list page that carries a continue token


class FaultBook:
    """The scenario's faults and how often each has fired (``times`` limits a fault to its first N)."""

    def __init__(self, faults: tuple[Fault, ...]) -> None:
        self.faults = faults
        self._fired = [0] * len(faults)
        self._lock = threading.Lock()

    def pick(self, request: Request) -> list[Fault]:
        """The faults that apply to this request, in order, each counted as fired."""
        chosen: list[Fault] = []
        for index, fault in enumerate(self.faults):
            if fault.continued and not request.continued:
                continue
            if request.resource == "discovery" and "discovery" not in fault.match.resources:
                continue  # a wildcard fault means the API's resources, not its discovery documents
            if not fault.match.matches(
                verb=request.verb,
                group=request.group,
                resource=request.resource,
                subresource=request.subresource,
                namespace=request.namespace,
                namespaced=request.namespaced,
            ):
                continue
            with self._lock:
                if fault.times is not None and self._fired[index] >= fault.times:
                    continue
                self._fired[index] += 1
            chosen.append(fault)
        return chosen


def broken_body(kind: str, data: bytes) -> tuple[bytes, int]:
    """(bytes to send, Content-Length to announce) for a 200 whose body is broken on purpose."""
    if kind == "invalid-json":
        return PROXY_ERROR_PAGE, len(PROXY_ERROR_PAGE)
    # truncated: announce the whole body, send half of it, then close the connection
    return data[: max(1, len(data) // 2)], len(data)
