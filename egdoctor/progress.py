"""Progress on stderr: a spinner naming the phase under way (reading the cluster, probing, waiting for
Envoy's access log), shown only when stderr is a terminal, so that pipes, CI logs and machine formats on
stdout never see it. `--wait` also reports each round as a line, on a terminal or not.

The active reporter is process-wide: phases deep in the probe engine announce themselves without every
caller passing it down."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from egdoctor.report.safe_text import MESSAGE_LIMIT, clean


class Progress:
    """Silent: what runs when stderr is not a terminal (and in library use)."""

    spinning = False

    @contextmanager
    def phase(self, text: str) -> Iterator[None]:
        yield

    def line(self, text: str) -> None:
        """A progress line that stays (a --wait round): always on stderr."""
        sys.stderr.write(f"egdoctor: {clean(text, MESSAGE_LIMIT)}\n")
        sys.stderr.flush()


class Spinner(Progress):
    """rich's status spinner on stderr, transient: it leaves no trace once the phase is over."""

    spinning = True

    def __init__(self) -> None:
        from rich.console import Console

        self._console = Console(stderr=True, highlight=False)
        self._status: Any = None

    @contextmanager
    def phase(self, text: str) -> Iterator[None]:
        from rich.markup import escape

        label = escape(clean(text, MESSAGE_LIMIT))
        if self._status is not None:  # a phase inside a phase: the spinner names the inner one meanwhile
            outer = self._status.status
            self._status.update(label)
            try:
                yield
            finally:
                self._status.update(outer)
            return
        with self._console.status(label, spinner="dots") as status:
            self._status = status
            try:
                yield
            finally:
                self._status = None

    def line(self, text: str) -> None:
        from rich.markup import escape

        self._console.print(f"egdoctor: {escape(clean(text, MESSAGE_LIMIT))}", soft_wrap=True)


_current: Progress = Progress()


def current() -> Progress:
    return _current


def activate(progress: Progress) -> None:
    global _current
    _current = progress


def for_stderr() -> Progress:
    """A spinner when stderr is a terminal (and TERM is not dumb), else silence."""
    import os

    if sys.stderr.isatty() and os.environ.get("TERM") != "dumb":
        return Spinner()
    return Progress()
