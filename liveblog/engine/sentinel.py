"""The Redis engine behind Redis Sentinel: the same keys, scripts and history, on whichever node
the Sentinels name master now.

Every new connection asks the Sentinels where the master is (redis-py's Sentinel pool), so a
failover is followed without a restart: calls fail (503) while there is no master, and go to the
new one once the Sentinels have promoted it. A connection still open to a demoted master fails
its next write (READONLY) and connects again. The event subscription asks the Sentinels every
couple of seconds too, and starts over on the new master when it moved (the hub then fills
every blog's gap from history).

Durability, as on a cluster: replication is asynchronous, so a write acknowledged by the master
alone could vanish when a replica takes over. A script that writes is followed by ``WAIT 1``
on the same connection whenever the master has a replica replicating from it; if none confirms
in time, the caller gets EngineUnavailable (503) and the Idempotency-Key retry settles
it. A write lost anyway is caught by the hub's epoch check and becomes ``reset``.
"""

from __future__ import annotations

import time
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions as rx
from redis.asyncio.connection import parse_url
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript

from liveblog.engine.base import EngineUnavailable, MessageHandler, Subscription
from liveblog.engine.redis import RedisEngine, RedisSubscription

# How long the master's word on its replicas (and the Sentinels' on the master) is believed
# before asking again. A WAIT that no replica answered, or a new master, asks again at once.
_REPLICAS_MAX_AGE = 2.0
# A replica not heard from for longer (seconds) is not waited for: it is stuck or cut off.
_REPLICA_MAX_LAG = 2


class _BlockingSentinelPool(SentinelConnectionPool, aioredis.BlockingConnectionPool):
    """Sentinel's pool (connections go to the master the Sentinels name) that makes callers
    wait for a free connection, up to its timeout, like the plain engine's pool."""

    master_address: tuple[str, int] | None  # set by redis-py, which does not annotate it


class RedisSentinelEngine(RedisEngine):
    name = "redis-sentinel"
    wait_for_replica = True
    _pool: _BlockingSentinelPool

    def __init__(
        self,
        sentinels: list[tuple[str, int]],
        master: str,
        url: str | None = None,
        *,
        max_connections: int = 64,
        **options: Any,
    ) -> None:
        self._sentinel_addresses = sentinels
        self._master = master
        self._replicas: int | None = None  # replicas replicating, as the master last said
        self._replicas_of: tuple[str, int] | None = None  # of this master
        self._replicas_at = 0.0
        super().__init__(url or "redis://", max_connections=max_connections, **options)

    def _server_options(self) -> dict[str, Any]:
        """Database, credentials and TLS from the URL (its host and port mean nothing here)."""
        parsed = parse_url(self._url)
        options: dict[str, Any] = {
            k: parsed[k] for k in ("db", "username", "password") if k in parsed
        }
        if self._url.startswith("rediss://"):
            options["ssl"] = True
        return options

    def _bounded(self) -> dict[str, Any]:
        return {
            "socket_timeout": self._timeout,
            "socket_connect_timeout": self._timeout,
            "retry": Retry(NoBackoff(), 0),
        }

    def _connect(self, url: str, max_connections: int) -> Any:
        self._sentinel = Sentinel(
            self._sentinel_addresses,
            sentinel_kwargs={
                "socket_timeout": self._timeout,
                "socket_connect_timeout": self._timeout,
            },
        )
        # redis-py's SentinelConnectionPool.__init__ has no annotations: an untyped call.
        self._pool = _BlockingSentinelPool(  # type: ignore[no-untyped-call]
            self._master,
            self._sentinel,
            max_connections=max_connections,
            timeout=self._timeout,
            health_check_interval=0,
            **self._bounded(),
            **self._server_options(),
        )
        return aioredis.Redis(connection_pool=self._pool)

    async def close(self) -> None:
        await super().close()
        await self._sentinel.aclose()

    def describe(self) -> str:
        sentinels = ",".join(f"{host}:{port}" for host, port in self._sentinel_addresses)
        return f"the master {self._master!r} of the Sentinels {sentinels}"

    async def master_address(self) -> tuple[str, int]:
        """Where the Sentinels say the master is now (EngineUnavailable if none)."""
        host, port = await self._call(self._sentinel.discover_master(self._master))
        return str(host), int(port)

    async def _node_name(self) -> str:
        host, port = await self.master_address()
        return f"{host}:{port}"

    async def _replicas_up(self) -> int:
        """Replicas replicating from the master now, by the master's own word: online, and
        heard from within ``_REPLICA_MAX_LAG`` seconds (they acknowledge every second). The
        Sentinels' view lags (they look every 10 s): a former master still listed as a replica
        but not yet replicating would make every write wait in vain."""
        master = self._pool.master_address
        stale = time.monotonic() - self._replicas_at > _REPLICAS_MAX_AGE
        if self._replicas is None or stale or master != self._replicas_of:
            # First, is the pool's master still the master? After a failover the old one may
            # take writes for a while (until the Sentinels demote it), and they would be lost:
            # its idle connections go now, those in use when they come back.
            if await self.master_address() != self._pool.master_address:
                # redis-py leaves get_master_address unannotated: an untyped call.
                await self._pool.get_master_address()  # type: ignore[no-untyped-call]
            replication = await self._redis.info("replication")
            self._replicas = sum(
                1
                for name, replica in replication.items()
                if name.startswith("slave")
                and isinstance(replica, dict)
                and replica.get("state") == "online"
                and int(replica.get("lag", 0)) <= _REPLICA_MAX_LAG
            )
            self._replicas_of, self._replicas_at = self._pool.master_address, time.monotonic()
        return self._replicas

    async def _write(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        return await self._call(self._run_and_wait(script, keys, args))

    async def _run_and_wait(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        """Run a writing script on the master, then ``WAIT 1`` on the same connection (WAIT
        counts the writes of its own connection) when the master has a replica up."""
        waited = self.wait_for_replica and await self._replicas_up() > 0
        for _ in range(2):  # a second time only after loading the script
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
                if waited:
                    pipe.execute_command("WAIT", 1, self.replica_wait_ms)
                result, *replicas = await pipe.execute(raise_on_error=False)
            if isinstance(result, rx.NoScriptError):  # a promoted replica has no script cache
                await self._redis.script_load(script.script)
                continue
            if isinstance(result, Exception):
                raise result
            if waited:
                self.replica_waits += 1
                if isinstance(replicas[0], Exception):
                    raise replicas[0]
                if replicas[0] < 1:
                    self.replica_wait_failures += 1
                    self._replicas = None  # the replica may be gone: ask the Sentinels
                    raise EngineUnavailable(
                        f"no replica confirmed the write within {self.replica_wait_ms} ms"
                    )
            return result
        raise EngineUnavailable("Redis did not keep the script it was just given")

    def subscription(self, handler: MessageHandler) -> Subscription:
        return _SentinelSubscription(self, self._subscriber(), handler)

    def _subscriber(self) -> Any:
        return self._sentinel.master_for(
            self._master,
            redis_class=aioredis.Redis,
            socket_keepalive=True,
            health_check_interval=0,
            **self._bounded(),
            **self._server_options(),
        )


class _SentinelSubscription(RedisSubscription):
    """The pub/sub connection goes to the master the Sentinels name; when they name another
    one, it ends (the hub connects again there and fills the gap from history)."""

    def __init__(self, engine: RedisSentinelEngine, client: Any, handler: MessageHandler) -> None:
        super().__init__(client, handler)
        self._engine = engine

    async def still_current(self) -> bool:
        connection = self._pubsub.connection
        if connection is None:
            return True  # not connected yet: it will go to the master
        try:
            master = await self._engine.master_address()
        except EngineUnavailable:
            # No answer, or no master while a failover runs: nothing says this connection is
            # wrong (a dead master's connection fails by itself, see run()).
            return True
        return (connection.host, int(connection.port)) == master
