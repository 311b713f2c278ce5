"""Reading a cluster without paying Python's cycle collector for it.

Parsing and freezing tens of thousands of objects allocates millions of containers and no reference
cycles, and every few thousand allocations the collector walks them all again: measured in
docs/performance.md, 0.15 s of a 5,000-object read and 1.6 s of a 50,000-object one, growing faster
than the cluster. So nothing is collected while reading, and what was read is then moved out of the
collector's sight (`gc.freeze`): later collections during the checks skip the snapshot. Memory is
unaffected: objects without cycles are still freed the moment they are dropped.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def settled_heap() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
