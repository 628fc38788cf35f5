"""No data lost by configuration: a Redis that may evict keys is refused.

Under memory pressure a Redis whose ``maxmemory-policy`` is anything but ``noeviction`` drops
keys: a blog's history, tokens, idempotency keys, without a word (``allkeys-lru`` is the
default of several managed services). ``liveblog serve`` checks before it serves and refuses
such a Redis in one line, unless LIVEBLOG_ALLOW_EVICTING_REDIS=1. A running process checks again
every ``CHECK_SECONDS``: a policy changed later makes ``/readyz`` fail and shows in the metrics.
Where ``CONFIG GET`` is refused (a managed service that renamed it, an ACL user without it),
nothing can be known: a warning, and the process runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging

from liveblog.engine.base import EngineError, Health

logger = logging.getLogger("liveblog.eviction")

SAFE_POLICY = "noeviction"
CHECK_SECONDS = 30.0
UNKNOWN = "unknown"  # the policy of a server that refuses CONFIG GET


@dataclasses.dataclass(frozen=True)
class Policies:
    """Each Redis server's ``maxmemory-policy``, by address (None: refused to say)."""

    by_server: dict[str, str | None]

    @property
    def evicting(self) -> dict[str, str]:
        return {
            server: policy
            for server, policy in self.by_server.items()
            if policy is not None and policy != SAFE_POLICY
        }

    @property
    def unknown(self) -> list[str]:
        return sorted(server for server, policy in self.by_server.items() if policy is None)

    def refusal(self, where: str) -> str:
        """The one line ``liveblog serve`` stops with (``where``: the engine's description)."""
        found = ", ".join(f"{policy} on {server}" for server, policy in self.evicting.items())
        return (
            f"{where} may evict keys (maxmemory-policy {found}): blog "
            f"history, tokens and idempotency keys would vanish under memory pressure. Set "
            f"maxmemory-policy {SAFE_POLICY}, or LIVEBLOG_ALLOW_EVICTING_REDIS=1 to run anyway."
        )

    def warn_unknown(self) -> None:
        if self.unknown:
            logger.warning(
                "cannot read maxmemory-policy of %s (CONFIG GET refused): make sure it is %s, "
                "or Redis may evict blog history, tokens and idempotency keys",
                ", ".join(self.unknown),
                SAFE_POLICY,
            )


async def read(engine: Health) -> Policies:
    """The policies now; EngineUnavailable when Redis cannot be reached."""
    return Policies(await engine.maxmemory_policies())


async def wait_and_read(engine: Health, *, max_delay: float = 5.0) -> Policies:
    """``read``, retried until Redis answers: at start-up Redis may not be there yet (compose
    starts everything at once). Says what it waits for, once, then every minute or so."""
    loop = asyncio.get_running_loop()
    delay, said = 0.25, -60.0
    while True:
        try:
            return await read(engine)
        except EngineError as exc:
            if loop.time() - said >= 60.0:
                logger.warning("waiting for %s: %s", engine.describe(), exc)
                said = loop.time()
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)


class EvictionGuard:
    """The policies as last checked, for ``/readyz`` and the metrics."""

    def __init__(self, engine: Health, *, allowed: bool, interval: float = CHECK_SECONDS) -> None:
        self.engine = engine
        self.allowed = allowed
        self.interval = interval
        self.policies: Policies | None = None  # None: not checked yet (or Redis not reached)

    @property
    def evicting(self) -> dict[str, str]:
        return self.policies.evicting if self.policies is not None else {}

    @property
    def problem(self) -> str | None:
        """What ``/readyz`` reports: None when nothing is wrong (or it is allowed)."""
        if not self.evicting or self.allowed:
            return None
        found = ", ".join(f"{policy} on {server}" for server, policy in self.evicting.items())
        return f"maxmemory-policy may evict keys: {found}"

    async def check(self) -> None:
        policies = await read(self.engine)
        if policies.evicting != self.evicting:
            if policies.evicting:
                logger.error(
                    "%s%s",
                    policies.refusal(self.engine.describe()),
                    " (allowed)" if self.allowed else "",
                )
            elif self.policies is not None:
                logger.warning("Redis no longer evicts keys: maxmemory-policy is %s", SAFE_POLICY)
        if self.policies is None or policies.unknown != self.policies.unknown:
            policies.warn_unknown()
        self.policies = policies

    async def run(self) -> None:
        """Check now and every ``interval``; an unreachable Redis keeps the last answer (the
        subscription and ``/readyz``'s ping tell that story)."""
        while True:
            with contextlib.suppress(EngineError):
                await self.check()
            await asyncio.sleep(self.interval)
