"""What an API answer means when it is not a clean 200: retry or not, and one line naming what happened.

Kubernetes clients retry 429 Too Many Requests and 503 Service Unavailable when the server sends
Retry-After (client-go does, so kubectl does); egdoctor does too, within a bounded total wait so that a
throttling server cannot hold a CI job hostage. Every other failure is described once, in one line, with
the API's own Status message when it sent one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

RETRIED_STATUSES = frozenset({429, 503})
MAX_RETRIES = 5
_FIRST_BACKOFF = 0.2  # seconds; doubled per retry when Retry-After asks for less (or for 0)
_REASONS = {
    400: "Bad Request",
    404: "Not Found",
    410: "Gone",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_INCOMPLETE = re.compile(r"IncompleteRead\((\d+) bytes read, (\d+) more expected\)")


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the server asked us to wait, or None when it did not ask (then we do not retry).
    Only the delta-seconds form is honoured; an HTTP date is treated as "1 second"."""
    if not headers:
        return None
    value = headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    return 1.0


def next_wait(asked: float, attempt: int, budget_left: float) -> float | None:
    """How long to sleep before retry number `attempt` (0-based), or None to give up: the server's ask,
    at least an exponential backoff, and never past what is left of the run's wait budget."""
    if attempt >= MAX_RETRIES:
        return None
    wait = max(asked, _FIRST_BACKOFF * (2**attempt))
    if wait > budget_left:
        return None
    return wait


def status_line(status: int, body: Any) -> str:
    """`HTTP 503 Service Unavailable: <the Status message>` (the message only when the API sent one)."""
    head = f"HTTP {status} {_REASONS.get(status, '')}".rstrip()
    message = body.get("message") if isinstance(body, Mapping) else None
    if isinstance(message, str) and message.strip():
        return f"{head}: {' '.join(message.split())[:300]}"
    return head


def not_json(status: int, size: int) -> str:
    """A body that should have been JSON and is not (a proxy's error page, a broken server). Its bytes
    are not quoted: the answer to a Secret get may hold key material."""
    return f"HTTP {status} with a body that is not valid JSON ({size} bytes)"


def cut_off(text: str) -> str | None:
    """The one-line meaning of a transport error that is a truncated body, or None if it is not one."""
    found = _INCOMPLETE.search(text)
    if found:
        got, more = int(found.group(1)), int(found.group(2))
        return f"the answer was cut off: the connection closed after {got} of {got + more} bytes"
    if "IncompleteRead" in text or "Connection broken" in text or "ProtocolError" in text:
        return "the answer was cut off: the connection closed before the whole body arrived"
    return None
