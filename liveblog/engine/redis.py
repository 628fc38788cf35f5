"""The production engine: Redis for state, history (streams) and pub/sub.

All keys of a blog share the hash tag ``{slug}``, so a blog lives in one Cluster slot and its
Lua scripts stay atomic there. Calls fail fast (a down Redis must give a 503 within 5 s) and are
never retried blindly: a retried write could publish twice. Idempotency-Key is the safe retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import secrets
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import msgspec
import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript

from liveblog import events
from liveblog.config import Settings
from liveblog.engine.base import (
    TOKEN_CHANGES,
    Applied,
    AuditRecord,
    BlogExists,
    BlogNotFound,
    Change,
    Engine,
    EngineError,
    EngineUnavailable,
    EntryNotFound,
    Highlights,
    IdempotencyMismatch,
    ImportInProgress,
    ImportLost,
    MessageHandler,
    NewerPage,
    NotScheduled,
    Page,
    SearchBacklog,
    SearchPage,
    SearchQuery,
    SearchTerms,
    Subscription,
    VersionConflict,
    newest_first,
)
from liveblog.engine.keys import (
    BLOGS,
    DUE,
    DUE_MARKS,
    READERS,
    STATS,
    TOKEN_CHANNEL,
    TOKENS,
    TOKENS_AUDIT,
    TOKENS_USED,
    BlogKeys,
    audit_key,
    channel_of,
    slug_of_channel,
)
from liveblog.models import Blog, Entry, Position, Token, new_epoch

T = TypeVar("T")
_TOKEN_TRIES = 16  # compare-and-set rounds before an edit gives up (503: try again)
_EXPORT_STEP = 200  # entries read in one atomic step of an export
_INDEX_STEP = 200  # entries per step of indexing an older blog's highlights
_SEARCH_STEP = 200  # entries looked at per step of search_backlog
# Errors that mean "Redis cannot be reached now" (API: 503), not a bug.
UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)

_entry_decoder = msgspec.json.Decoder(Entry)
_blog_decoder = msgspec.json.Decoder(Blog)
_token_decoder = msgspec.json.Decoder(Token)
_time_decoder = msgspec.json.Decoder(datetime)


def _script(*names: str) -> str:
    """The Lua script ``names[-1]`` of ``lua/``, after the files of functions it uses
    (``audit.lua``, ``search_index.lua``): Redis runs one script, so they are joined."""
    lua = importlib.resources.files("liveblog.engine").joinpath("lua")
    return "".join(lua.joinpath(name).read_text() for name in names)


class _ApplyArgs(msgspec.Struct, omit_defaults=True):
    """apply.lua's one argument: a :class:`Change` with what the engine adds (channels, the
    publish command, times, bounds), msgpack-encoded (the script decodes it with cmsgpack).
    A field left at None is left out: nil in the script. Stored bytes go as they are, as
    msgpack strings (see :func:`_lua_string`)."""

    channel: str
    newsroom_channel: str
    publish: str
    at: str  # publish unix time, as it goes on pub/sub
    history_size: int
    epoch: str
    version: int  # the stored entry's (with an entry)
    kept: int  # revisions kept per entry
    audit_minid: int  # the audit log's oldest id kept (unix ms)
    audit_cap: int  # and its hard cap
    fingerprint: str | None = None
    response: msgspec.Raw | None = None
    ttl: int | None = None
    entry_id: str | None = None
    entry: msgspec.Raw | None = None
    order_key: str | None = None
    old_order_key: str | None = None
    expect: int | None = None
    blog: msgspec.Raw | None = None
    pending_key: str | None = None
    old_pending_key: str | None = None
    due: str | None = None
    claim: bool = False
    language: str | None = None
    terms: str | None = None
    revision: msgspec.Raw | None = None
    audit: msgspec.Raw | None = None
    event: list[msgspec.Raw] | None = None
    newsroom_event: list[msgspec.Raw] | None = None


def _lua_string(raw: bytes) -> msgspec.Raw:
    """``raw`` as an encoded msgpack string, which the script's cmsgpack gives it as a Lua
    string of the same bytes. Redis's cmsgpack knows no binary type, and some of these bytes
    are not text (a revision is compressed); a string's bytes are never checked, so they go
    as they are, with no copy through ``str``."""
    size = len(raw)
    if size < 32:
        head = bytes((0xA0 | size,))  # fixstr
    elif size < 0x100:
        head = b"\xd9" + size.to_bytes(1, "big")  # str 8
    elif size < 0x10000:
        head = b"\xda" + size.to_bytes(2, "big")  # str 16
    else:
        head = b"\xdb" + size.to_bytes(4, "big")  # str 32
    return msgspec.Raw(head + raw)


def _given(raw: bytes | None) -> msgspec.Raw | None:
    """A stored value for the script; None or empty: none (nil there)."""
    return _lua_string(raw) if raw else None


def _lua_strings(parts: list[bytes] | None) -> list[msgspec.Raw] | None:
    return None if parts is None else [_lua_string(part) for part in parts]


class RedisEngine(Engine):
    name = "redis"
    # How the apply script publishes; the cluster engine's channel lives in the blog's slot.
    publish_command = "PUBLISH"
    # Errors that mean "the store cannot be reached now" (API: 503), not a bug.
    unavailable: tuple[type[BaseException], ...] = UNAVAILABLE

    def __init__(
        self,
        url: str,
        *,
        history_size: int = 1000,
        idempotency_ttl: int = 48 * 3600,
        timeout: float = 2.0,
        max_connections: int = 64,
        replica_wait_ms: int = Settings.redis_replica_wait_ms,
        max_revisions: int = 50,
        audit_days: int = 400,
        audit_max_events: int = 100_000,
    ) -> None:
        self.history_size = history_size
        self.replica_wait_ms = replica_wait_ms  # used where a replica is waited for
        self.max_revisions = max_revisions
        self.audit_days = audit_days
        self.audit_max_events = audit_max_events
        self._url = url
        self._idempotency_ttl = idempotency_ttl
        self._timeout = timeout
        self._redis: Any = self._connect(url, max_connections)
        register = self._redis.register_script
        self._apply = register(_script("audit.lua", "search_index.lua", "apply.lua"))
        self._timeline = register(_script("timeline.lua"))
        self._newer = register(_script("newer.lua"))
        self._create_blog = register(_script("audit.lua", "create_blog.lua"))
        self._new_epoch = register(_script("epoch_new.lua"))
        self._renew_epoch = register(_script("epoch_renew.lua"))
        self._report_stats = register(_script("stats_report.lua"))
        self._collect_stats = register(_script("stats_collect.lua"))
        self._presence = register(_script("presence.lua"))
        self._record_readers = register(_script("readers_record.lua"))
        self._highlights = register(_script("highlights.lua"))
        self._index_step = register(_script("index_highlights.lua"))
        self._index_due = register(_script("due_index.lua"))
        self._due_blogs = register(_script("due_blogs.lua"))
        self._settle_due = register(_script("due_settle.lua"))
        self._update_token = register(_script("audit.lua", "token_update.lua"))
        self._delete_token = register(_script("audit.lua", "token_delete.lua"))
        self._store_token = register(_script("audit.lua", "token_store.lua"))
        self._import_begin = register(_script("import_begin.lua"))
        self._import_finish = register(_script("audit.lua", "import_finish.lua"))
        self._import_revisions = register(_script("import_revisions.lua"))
        self._search = register(_script("search.lua"))
        self._index_search = register(_script("search_index.lua", "index_search.lua"))
        self._finish_search_index = register(_script("search_finish.lua"))

    def _connect(self, url: str, max_connections: int) -> Any:
        # A bounded pool that makes callers wait for a free connection (up to the timeout)
        # rather than fail: thousands of readers may connect in the same second.
        self._pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=self._timeout,
            socket_timeout=self._timeout,
            socket_connect_timeout=self._timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        return aioredis.Redis(connection_pool=self._pool)

    async def close(self) -> None:
        await self._redis.aclose()
        await self._pool.aclose()

    async def _call(self, awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except self.unavailable as exc:
            raise EngineUnavailable(f"Redis is unavailable: {exc}") from exc
        except redis.exceptions.RedisError as exc:
            raise EngineError(f"Redis error: {exc}") from exc

    async def _write(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        """Run a script that writes. The cluster and Sentinel engines also wait for a replica
        here."""
        return await self._call(script(keys=keys, args=args))

    async def ping(self) -> None:
        await self._call(self._redis.ping())

    def describe(self) -> str:
        return f"Redis at {address(self._url)}"

    async def maxmemory_policies(self) -> dict[str, str | None]:
        try:
            reply = await self._redis.config_get("maxmemory-policy")
        except self.unavailable as exc:
            raise EngineUnavailable(f"Redis is unavailable: {exc}") from exc
        except redis.exceptions.ResponseError:
            reply = None  # CONFIG refused: renamed (managed services), or not this user's
        return {await self._node_name(): None if reply is None else policy_in(reply)}

    async def _node_name(self) -> str:
        return address(self._url)

    def _audit_args(self, event: bytes | None) -> list[Any]:
        """An audit event's three arguments to a script (see lua/audit.lua)."""
        return [event or "", self.audit_cutoff_ms(), self.audit_max_events]

    async def store_token(self, token_hash: str, token: Token, audit: bytes | None = None) -> None:
        args = [token_hash, msgspec.json.encode(token), *self._audit_args(audit)]
        await self._write(self._store_token, [TOKENS, TOKENS_AUDIT], args)

    async def find_token(self, token_hash: str) -> Token | None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hget(TOKENS, token_hash).hget(TOKENS_USED, token_hash)
            raw, used = await self._call(pipe.execute())
        return None if raw is None else _token_with_use(raw, used)

    async def touch_token(self, token_hash: str, at: datetime) -> None:
        # Its own hash, not a rewrite of the token's record: a use recorded while the token is
        # being revoked cannot bring it back (a stray field is pruned by list_tokens).
        await self._call(self._redis.hset(TOKENS_USED, token_hash, msgspec.json.encode(at)))

    async def list_tokens(self) -> dict[str, Token]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(TOKENS).hgetall(TOKENS_USED)
            tokens, used = await self._call(pipe.execute())
        if stale := used.keys() - tokens.keys():
            await self._call(self._redis.hdel(TOKENS_USED, *stale))
        return {h.decode(): _token_with_use(raw, used.get(h)) for h, raw in tokens.items()}

    async def update_token(
        self,
        token_hash: str,
        change: Callable[[Token], Token],
        audit: Callable[[Token, Token], bytes | None] | None = None,
    ) -> Token | None:
        for _ in range(_TOKEN_TRIES):
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hget(TOKENS, token_hash).hget(TOKENS_USED, token_hash)
                raw, used = await self._call(pipe.execute())
            if raw is None:
                return None
            before = _token_decoder.decode(raw)
            after = change(before)
            new = msgspec.json.encode(after)
            event = None if audit is None else audit(before, after)
            args = [token_hash, raw, new, self.publish_command, TOKEN_CHANNEL]
            args += self._audit_args(event)
            written = await self._write(self._update_token, [TOKENS, TOKENS_AUDIT], args)
            if written == 0:
                return None
            if written == 1:
                return _token_with_use(new, used)
        raise EngineUnavailable("the token kept changing while it was edited: try again")

    async def delete_token(self, token_hash: str, audit: bytes | None = None) -> bool:
        args = [token_hash, self.publish_command, TOKEN_CHANNEL, *self._audit_args(audit)]
        deleted = await self._write(self._delete_token, [TOKENS, TOKENS_AUDIT], args)
        await self._call(self._redis.hdel(TOKENS_USED, token_hash))
        return bool(deleted)

    async def create_blog(self, blog: Blog, epoch: str, audit: bytes | None = None) -> Blog:
        keys = BlogKeys(blog.slug)
        stored = msgspec.json.encode(msgspec.structs.replace(blog, last_event_id=""))
        # Listed first: a create that fails half-way leaves at worst a listed-but-absent slug,
        # which list_blogs skips, never a blog that cannot be found.
        await self._call(self._redis.sadd(BLOGS, blog.slug))
        all_keys = [keys.blog, keys.pos, *keys.cleared(), keys.audit]
        args = [stored, epoch, *self._audit_args(audit)]
        created = await self._write(self._create_blog, all_keys, args)
        if not created:
            raise BlogExists(blog.slug)
        return msgspec.structs.replace(blog, last_event_id=f"{epoch}-0")

    async def get_blog(self, slug: str) -> Blog | None:
        keys = BlogKeys(slug)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(keys.blog).hmget(keys.pos, "epoch", "offset")
            raw, (epoch, offset) = await self._call(pipe.execute())
        return None if raw is None else _blog_with_position(raw, epoch, offset)

    async def list_blogs(self) -> list[Blog]:
        slugs = sorted(s.decode() for s in await self._call(self._redis.smembers(BLOGS)))
        async with self._redis.pipeline(transaction=False) as pipe:
            for slug in slugs:
                keys = BlogKeys(slug)
                pipe.get(keys.blog).hmget(keys.pos, "epoch", "offset")
            replies = await self._call(pipe.execute())
        blogs = []
        for raw, (epoch, offset) in zip(replies[::2], replies[1::2], strict=True):
            if raw is not None:
                blogs.append(_blog_with_position(raw, epoch, offset))
        return blogs

    async def get_entry(self, slug: str, entry_id: str) -> Entry | None:
        raw = await self._call(self._redis.hget(BlogKeys(slug).entries, entry_id))
        return None if raw is None else _entry_decoder.decode(raw)

    async def timeline(self, slug: str, limit: int, before: str | None) -> Page:
        keys = BlogKeys(slug)
        reply = await self._call(
            self._timeline(
                keys=[keys.blog, keys.pos, keys.entries, keys.order], args=[before or "", limit]
            )
        )
        if reply is None:
            raise BlogNotFound(slug)
        epoch, offset, next_key, *entries = reply
        return Page(
            entries=[_entry_decoder.decode(raw) for raw in entries if raw is not None],
            next_key=next_key.decode() or None,
            position=Position(epoch.decode(), int(offset)),
        )

    async def newer(self, slug: str, limit: int, after: str) -> NewerPage:
        keys = BlogKeys(slug)
        reply = await self._call(
            self._newer(keys=[keys.blog, keys.pos, keys.entries, keys.order], args=[after, limit])
        )
        if reply is None:
            raise BlogNotFound(slug)
        epoch, offset, remaining, *entries = reply
        return NewerPage(
            entries=[_entry_decoder.decode(raw) for raw in entries if raw is not None],
            remaining=int(remaining),
            position=Position(epoch.decode(), int(offset)),
        )

    async def _apply_change(self, slug: str, change: Change) -> Applied:
        keys = BlogKeys(slug)
        idem, search = change.idempotency, change.search
        args = _ApplyArgs(
            channel=keys.channel,
            newsroom_channel=keys.newsroom_channel,
            publish=self.publish_command,
            at=repr(time.time()),
            history_size=self.history_size,
            epoch=new_epoch(),
            fingerprint=idem.fingerprint if idem else None,
            response=_lua_string(idem.response) if idem else None,
            ttl=self._idempotency_ttl if idem else None,
            entry_id=change.entry_id or None,
            entry=_given(change.entry),
            version=change.entry_version,
            order_key=change.order_key or None,
            old_order_key=change.old_order_key or None,
            expect=change.expect_version,
            blog=_given(change.blog),
            pending_key=change.pending_key or None,
            old_pending_key=change.old_pending_key or None,
            due=None if change.scheduled_at is None else repr(change.scheduled_at),
            claim=change.claim,
            language=(search.language or None) if search else None,
            terms=" ".join(search.terms) if search and change.entry_id else None,
            revision=_given(change.revision),
            kept=self.max_revisions,
            audit=_given(change.audit),
            audit_minid=self.audit_cutoff_ms(),
            audit_cap=self.audit_max_events,
            event=_lua_strings(change.event),
            newsroom_event=_lua_strings(change.newsroom_event),
        )
        apply_keys = [
            keys.blog, keys.pos, keys.entries, keys.versions, keys.order, keys.history,
            keys.idempotency(idem.key if idem else ""), keys.newsroom_pos,
            keys.newsroom_history, keys.pending, keys.scheduled, keys.pinned, keys.key_events,
            keys.search_records, keys.search_mark, keys.search_terms,
            keys.revisions(change.entry_id or ""), keys.deleted, keys.audit,
        ]  # fmt: skip
        reply = await self._write(self._apply, apply_keys, [msgspec.msgpack.encode(args)])
        status = reply[0]
        if status == b"OK":
            if change.scheduled_at is not None:
                # After the write, before the 2xx: the index can only point too early (a
                # crash in between is mended by the scheduler's rescan).
                await self._call(
                    self._index_due(keys=[DUE, DUE_MARKS], args=[slug, change.scheduled_at])
                )
            return Applied(Position(reply[1].decode(), int(reply[2])))
        if status == b"REPLAY":
            return Applied(Position(reply[2].decode(), int(reply[3] or 0)), replay=reply[1])
        if status == b"NOBLOG":
            raise BlogNotFound(slug)
        if status == b"NOENTRY":
            raise EntryNotFound(change.entry_id or "")
        if status == b"VERSION":
            raise VersionConflict(int(reply[1]))
        if status == b"IDEMPOTENCY":
            raise IdempotencyMismatch(idem.key if idem else "")
        if status == b"NOTSCHEDULED":
            raise NotScheduled(change.entry_id or "")
        raise EngineError(f"unexpected reply from apply.lua: {reply!r}")

    async def highlights(self, slug: str) -> Highlights:
        keys = BlogKeys(slug)
        if not await self._call(self._redis.exists(keys.highlights)):
            await self._index_highlights(keys)
        reply = await self._call(
            self._highlights(keys=[keys.blog, keys.entries, keys.pinned, keys.key_events])
        )
        if reply is None:
            raise BlogNotFound(slug)
        count, *raws = reply
        pinned = [_entry_decoder.decode(raw) for raw in raws[:count] if raw is not None]
        key_events = [_entry_decoder.decode(raw) for raw in raws[count:] if raw is not None]
        return Highlights(pinned, key_events)

    async def _index_highlights(self, keys: BlogKeys) -> None:
        """Index a blog's highlights from its timeline, in steps that each read the entries'
        current state atomically (apply.lua keeps the index meanwhile), then mark it done."""
        after = ""
        index_keys = [keys.entries, keys.order, keys.pinned, keys.key_events]
        while True:
            after = (await self._write(self._index_step, index_keys, [after, _INDEX_STEP])).decode()
            if not after:
                break
        await self._call(self._redis.set(keys.highlights, "1"))

    async def pending(self, slug: str) -> list[Entry]:
        keys = BlogKeys(slug)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.exists(keys.blog).zrange(keys.pending, "+", "-", bylex=True, desc=True)
            exists, order_keys = await self._call(pipe.execute())
        if not exists:
            raise BlogNotFound(slug)
        if not order_keys:
            return []
        ids = [key.partition(b":")[2] for key in order_keys]
        raws = await self._call(self._redis.hmget(keys.entries, ids))
        return [_entry_decoder.decode(raw) for raw in raws if raw is not None]

    # --- search (search.lua reads the index apply.lua keeps) -------------------------------

    async def search(
        self, slug: str, query: SearchQuery, limit: int, before: str | None, *, everything: bool
    ) -> SearchPage:
        keys = BlogKeys(slug)
        search_keys = [keys.blog, keys.pos, keys.entries, keys.order, keys.search_terms,
                       keys.search_mark]  # fmt: skip
        args = [before or "", limit, "1" if everything else "", query.prefix,
                query.prefix_term, query.expansions, *query.terms]  # fmt: skip
        reply = await self._call(self._search(keys=search_keys, args=args))
        if reply is None:
            raise BlogNotFound(slug)
        epoch, offset, next_key, total, mark, *entries = reply
        return SearchPage(
            entries=[_entry_decoder.decode(raw) for raw in entries if raw is not None],
            next_key=next_key.decode() or None,
            position=Position(epoch.decode(), int(offset)),
            total=int(total),
            indexed_in=mark.decode() or None,
        )

    async def begin_search_index(self, slug: str, language: str) -> None:
        await self._call(self._redis.set(BlogKeys(slug).search_mark, "~" + language))

    async def search_backlog(self, slug: str, language: str, cursor: str) -> SearchBacklog:
        keys = BlogKeys(slug)
        after, found = await self._call(
            self._redis.hscan(keys.entries, int(cursor or 0), count=_SEARCH_STEP)
        )
        if not found:
            return SearchBacklog([], None if after == 0 else str(after))
        ids = list(found)
        records = await self._call(self._redis.hmget(keys.search_records, ids))
        prefix = language.encode() + b"\n"
        entries = [
            _entry_decoder.decode(found[entry_id])
            for entry_id, record in zip(ids, records, strict=True)
            if record is None or not record.startswith(prefix)
        ]
        return SearchBacklog(entries, None if after == 0 else str(after))

    async def index_search(self, slug: str, items: list[tuple[Entry, SearchTerms]]) -> None:
        if not items:
            return
        keys = BlogKeys(slug)
        args: list[Any] = []
        for entry, search in items:
            args += [entry.id, entry.version, _search_record(search, entry.order_key)]
        index_keys = [keys.versions, keys.search_records, keys.search_terms]
        await self._write(self._index_search, index_keys, args)

    async def finish_search_index(self, slug: str, language: str) -> bool:
        keys = BlogKeys(slug)
        done = await self._write(self._finish_search_index, [keys.search_mark], [language])
        return bool(done)

    async def due_blogs(self, now: float, *, rescan: bool = False) -> list[tuple[str, str]]:
        if rescan:
            await self._rescan_due()
        flat = await self._call(self._due_blogs(keys=[DUE, DUE_MARKS], args=[repr(now)]))
        return [(s.decode(), m.decode()) for s, m in zip(flat[::2], flat[1::2], strict=True)]

    async def _rescan_due(self) -> None:
        """Index every blog's earliest scheduled entry (mends an index write lost in a crash)."""
        slugs = sorted(s.decode() for s in await self._call(self._redis.smembers(BLOGS)))
        async with self._redis.pipeline(transaction=False) as pipe:
            for slug in slugs:
                pipe.zrange(BlogKeys(slug).scheduled, 0, 0, withscores=True)
            firsts = await self._call(pipe.execute())
        for slug, first in zip(slugs, firsts, strict=True):
            if first:
                args = [slug, repr(first[0][1])]
                await self._call(self._index_due(keys=[DUE, DUE_MARKS], args=args))

    async def due_entries(self, slug: str, now: float) -> list[str]:
        ids = await self._call(
            self._redis.zrange(BlogKeys(slug).scheduled, "-inf", repr(now), byscore=True)
        )
        return [i.decode() for i in ids]

    async def settle_due(self, slug: str, mark: str) -> None:
        scheduled = BlogKeys(slug).scheduled
        first = await self._call(self._redis.zrange(scheduled, 0, 0, withscores=True))
        due = repr(first[0][1]) if first else ""
        await self._call(self._settle_due(keys=[DUE, DUE_MARKS], args=[slug, mark, due]))

    async def renew_epoch(self, slug: str, seen: Position) -> Position | None:
        if await self.position(slug) is None:
            return None
        keys = BlogKeys(slug)
        epoch, offset = await self._write(
            self._renew_epoch, [keys.pos, keys.history], [seen.epoch, seen.offset, new_epoch()]
        )
        return Position(epoch.decode(), int(offset))

    async def position(self, slug: str) -> Position | None:
        keys = BlogKeys(slug)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.exists(keys.blog).hmget(keys.pos, "epoch", "offset")
            exists, (epoch, offset) = await self._call(pipe.execute())
        if not exists:
            return None
        if epoch is None:
            # The blog survived but its position did not (an incomplete restore): its history
            # means nothing now. Start a new epoch, so every old id gets a reset.
            await self._write(self._new_epoch, [keys.pos, keys.history], [new_epoch()])
            return await self.position(slug)
        return Position(epoch.decode(), int(offset or 0))

    async def history(self, slug: str, after: int) -> list[bytes] | None:
        keys = BlogKeys(slug)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hget(keys.pos, "offset")
            pipe.xrange(keys.history, min=f"{after + 1}-0", count=self.history_size)
            offset, records = await self._call(pipe.execute())
        if offset is None:
            return None
        if after > int(offset):
            return None  # an id this epoch never issued
        if after == int(offset):
            return []
        if not records or records[0][0] != f"{after + 1}-0".encode():
            return None
        return [fields[b"e"] for _, fields in records]

    def subscription(self, handler: MessageHandler) -> Subscription:
        return RedisSubscription(self._subscriber(), handler)

    def _subscriber(self) -> Any:
        """A client of its own for one pub/sub connection. Every call on it is bounded (reads of
        messages wait by their own timeout), so a Redis that stops answering fails the
        subscription rather than hanging it."""
        return aioredis.Redis.from_url(
            self._url,
            socket_timeout=self._timeout,
            socket_connect_timeout=self._timeout,
            socket_keepalive=True,
            health_check_interval=0,  # the subscription's own pings check it (see run())
            retry=Retry(NoBackoff(), 0),
        )

    # --- the record ------------------------------------------------------------------------
    async def revisions(self, slug: str, entry_id: str) -> list[bytes] | None:
        keys = BlogKeys(slug)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.exists(keys.blog).lrange(keys.revisions(entry_id), 0, -1)
            exists, revisions = await self._call(pipe.execute())
        return list(revisions) if exists else None

    async def deleted_entries(self, slug: str, limit: int) -> list[tuple[str, float]]:
        keys = BlogKeys(slug)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.exists(keys.blog).zrange(keys.deleted, 0, limit - 1, desc=True, withscores=True)
            exists, deleted = await self._call(pipe.execute())
        if not exists:
            raise BlogNotFound(slug)
        return [(entry_id.decode(), float(at)) for entry_id, at in deleted]

    async def entry_ids(self, slug: str) -> list[str] | None:
        keys = BlogKeys(slug)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.exists(keys.blog).hkeys(keys.entries).zrange(keys.deleted, 0, -1)
            exists, live, deleted = await self._call(pipe.execute())
        if not exists:
            return None
        return sorted({i.decode() for i in (*live, *deleted)})

    async def export_entries(
        self, slug: str, entry_ids: list[str]
    ) -> list[tuple[bytes | None, list[bytes]]]:
        keys = BlogKeys(slug)
        found: list[tuple[bytes | None, list[bytes]]] = []
        for start in range(0, len(entry_ids), _EXPORT_STEP):
            ids = entry_ids[start : start + _EXPORT_STEP]
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hmget(keys.entries, ids)
                for entry_id in ids:
                    pipe.lrange(keys.revisions(entry_id), 0, -1)
                entries, *histories = await self._call(pipe.execute())
            found += zip(entries, histories, strict=True)
        return found

    async def record_audit(self, slug: str | None, event: bytes) -> None:
        key = audit_key(slug)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(key, {"e": event}, minid=self.audit_cutoff_ms(), approximate=True)
            pipe.xtrim(key, maxlen=self.audit_max_events, approximate=True)
            await self._call(pipe.execute())

    async def audit_log(
        self, blog: str | None, before: tuple[int, int, str] | None, limit: int
    ) -> list[AuditRecord]:
        if blog is not None:
            sources = [blog]
        else:
            slugs = await self._call(self._redis.smembers(BLOGS))
            sources = [TOKEN_CHANGES, *sorted(s.decode() for s in slugs)]
        oldest = f"{self.audit_cutoff_ms()}-0"
        async with self._redis.pipeline(transaction=False) as pipe:
            for source in sources:
                newest = "+"
                if before is not None:
                    # Newest first is (ms, seq, source) descending: at the cursor's own id, only
                    # the logs that sort before the cursor's still have events to give.
                    ms, seq, after = before
                    newest = f"{ms}-{seq}" if source < after else f"({ms}-{seq}"
                pipe.xrevrange(audit_key(source), newest, oldest, count=limit)
            pages = await self._call(pipe.execute())
        records = []
        for source, page in zip(sources, pages, strict=True):
            for stream_id, fields in page:
                ms, _, seq = stream_id.decode().partition("-")
                records.append(AuditRecord(int(ms), int(seq), source, fields[b"e"]))
        return newest_first(records, limit)

    async def begin_import(self, blog: Blog, epoch: str, lease: str, until: float) -> None:
        keys = BlogKeys(blog.slug)
        stored = msgspec.json.encode(msgspec.structs.replace(blog, last_event_id=""))
        all_keys = [keys.blog, keys.pos, keys.importing, *keys.cleared()]
        args = [stored, epoch, lease, repr(time.time()), repr(until)]
        status = await self._write(self._import_begin, all_keys, args)
        if status == b"EXISTS":
            raise BlogExists(blog.slug)
        if status == b"BUSY":
            raise ImportInProgress(blog.slug)

    async def _import_step(self, slug: str, lease: str, until: str, audit: bytes | None) -> None:
        keys = BlogKeys(slug)
        step_keys = [keys.importing, keys.pos, keys.history, keys.audit]
        args = [lease, new_epoch(), until, *self._audit_args(audit)]
        if not await self._write(self._import_finish, step_keys, args):
            raise ImportLost(slug)

    async def renew_import(self, slug: str, lease: str, until: float) -> None:
        await self._import_step(slug, lease, repr(until), None)

    async def import_revisions(
        self, slug: str, entry_id: str, revisions: list[bytes], deleted_at: float | None
    ) -> None:
        keys = BlogKeys(slug)
        deleted = "" if deleted_at is None else repr(deleted_at)
        await self._write(
            self._import_revisions,
            [keys.revisions(entry_id), keys.deleted],
            [entry_id, deleted, *revisions],
        )

    async def finish_import(self, slug: str, lease: str, audit: bytes | None) -> Blog:
        await self._import_step(slug, lease, "", audit)
        await self._call(self._redis.sadd(BLOGS, slug))
        blog = await self.get_blog(slug)
        if blog is None:
            raise BlogNotFound(slug)
        return blog

    async def update_presence(
        self,
        slug: str,
        put: Mapping[str, tuple[float, bytes]],
        drop: Sequence[str] = (),
        touch: Mapping[str, tuple[float, bytes]] | None = None,
    ) -> tuple[bool, dict[str, bytes]]:
        keys = BlogKeys(slug)
        notice = b"%r %s" % (time.time(), events.PRESENCE_NOTICE)
        touch = touch or {}
        args: list[Any] = [
            keys.newsroom_channel,
            self.publish_command,
            notice,
            len(put),
            len(touch),
        ]
        for field, (ttl, value) in [*put.items(), *touch.items()]:
            args += [field, ttl, value]
        args += list(drop)
        # Not _write: a presence record is not worth waiting for a replica.
        reply = await self._call(self._presence(keys=[keys.presence], args=args))
        changed, *flat = reply
        pairs = zip(flat[::2], flat[1::2], strict=True)
        return bool(changed), {field.decode(): value for field, value in pairs}

    async def report_stats(self, process: str, report: bytes, ttl: float) -> None:
        await self._call(self._report_stats(keys=[STATS], args=[process, ttl, report]))

    async def collect_stats(self) -> dict[str, bytes]:
        flat = await self._call(self._collect_stats(keys=[STATS]))
        pairs = zip(flat[::2], flat[1::2], strict=True)
        return {process.decode(): report for process, report in pairs}

    async def forget_stats(self, process: str) -> None:
        await self._call(self._redis.hdel(STATS, process))

    async def record_readers(
        self, minute: int, process: str, counts: bytes, *, keep_from: int | None = None
    ) -> None:
        args = [f"{minute}:{process}", counts, "" if keep_from is None else keep_from]
        await self._call(self._record_readers(keys=[READERS], args=args))

    async def readers_history(self) -> dict[int, list[bytes]]:
        history: dict[int, list[bytes]] = {}
        for field, counts in (await self._call(self._redis.hgetall(READERS))).items():
            minute, _, _ = field.partition(b":")
            if minute.isdigit():
                history.setdefault(int(minute), []).append(counts)
        return history


def _search_record(search: SearchTerms, order_key: str) -> str:
    """What search_index.lua keeps of an indexed entry."""
    return f"{search.language}\n{order_key}\n{' '.join(search.terms)}"


def address(url: str) -> str:
    """host:port of a Redis URL, without its credentials (for logs and messages)."""
    parsed = urllib.parse.urlsplit(url)
    return f"{parsed.hostname or 'localhost'}:{parsed.port or 6379}"


def policy_in(reply: Any) -> str | None:
    """The value of CONFIG GET maxmemory-policy, as redis-py returns it (a dict, or pairs)."""
    if isinstance(reply, list):
        reply = dict(zip(reply[::2], reply[1::2], strict=False))
    for name, value in (reply or {}).items():
        if (name.decode() if isinstance(name, bytes) else name) == "maxmemory-policy":
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


def _token_with_use(raw: bytes, used: bytes | None) -> Token:
    token = _token_decoder.decode(raw)
    if used is None:
        return token
    return msgspec.structs.replace(token, last_used_at=_time_decoder.decode(used))


def _blog_with_position(raw: bytes, epoch: bytes | None, offset: bytes | None) -> Blog:
    blog = _blog_decoder.decode(raw)
    position = f"{(epoch or b'').decode()}-{int(offset or 0)}"
    return msgspec.structs.replace(blog, last_event_id=position)


class RedisSubscription(Subscription):
    """A dedicated pub/sub connection. Any failure surfaces as EngineUnavailable from run().

    A connection that went silent (a blackholed network, a half-open TCP connection, a Redis
    that hangs) is noticed here rather than by the kernel hours later: after ``SILENCE_SECONDS``
    without a message the loop pings, and without an answer for as long again it gives up, so
    the hub connects again and fills every blog's gap from history.
    """

    # Seconds without any message before a ping; as long again without its pong: dead.
    SILENCE_SECONDS = 5.0
    # How often ``still_current`` is asked whether this connection still goes to the master.
    CHECK_SECONDS = 2.0

    def __init__(self, client: Any, handler: MessageHandler) -> None:
        self._client = client
        self._pubsub = client.pubsub()
        self._handler = handler
        # A channel of this connection's own: always subscribed (so the connection exists and
        # fails loudly), and the path of confirm()'s probes.
        self._control = f"lb:hub:{secrets.token_hex(8)}".encode()
        self._probes: dict[bytes, asyncio.Future[None]] = {}
        self._control_subscribed: asyncio.Future[None] | None = None

    async def _subscribe_control(self) -> None:
        # Shared by run() and confirm(): the first one subscribes, both wait for it, so the
        # connection exists before run() reads from it.
        if self._control_subscribed is None:
            self._control_subscribed = asyncio.ensure_future(self._pubsub.subscribe(self._control))
        await self._call(asyncio.shield(self._control_subscribed))

    async def _call(self, awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except UNAVAILABLE as exc:
            raise EngineUnavailable(f"Redis pub/sub is unavailable: {exc}") from exc

    async def subscribe(self, slug: str) -> None:
        await self._call(self._pubsub.subscribe(channel_of(slug)))

    async def unsubscribe(self, slug: str) -> None:
        await self._call(self._pubsub.unsubscribe(channel_of(slug)))

    async def confirm(self) -> None:
        # Redis runs one connection's commands in order: once a probe published after our
        # subscribes comes back on the control channel, every earlier subscribe is in effect.
        await self._subscribe_control()
        probe = secrets.token_bytes(8)
        waiter = self._probes[probe] = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(5.0):
                await self._call(self._client.publish(self._control, probe))
                await waiter
        except TimeoutError:
            raise EngineUnavailable("Redis pub/sub did not confirm the subscription") from None
        finally:
            self._probes.pop(probe, None)

    async def still_current(self) -> bool:
        """False once this connection no longer reaches the server that takes the writes."""
        return True

    async def run(self) -> None:
        await self._subscribe_control()
        handler, control, pubsub = self._handler, self._control, self._pubsub
        loop = asyncio.get_running_loop()
        heard = next_check = loop.time()
        pinged = False
        while True:
            message = await self._call(
                pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            )
            now = loop.time()
            if message is not None:
                heard, pinged = now, False
                if message["type"] == "message":
                    channel = message["channel"]
                    if channel == control:
                        waiter = self._probes.get(message["data"])
                        if waiter is not None and not waiter.done():
                            waiter.set_result(None)
                    else:
                        handler(slug_of_channel(channel), message["data"])
            elif now - heard >= self.SILENCE_SECONDS:
                if pinged:
                    raise EngineUnavailable(
                        f"Redis pub/sub answered nothing for {now - heard:.0f} s"
                    )
                await self._call(pubsub.ping())
                pinged = True
            if now >= next_check:
                next_check = now + self.CHECK_SECONDS
                if not await self.still_current():
                    raise EngineUnavailable("Redis pub/sub: the master moved")

    async def close(self) -> None:
        # Bounded: a close that waits on a dead peer must not hold up a restart.
        with contextlib.suppress(*UNAVAILABLE, TimeoutError):
            async with asyncio.timeout(1.0):
                await self._pubsub.aclose()
        with contextlib.suppress(*UNAVAILABLE, TimeoutError):
            async with asyncio.timeout(1.0):
                await self._client.aclose()
