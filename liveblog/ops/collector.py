"""The cyclic garbage collector, set for a server that holds thousands of connections.

CPython's defaults (a young collection every 700 allocations, a full one whenever the objects
that survived grew by a quarter) suit a short script. A crowd of 10,000 readers arriving at once
grows a server's heap from ~0.1 to ~0.6 million objects within seconds: with the defaults that
was 16 full collections in one rush, up to 0.5 s each (5.8 s of the core with the younger
generations'), every pause a moment in which no connection is accepted while the listen queue
overflows (``bench/flash_crowd.py``, docs/benchmarks.md).

``settle()`` runs once per server process, when the app has started:
- what is alive then (modules, classes, templates, the static files, the engine) lives as long
  as the process, so it is frozen: no collection walks it again;
- the young generation is collected every ``YOUNG_EVERY`` allocations instead of 700, and the
  older ones more rarely in turn. A cycle that became garbage waits longer to be freed, bounded
  by that count (a few MB of objects), and cycles are rare on the hot path, which frees by
  reference counting.
"""

from __future__ import annotations

import gc

YOUNG_EVERY = 50_000  # allocations between young collections (CPython: 700)
MIDDLE_EVERY = 20  # young collections between collections of the middle generation (10)
OLD_EVERY = 100  # middle collections before a full one is considered (10)


def settle() -> None:
    """Freeze what start-up left alive and space the collections out; once per process (an
    app started again in the same process, as in tests, changes nothing more)."""
    if gc.get_freeze_count():
        return
    gc.collect()  # start-up's own garbage goes now, not frozen with the rest
    gc.freeze()
    gc.set_threshold(YOUNG_EVERY, MIDDLE_EVERY, OLD_EVERY)
