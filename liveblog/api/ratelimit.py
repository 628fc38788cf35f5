"""Token-bucket rate limiting of editor writes, per token, in this process."""

from __future__ import annotations

import math
import time

from liveblog.problems import Problem


class RateLimiter:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        # token hash -> (tokens left, when last refilled); one entry per token that wrote.
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, key: str) -> None:
        now = time.monotonic()
        tokens, then = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        if tokens < 1.0:
            wait = math.ceil((1.0 - tokens) / self.rate)
            self._buckets[key] = (tokens, now)
            raise Problem(
                429,
                f"Too many writes: at most {self.rate:g}/s with bursts of {self.burst}.",
                headers={"Retry-After": str(max(1, wait))},
            )
        self._buckets[key] = (tokens - 1.0, now)

    def refund(self, key: str) -> None:
        """Give back what :meth:`check` took: the write it allowed was refused after all."""
        bucket = self._buckets.get(key)
        if bucket is not None:
            self._buckets[key] = (min(float(self.burst), bucket[0] + 1.0), bucket[1])
