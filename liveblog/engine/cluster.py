"""The Redis engine on a Redis Cluster: the same keys, scripts and history, sharded.

Every key of a blog carries the hash tag ``{slug}``, so a blog lives in one slot: its scripts
stay atomic there, and its channel is a *shard* channel of that slot (SPUBLISH inside the apply
script, SSUBSCRIBE here). The global keys (``lb:tokens``, ``lb:tokens:used``, ``lb:blogs``,
``lb:stats``, ``lb:readers``) are one key each, so each simply lives on its own slot: no script
touches two of them, and the calls that read two (a token and its last use) are plain pipelines.
Token changes are published on ``{lb:tokens}:changed``, a shard channel in the slot of
``lb:tokens``, and recorded in ``{lb:tokens}:audit``, a stream in the same slot (the token
scripts write both).

Durability: replication is asynchronous, so a write acknowledged by a master alone could vanish
when its replica takes over. A script that writes is followed by ``WAIT 1`` on the same
connection whenever the slot's shard has a replica; if no replica confirms in time, the caller
gets EngineUnavailable (503) and the Idempotency-Key retry settles it. A write lost anyway (both
copies gone) is caught by the hub's epoch check and becomes ``reset``, never a reused offset.

Live events: one sharded pub/sub connection per master that holds blogs with readers here,
behind one :class:`Subscription`. Any shard connection failing, a slot moving away (the server's
own ``sunsubscribe``) or a MOVED reply ends ``run()`` with EngineUnavailable: the hub connects
again on the fresh topology and fills every blog's gap from history.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Awaitable
from typing import Any, TypeVar

import redis.asyncio as aioredis
import redis.exceptions as rx
from redis.asyncio.cluster import ClusterNode, PipelineCommand
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.cluster import PRIMARY
from redis.commands.core import AsyncScript

from liveblog.engine.base import EngineError, EngineUnavailable, MessageHandler, Subscription
from liveblog.engine.keys import channel_of, slug_of_channel
from liveblog.engine.redis import (
    UNAVAILABLE,
    RedisEngine,
    address,
    policy_in,
)

T = TypeVar("T")

# The slot map is read again after any routing failure, and at least this often (a replica
# that joined a shard is then waited for).
_TOPOLOGY_MAX_AGE = 30.0
_REDIRECTS = 5  # MOVED/ASK/TRYAGAIN/NOSCRIPT in a row before giving up (the script never ran)

_CLUSTER_UNAVAILABLE = (
    *UNAVAILABLE,
    rx.ClusterError,  # CLUSTERDOWN, "TTL exhausted"
    rx.RedisClusterException,  # no reachable node, slots not covered
    rx.TryAgainError,  # a slot mid-migration
    rx.ReadOnlyError,  # a master demoted under us
    rx.MovedError,
    rx.AskError,
)


class RedisClusterEngine(RedisEngine):
    name = "redis-cluster"
    publish_command = "SPUBLISH"
    unavailable = _CLUSTER_UNAVAILABLE
    wait_for_replica = True  # bench/cluster_publish.py turns it off to measure what it costs

    def __init__(self, url: str, *, max_connections: int = 64, **options: Any) -> None:
        self._stale = False  # set when a call found the slot map wrong (or a node gone)
        self._refreshed = time.monotonic()  # redis-py reads the map on the first call
        # Calls in flight, bounded: a node's pool refuses (rather than queues) past its size.
        self._slots = asyncio.BoundedSemaphore(max_connections)
        super().__init__(url, max_connections=max_connections, **options)

    def _connect(self, url: str, max_connections: int) -> Any:
        # No retries of our own or redis-py's: a write retried blindly could publish twice.
        # Redirects (MOVED/ASK) are still followed: a redirected command never ran.
        return aioredis.RedisCluster.from_url(
            url,
            max_connections=max_connections,
            socket_timeout=self._timeout,
            socket_connect_timeout=self._timeout,
            retry=Retry(NoBackoff(), 0),
        )

    async def close(self) -> None:
        await self._redis.aclose()

    async def _call(self, awaitable: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self._timeout):
                await self._slots.acquire()
        except TimeoutError:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
            raise EngineUnavailable("Redis Cluster: too many calls in flight") from None
        try:
            return await super()._call(awaitable)
        except EngineUnavailable:
            self._stale = True  # read the slot map again before routing by it
            raise
        finally:
            self._slots.release()

    async def _topology(self) -> Any:
        """The slot map, read again when a call found it wrong or when it is old."""
        cluster = self._redis
        await cluster.initialize()  # a no-op unless redis-py itself asked for one
        if self._stale or time.monotonic() - self._refreshed > _TOPOLOGY_MAX_AGE:
            self._stale = False
            self._refreshed = time.monotonic()
            await cluster.nodes_manager.initialize()
        return cluster.nodes_manager

    def describe(self) -> str:
        return f"the Redis Cluster of {address(self._url)}"

    async def maxmemory_policies(self) -> dict[str, str | None]:
        """Every master's: each holds a share of the blogs."""
        nodes = await self._topology()
        policies: dict[str, str | None] = {}
        for node in nodes.get_nodes_by_server_type(PRIMARY):
            policies[node.name] = await self._policy_of(self._redis.get_node(node_name=node.name))
        return policies

    async def _policy_of(self, node: ClusterNode) -> str | None:
        try:
            reply = await self._call(node.execute_command("CONFIG", "GET", "maxmemory-policy"))
        except EngineError as exc:
            if isinstance(exc.__cause__, rx.ResponseError):
                return None  # CONFIG refused (renamed, or not allowed to this user)
            raise
        return policy_in(reply)

    async def ping(self) -> None:
        """Every master answers: a write to any blog could go through now."""
        await self._call(self._redis.ping(target_nodes=aioredis.RedisCluster.PRIMARIES))

    async def _write(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        return await self._call(self._run_and_wait(script, keys, args))

    async def _run_and_wait(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        """Run a writing script on its slot's master, then ``WAIT 1`` on the same connection
        (WAIT counts the writes of its own connection) when the shard has a replica."""
        nodes = await self._topology()
        slot = self._redis.keyslot(keys[0])
        asking: ClusterNode | None = None
        for _ in range(_REDIRECTS):
            shard = nodes.slots_cache.get(slot) or []
            if not shard:
                raise rx.SlotNotCoveredError(f"slot {slot} is not served")
            node = asking or shard[0]
            evalsha = PipelineCommand(1, "EVALSHA", script.sha, len(keys), *keys, *args)
            commands = [evalsha]
            if asking is not None:
                commands.insert(0, PipelineCommand(0, "ASKING"))
            # On an ASK redirect the slot's new master is mid-import and its replicas are not in
            # this map: no WAIT for that short window.
            waited = self.wait_for_replica and len(shard) > 1 and asking is None
            if waited:
                commands.append(PipelineCommand(2, "WAIT", 1, self.replica_wait_ms))
                self.replica_waits += 1
            await node.execute_pipeline(commands)
            asking = None
            result = evalsha.result
            if isinstance(result, rx.NoScriptError):  # a promoted replica has no script cache
                await node.execute_command("SCRIPT", "LOAD", script.script)
            elif isinstance(result, rx.MovedError):
                await nodes.move_slot(result)
            elif isinstance(result, rx.AskError):
                asking = self._redis.get_node(host=result.host, port=result.port)
                if asking is None:  # a node we have not met: learn the topology first
                    raise result
            elif isinstance(result, rx.TryAgainError):
                await asyncio.sleep(0.05)
            elif isinstance(result, Exception):
                raise result
            else:
                if waited:
                    replicas = commands[-1].result
                    if isinstance(replicas, Exception):
                        raise replicas
                    if replicas < 1:
                        self.replica_wait_failures += 1
                        self._stale = True  # the replica may be gone: ask the cluster
                        raise EngineUnavailable(
                            f"no replica confirmed the write within {self.replica_wait_ms} ms"
                        )
                return result
        raise EngineUnavailable(f"Redis Cluster: slot {slot} kept redirecting")

    def subscription(self, handler: MessageHandler) -> Subscription:
        return _ClusterSubscription(self, handler)


class _Shard:
    """The sharded pub/sub connection to one master."""

    def __init__(self, node: ClusterNode, timeout: float) -> None:
        self.name = node.name
        self.client = aioredis.Redis(
            host=node.host,
            port=int(node.port),
            socket_connect_timeout=timeout,
            socket_keepalive=True,
            health_check_interval=10,  # notices a silently dead connection
            retry=Retry(NoBackoff(), 0),
        )
        self.pubsub = self.client.pubsub()
        self.reader: asyncio.Task[None] | None = None

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        try:
            await self.pubsub.aclose()
            await self.client.aclose()
        except _CLUSTER_UNAVAILABLE:
            pass


class _ClusterSubscription(Subscription):
    """One process's live events from a cluster: a connection per master that holds blogs
    with readers here, seen by the hub as one connection that fails as a whole."""

    def __init__(self, engine: RedisClusterEngine, handler: MessageHandler) -> None:
        self._engine = engine
        self._handler = handler
        self._shards: dict[str, _Shard] = {}
        self._route: dict[str, _Shard] = {}  # slug -> the shard it was subscribed on
        self._leaving: Counter[bytes] = Counter()  # our own sunsubscribes, not yet answered
        self._probes: dict[bytes, asyncio.Future[None]] = {}
        self._failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._running = False

    async def _call(self, awaitable: Awaitable[T]) -> T:
        """A failed call fails the whole subscription: the hub starts over on a fresh map."""
        try:
            return await awaitable
        except _CLUSTER_UNAVAILABLE as exc:
            error = EngineUnavailable(f"Redis Cluster pub/sub is unavailable: {exc}")
            self._fail(error)
            raise error from exc

    async def subscribe(self, slug: str) -> None:
        channel = channel_of(slug)
        nodes = await self._call(self._engine._topology())
        shard_nodes = nodes.slots_cache.get(self._engine._redis.keyslot(channel))
        if not shard_nodes:
            await self._call(self._unserved(channel))
        node = shard_nodes[0]
        shard = self._shards.get(node.name)
        if shard is None:
            shard = self._shards[node.name] = _Shard(node, self._engine._timeout)
        self._route[slug] = shard
        await self._call(shard.pubsub.ssubscribe(channel))
        if self._running and shard.reader is None:
            self._start_reader(shard)

    async def _unserved(self, channel: str) -> None:
        raise rx.SlotNotCoveredError(f"no master serves {channel}")

    async def unsubscribe(self, slug: str) -> None:
        shard = self._route.pop(slug, None)
        if shard is not None:
            channel = channel_of(slug)
            self._leaving[channel.encode()] += 1
            await self._call(shard.pubsub.sunsubscribe(channel))

    async def confirm(self) -> None:
        # A connection answers in order: once a PING sent after our SSUBSCRIBEs comes back on
        # every shard, each of them is in effect (or its error has ended run()).
        if not self._shards:
            await self._engine.ping()  # nothing to listen to yet: at least the cluster is up
            return
        waiters = []
        for shard in list(self._shards.values()):
            probe = secrets.token_hex(8).encode()
            waiters.append(self._probes.setdefault(probe, self._new_future()))
            await self._call(shard.pubsub.ping(probe))
        answered = asyncio.gather(*waiters)
        either: list[asyncio.Future[Any]] = [self._failed, answered]
        try:
            async with asyncio.timeout(5.0):
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        except TimeoutError:
            error = EngineUnavailable("Redis Cluster did not confirm the subscriptions")
            self._fail(error)
            raise error from None
        finally:
            answered.cancel()
            for probe in [p for p, w in self._probes.items() if w in waiters]:
                self._probes.pop(probe, None)
        if self._failed.done():
            await asyncio.shield(self._failed)  # raises why a shard failed

    def _new_future(self) -> asyncio.Future[None]:
        return asyncio.get_running_loop().create_future()

    async def run(self) -> None:
        self._running = True
        for shard in self._shards.values():
            if shard.reader is None:
                self._start_reader(shard)
        await asyncio.shield(self._failed)

    def _start_reader(self, shard: _Shard) -> None:
        shard.reader = asyncio.create_task(self._read(shard))

    def _fail(self, exc: BaseException) -> None:
        self._engine._stale = True
        if not self._failed.done():
            self._failed.set_exception(exc)

    async def _read(self, shard: _Shard) -> None:
        handler, pubsub = self._handler, shard.pubsub
        try:
            while True:
                message = await pubsub.get_message(timeout=5.0)
                if message is None:
                    continue
                kind = message["type"]
                if kind == "smessage":
                    handler(slug_of_channel(message["channel"]), message["data"])
                elif kind == "pong":
                    waiter = self._probes.get(message["data"])
                    if waiter is not None and not waiter.done():
                        waiter.set_result(None)
                elif kind == "sunsubscribe":
                    channel = message["channel"]
                    if self._leaving[channel] > 0:
                        self._leaving[channel] -= 1
                    else:  # the server dropped us: the slot moved to another master
                        raise EngineUnavailable(f"{channel.decode()} moved off {shard.name}")
        except asyncio.CancelledError:
            raise
        except EngineUnavailable as exc:
            self._fail(exc)
        except _CLUSTER_UNAVAILABLE as exc:
            self._fail(EngineUnavailable(f"Redis Cluster pub/sub on {shard.name}: {exc}"))
        except Exception as exc:  # a bug: still end the subscription, loudly
            self._fail(exc)

    async def close(self) -> None:
        self._running = False
        shards, self._shards = list(self._shards.values()), {}
        for shard in shards:
            await shard.close()
        if not self._failed.done():
            self._failed.cancel()
        elif not self._failed.cancelled():
            self._failed.exception()  # retrieved: it was reported through run() or confirm()
