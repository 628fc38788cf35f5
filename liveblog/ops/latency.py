"""Publish-to-delivery latency over a sliding window, in a structure of bounded size.

Samples are counted in logarithmic buckets (each 5 % wider than the one before) per 10-second
slot; the window keeps the last 30 slots. Memory is bounded by slots x buckets whatever the
event rate, and bucket counts add up, so the windows of many server processes merge exactly
into one: percentiles of the whole cluster, not an average of per-process percentiles.
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable, Iterable, Mapping

SLOT_SECONDS = 10
WINDOW_SECONDS = 300
_MIN_SECONDS = 0.0001  # bucket 0 holds everything up to 0.1 ms
_GROWTH = 1.05  # a percentile is reported within 5 % of the true value
_LOG_GROWTH = math.log(_GROWTH)
_MAX_BUCKET = math.ceil(math.log(3600 / _MIN_SECONDS) / _LOG_GROWTH)  # an hour and more

Buckets = dict[int, int]  # bucket index -> samples


def bucket_of(seconds: float) -> int:
    if seconds <= _MIN_SECONDS:
        return 0
    return min(_MAX_BUCKET, math.ceil(math.log(seconds / _MIN_SECONDS) / _LOG_GROWTH))


def upper_bound(bucket: int) -> float:
    """The largest latency (seconds) bucket ``bucket`` holds."""
    return _MIN_SECONDS * _GROWTH**bucket


class LatencyWindow:
    def __init__(
        self,
        *,
        window: int = WINDOW_SECONDS,
        slot: int = SLOT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._slot_seconds = slot
        self._clock = clock
        # (slot number, its buckets), oldest first; the deque forgets slots past the window.
        self._slots: collections.deque[tuple[int, Buckets]] = collections.deque(
            maxlen=window // slot
        )

    def observe(self, seconds: float) -> None:
        """Count one sample: called once per event, never per reader."""
        now = int(self._clock() // self._slot_seconds)
        if not self._slots or self._slots[-1][0] != now:
            self._slots.append((now, {}))
        counts = self._slots[-1][1]
        index = bucket_of(seconds)
        counts[index] = counts.get(index, 0) + 1

    def buckets(self) -> Buckets:
        """Samples of the window that ends now, merged over its slots."""
        oldest = int(self._clock() // self._slot_seconds) - (self._slots.maxlen or 0) + 1
        return merge(counts for number, counts in self._slots if number >= oldest)


def merge(many: Iterable[Mapping[int, int]]) -> Buckets:
    total: Buckets = {}
    for counts in many:
        for index, count in counts.items():
            total[index] = total.get(index, 0) + count
    return total


def quantile(counts: Mapping[int, int], q: float) -> float | None:
    """The ``q`` quantile (0-1) in seconds, as the upper bound of its bucket; None if empty."""
    samples = sum(counts.values())
    if samples == 0:
        return None
    rank = max(1, math.ceil(q * samples))
    seen = 0
    for index in sorted(counts):
        seen += counts[index]
        if seen >= rank:
            return upper_bound(index)
    raise AssertionError("unreachable: rank <= samples")
