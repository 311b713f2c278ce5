"""Run blocking calls (API lists, DNS queries) side by side without letting an interrupt wait for them.

`with ThreadPoolExecutor()` joins its workers on the way out, so a Ctrl-C would sit out every request in
flight (up to the request timeout). Here an exception, KeyboardInterrupt included, leaves at once: the
calls still running end on their own, and nothing waits for their answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def parallel_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> list[R]:
    """`[fn(i) for i in items]`, `workers` at a time, in order."""
    pool = ThreadPoolExecutor(workers)
    try:
        results = list(pool.map(fn, items))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results
