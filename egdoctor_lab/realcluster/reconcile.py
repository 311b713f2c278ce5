"""The loop the lab's controllers (kubelet, cloud controller) run: reconcile every interval until stopped,
keeping each new error once, in memory and in the controller's errors.log."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path


def reconcile_until(
    stop: threading.Event, every: float, reconcile: Callable[[], None], errors: list[str], directory: Path
) -> None:
    while not stop.wait(every):
        try:
            reconcile()
        except Exception as exc:  # a controller keeps going, as a real one does
            message = f"{type(exc).__name__}: {exc}"
            if not errors or errors[-1] != message:
                errors.append(message)
                with (directory / "errors.log").open("a") as log:
                    log.write(f"{datetime.now(timezone.utc).isoformat()} {message}\n")
