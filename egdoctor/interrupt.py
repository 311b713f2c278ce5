"""Ctrl-C ends egdoctor at once: one line on stderr, exit 130, never a traceback.

The probe phase runs its network exchanges in worker threads and cleans up (a temporary HTTPRoute) in
`finally` blocks of the main thread; a KeyboardInterrupt raised there unwinds through them. This module
only makes sure that whatever unwinds ends in one line, and that a second Ctrl-C, or an interrupt that
lands in interpreter shutdown (thread joins), cannot print a traceback either.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress

EXIT_INTERRUPTED = 130


def _say_interrupted() -> None:
    try:
        sys.stderr.write("egdoctor: interrupted\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _exit_now(signum: int, frame: object) -> None:
    # a second Ctrl-C while the first unwinds (cleanup in progress): leave without a word more
    os._exit(EXIT_INTERRUPTED)


@contextmanager
def exit_on_interrupt() -> Iterator[None]:
    try:
        yield
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, _exit_now)
        _say_interrupted()
        _flush_and_exit(EXIT_INTERRUPTED)


def _flush_and_exit(code: int) -> None:
    """Exit without waiting for worker threads still blocked on a socket: their exchange is moot."""
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
