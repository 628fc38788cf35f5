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
from liveblog.models import Blog, Entry, Position, Token, new_epoch, split_channel

T = TypeVar("T")
_TOKENS = "lb:tokens"  # token hash -> Token JSON
_TOKENS_USED = "lb:tokens:used"  # token hash -> when it was last used (JSON time)
# Where token changes are published (TOKEN_CHANGES): the hash tag puts the channel in the slot
# of lb:tokens, so on a cluster the scripts below may SPUBLISH it.
_TOKEN_CHANNEL = "{lb:tokens}:changed"
_TOKEN_CHANNEL_BYTES = _TOKEN_CHANNEL.encode()
_TOKEN_TRIES = 16  # compare-and-set rounds before an edit gives up (503: try again)
# The audit log of people's tokens, in the slot of lb:tokens: the token scripts write to it.
_TOKENS_AUDIT = "{lb:tokens}:audit"

# Append an audit event (ARGV[a] = '' : none) to the stream KEYS[k]: trimmed by age (ARGV[a+1],
# the oldest id kept, unix ms) and by a hard cap (ARGV[a+2]). Shared by the token scripts.
_AUDIT_LUA = """
local function audit(k, a)
  if ARGV[a] == '' then return end
  redis.call('XADD', KEYS[k], 'MINID', '~', ARGV[a + 1], '*', 'e', ARGV[a])
  redis.call('XTRIM', KEYS[k], 'MAXLEN', '~', ARGV[a + 2])
end
"""

# Store a new token. KEYS: tokens, tokens' audit log. ARGV: hash, token, audit (3 args).
_STORE_TOKEN = (
    _AUDIT_LUA
    + """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
audit(2, 3)
"""
)

# Replace a token only if it is still what the caller read: a revoke (or another edit) in
# between is never undone. KEYS: tokens, tokens' audit log. ARGV: hash, the token read, the
# token to write, publish command, channel, audit (3 args). Returns 1 (written), 0 (no such
# token), -1 (changed meanwhile).
_UPDATE_TOKEN = (
    _AUDIT_LUA
    + """
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if not stored then return 0 end
if stored ~= ARGV[2] then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call(ARGV[4], ARGV[5], ARGV[1])
audit(2, 6)
return 1
"""
)

# Revoke a token and tell every process. KEYS: tokens, tokens' audit log. ARGV: hash, publish
# command, channel, audit (3 args).
_DELETE_TOKEN = (
    _AUDIT_LUA
    + """
local deleted = redis.call('HDEL', KEYS[1], ARGV[1])
if deleted == 1 then
  redis.call(ARGV[2], ARGV[3], ARGV[1])
  audit(2, 4)
end
return deleted
"""
)

# Replace an entry's history (an import). KEYS: its revisions, the blog's deleted entries.
# ARGV: entry id, when it was deleted ('' = it was not), then its revisions, oldest first.
_IMPORT_REVISIONS = """
redis.call('DEL', KEYS[1])
if #ARGV > 2 then redis.call('RPUSH', KEYS[1], unpack(ARGV, 3)) end
if ARGV[2] ~= '' then redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1]) end
"""
_EXPORT_STEP = 200  # entries read in one atomic step of an export
_BLOGS = "lb:blogs"
_STATS = "lb:stats"  # process id -> "<expires> <report>" (see lua/stats_*.lua)
_READERS = "lb:readers"  # "<minute>:<process>" -> readers per blog (see lua/readers_record.lua)
# The schedule's index across blogs (both keys in one slot: the scripts below touch both):
# blog slug -> the earliest time one of its entries may be due, and a counter per blog that
# every scheduling write bumps (see settle_due).
_DUE = "lb:{scheduled}:due"
_DUE_MARKS = "lb:{scheduled}:marks"

# A blog has an entry due at ARGV[2] (after the write that scheduled it): bump its mark, so a
# scheduler that read the index before cannot drop it. KEYS: due, marks. ARGV: slug, due time.
_INDEX_DUE = """
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('ZADD', KEYS[1], 'LT', ARGV[2], ARGV[1])
"""

# Blogs due by ARGV[1], with their marks. KEYS: due, marks. Returns {slug, mark, ...}.
_DUE_BLOGS = """
local slugs = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, 1000)
local result = {}
for i = 1, #slugs do
  result[#result + 1] = slugs[i]
  result[#result + 1] = redis.call('HGET', KEYS[2], slugs[i]) or '0'
end
return result
"""

# After a scheduler claimed a blog's due entries: index its next due time (ARGV[3], '' =
# none). If nothing scheduled meanwhile (the mark is still ARGV[2]), that is the truth; if
# something did, only an earlier time may replace the index's. KEYS: due, marks.
_SETTLE_DUE = """
if (redis.call('HGET', KEYS[2], ARGV[1]) or '0') == ARGV[2] then
  if ARGV[3] == '' then redis.call('ZREM', KEYS[1], ARGV[1])
  else redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1]) end
elseif ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[1], 'LT', ARGV[3], ARGV[1])
end
"""
_INDEX_STEP = 200  # entries per step of indexing an older blog's highlights
# How long a 2xx waits for a replica to have the write (on a cluster, or behind Sentinel).
# Short: it is the price of every publish on a healthy shard (docs/benchmarks.md), and a 503
# past it is safe to retry.
REPLICA_WAIT_MS = 500

_SEARCH_STEP = 200  # entries looked at per step of search_backlog

# The search index is complete in ARGV[1] now, unless a change in another language undid the
# '~<language>' mark meanwhile (see search_index.lua). KEYS: search mark. Returns 1 or 0.
_FINISH_SEARCH_INDEX = """
local mark = redis.call('GET', KEYS[1])
if mark == ARGV[1] then return 1 end
if mark ~= '~' .. ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""
_UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)

# Start a new epoch unless one was started meanwhile. KEYS: pos, history. ARGV: epoch.
_NEW_EPOCH = """
if redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'offset', 0)
  redis.call('DEL', KEYS[2])
end
"""

# The store is behind what readers saw: a new epoch. KEYS: pos, history.
# ARGV: the epoch seen, the offset seen, a new epoch. Returns {epoch, offset} after.
_RENEW_EPOCH = """
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local offset = tonumber(redis.call('HGET', KEYS[1], 'offset') or '0')
if epoch == ARGV[1] and offset < tonumber(ARGV[2]) then
  epoch = ARGV[3]
  redis.call('HSET', KEYS[1], 'epoch', epoch)
  redis.call('DEL', KEYS[2])
end
return {epoch, offset}
"""

_entry_decoder = msgspec.json.Decoder(Entry)
_blog_decoder = msgspec.json.Decoder(Blog)
_token_decoder = msgspec.json.Decoder(Token)
_time_decoder = msgspec.json.Decoder(datetime)


def _script(name: str) -> str:
    return importlib.resources.files("liveblog.engine").joinpath("lua", name).read_text()


def _with_search(name: str) -> str:
    """A script that writes the search index: search_index.lua's functions, then the script."""
    return _script("search_index.lua") + _script(name)


class _Keys:
    """The keys of one blog. ``{slug}`` is the Cluster hash tag.

    ``<slug>~newsroom`` names the blog's newsroom stream: the same blog, whose position,
    history and channel are its ``newsroom:`` keys, in the same slot.
    """

    __slots__ = (
        "audit", "blog", "channel", "deleted", "entries", "highlights", "history", "importing",
        "key_events", "newsroom_channel", "newsroom_history", "newsroom_pos", "order", "pending",
        "pinned", "pos", "presence", "revisions_of", "scheduled", "search_mark",
        "search_records", "search_terms", "versions"
    )  # fmt: skip

    def __init__(self, name: str) -> None:
        slug, newsroom = split_channel(name)
        base = f"lb:{{{slug}}}"
        self.blog = f"{base}:blog"
        self.entries = f"{base}:entries"
        self.versions = f"{base}:versions"
        self.order = f"{base}:order"
        self.pending = f"{base}:pending"
        self.scheduled = f"{base}:scheduled"
        # Subsets of order kept by apply.lua: pinned entries and key events (order keys), and
        # a mark that they are complete (blogs from before them are indexed once, on a read).
        self.pinned = f"{base}:pinned"
        self.key_events = f"{base}:key-events"
        self.highlights = f"{base}:highlights"
        # The search index (search_index.lua): what was indexed of each entry, the language
        # the index is complete in, and the terms in use (term T's entries: search_term(T)).
        self.search_records = f"{base}:search:records"
        self.search_mark = f"{base}:search"
        self.search_terms = f"{base}:search:terms"
        self.newsroom_pos = f"{base}:newsroom:pos"
        self.newsroom_history = f"{base}:newsroom:history"
        self.newsroom_channel = f"{base}:newsroom:events"
        self.presence = f"{base}:presence"  # who has the blog open in a console (presence.lua)
        # The record: deleted entries (id by when), the audit log, an import's lease; and each
        # entry's revisions (``revisions(id)``).
        self.deleted = f"{base}:deleted"
        self.revisions_of = f"{base}:rev:"
        self.audit = f"{base}:audit"
        self.importing = f"{base}:importing"
        if newsroom:
            self.pos, self.history = self.newsroom_pos, self.newsroom_history
            self.channel = self.newsroom_channel
        else:
            self.pos, self.history = f"{base}:pos", f"{base}:history"
            self.channel = f"{base}:events"

    def idempotency(self, key: str) -> str:
        return f"{self.blog}:idem:{key}"

    def search_term(self, term: str) -> str:
        """The sorted set of the entries that hold ``term`` (search_index.lua names it so)."""
        return f"{self.search_terms}:{term}"

    def revisions(self, entry_id: str) -> str:
        return self.revisions_of + entry_id

    def cleared(self) -> list[str]:
        """The keys a new blog starts without (its audit log and entries' histories stay)."""
        return [
            self.entries, self.versions, self.order, self.history, self.pending, self.scheduled,
            self.newsroom_pos, self.newsroom_history, self.pinned, self.key_events,
            self.highlights, self.deleted, self.search_records, self.search_mark, self.search_terms,
        ]  # fmt: skip


def _audit_key(source: str | None) -> str:
    """The audit log of a blog, or of people's tokens (None or TOKEN_CHANGES)."""
    return _TOKENS_AUDIT if source in (None, TOKEN_CHANGES) else _Keys(source).audit


def channel_of(name: str) -> str:
    """The pub/sub channel of a blog, of its newsroom, or of token changes."""
    return _TOKEN_CHANNEL if name == TOKEN_CHANGES else _Keys(name).channel


def _slug_of_channel(channel: bytes) -> str:
    # b"lb:{slug}:events" -> "slug"; b"lb:{slug}:newsroom:events" -> "slug~newsroom"
    if channel == _TOKEN_CHANNEL_BYTES:
        return TOKEN_CHANGES
    slug = channel[4 : channel.index(b"}")].decode()
    return slug + "~newsroom" if channel.endswith(b":newsroom:events") else slug


class RedisEngine(Engine):
    name = "redis"
    # How the apply script publishes; the cluster engine's channel lives in the blog's slot.
    publish_command = "PUBLISH"
    # Errors that mean "the store cannot be reached now" (API: 503), not a bug.
    unavailable: tuple[type[BaseException], ...] = _UNAVAILABLE

    def __init__(
        self,
        url: str,
        *,
        history_size: int = 1000,
        idempotency_ttl: int = 48 * 3600,
        timeout: float = 2.0,
        max_connections: int = 64,
        max_revisions: int = 50,
        audit_days: int = 400,
        audit_max_events: int = 100_000,
    ) -> None:
        self.history_size = history_size
        self.max_revisions = max_revisions
        self.audit_days = audit_days
        self.audit_max_events = audit_max_events
        self._url = url
        self._idempotency_ttl = idempotency_ttl
        self._timeout = timeout
        self._redis: Any = self._connect(url, max_connections)
        self._apply = self._redis.register_script(_with_search("apply.lua"))
        self._timeline = self._redis.register_script(_script("timeline.lua"))
        self._newer = self._redis.register_script(_script("newer.lua"))
        self._create_blog = self._redis.register_script(_script("create_blog.lua"))
        self._new_epoch = self._redis.register_script(_NEW_EPOCH)
        self._renew_epoch = self._redis.register_script(_RENEW_EPOCH)
        self._report_stats = self._redis.register_script(_script("stats_report.lua"))
        self._collect_stats = self._redis.register_script(_script("stats_collect.lua"))
        self._presence = self._redis.register_script(_script("presence.lua"))
        self._record_readers = self._redis.register_script(_script("readers_record.lua"))
        self._highlights = self._redis.register_script(_script("highlights.lua"))
        self._index_step = self._redis.register_script(_script("index_highlights.lua"))
        self._index_due = self._redis.register_script(_INDEX_DUE)
        self._due_blogs = self._redis.register_script(_DUE_BLOGS)
        self._settle_due = self._redis.register_script(_SETTLE_DUE)
        self._update_token = self._redis.register_script(_UPDATE_TOKEN)
        self._delete_token = self._redis.register_script(_DELETE_TOKEN)
        self._store_token = self._redis.register_script(_STORE_TOKEN)
        self._import_begin = self._redis.register_script(_script("import_begin.lua"))
        self._import_finish = self._redis.register_script(_script("import_finish.lua"))
        self._import_revisions = self._redis.register_script(_IMPORT_REVISIONS)
        self._search = self._redis.register_script(_script("search.lua"))
        self._index_search = self._redis.register_script(_with_search("index_search.lua"))
        self._finish_search_index = self._redis.register_script(_FINISH_SEARCH_INDEX)

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
        """Run a script that writes. The cluster engine also waits for a replica here."""
        return await self._call(script(keys=keys, args=args))

    async def ping(self) -> None:
        await self._call(self._redis.ping())

    def describe(self) -> str:
        return f"Redis at {_address(self._url)}"

    async def maxmemory_policies(self) -> dict[str, str | None]:
        try:
            reply = await self._redis.config_get("maxmemory-policy")
        except self.unavailable as exc:
            raise EngineUnavailable(f"Redis is unavailable: {exc}") from exc
        except redis.exceptions.ResponseError:
            reply = None  # CONFIG refused: renamed (managed services), or not this user's
        return {await self._node_name(): None if reply is None else _policy_in(reply)}

    async def _node_name(self) -> str:
        return _address(self._url)

    def _audit_args(self, event: bytes | None) -> list[Any]:
        """An audit event's three arguments to a script (see _AUDIT_LUA)."""
        return [event or "", self.audit_cutoff_ms(), self.audit_max_events]

    async def store_token(self, token_hash: str, token: Token, audit: bytes | None = None) -> None:
        args = [token_hash, msgspec.json.encode(token), *self._audit_args(audit)]
        await self._write(self._store_token, [_TOKENS, _TOKENS_AUDIT], args)

    async def find_token(self, token_hash: str) -> Token | None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hget(_TOKENS, token_hash).hget(_TOKENS_USED, token_hash)
            raw, used = await self._call(pipe.execute())
        return None if raw is None else _token_with_use(raw, used)

    async def touch_token(self, token_hash: str, at: datetime) -> None:
        # Its own hash, not a rewrite of the token's record: a use recorded while the token is
        # being revoked cannot bring it back (a stray field is pruned by list_tokens).
        await self._call(self._redis.hset(_TOKENS_USED, token_hash, msgspec.json.encode(at)))

    async def list_tokens(self) -> dict[str, Token]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(_TOKENS).hgetall(_TOKENS_USED)
            tokens, used = await self._call(pipe.execute())
        if stale := used.keys() - tokens.keys():
            await self._call(self._redis.hdel(_TOKENS_USED, *stale))
        return {h.decode(): _token_with_use(raw, used.get(h)) for h, raw in tokens.items()}

    async def update_token(
        self,
        token_hash: str,
        change: Callable[[Token], Token],
        audit: Callable[[Token, Token], bytes | None] | None = None,
    ) -> Token | None:
        for _ in range(_TOKEN_TRIES):
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hget(_TOKENS, token_hash).hget(_TOKENS_USED, token_hash)
                raw, used = await self._call(pipe.execute())
            if raw is None:
                return None
            before = _token_decoder.decode(raw)
            after = change(before)
            new = msgspec.json.encode(after)
            event = None if audit is None else audit(before, after)
            args = [token_hash, raw, new, self.publish_command, _TOKEN_CHANNEL]
            args += self._audit_args(event)
            written = await self._write(self._update_token, [_TOKENS, _TOKENS_AUDIT], args)
            if written == 0:
                return None
            if written == 1:
                return _token_with_use(new, used)
        raise EngineUnavailable("the token kept changing while it was edited: try again")

    async def delete_token(self, token_hash: str, audit: bytes | None = None) -> bool:
        args = [token_hash, self.publish_command, _TOKEN_CHANNEL, *self._audit_args(audit)]
        deleted = await self._write(self._delete_token, [_TOKENS, _TOKENS_AUDIT], args)
        await self._call(self._redis.hdel(_TOKENS_USED, token_hash))
        return bool(deleted)

    async def create_blog(self, blog: Blog, epoch: str, audit: bytes | None = None) -> Blog:
        keys = _Keys(blog.slug)
        stored = msgspec.json.encode(msgspec.structs.replace(blog, last_event_id=""))
        # Listed first: a create that fails half-way leaves at worst a listed-but-absent slug,
        # which list_blogs skips, never a blog that cannot be found.
        await self._call(self._redis.sadd(_BLOGS, blog.slug))
        all_keys = [keys.blog, keys.pos, *keys.cleared(), keys.audit]
        args = [stored, epoch, *self._audit_args(audit)]
        created = await self._write(self._create_blog, all_keys, args)
        if not created:
            raise BlogExists(blog.slug)
        return msgspec.structs.replace(blog, last_event_id=f"{epoch}-0")

    async def get_blog(self, slug: str) -> Blog | None:
        keys = _Keys(slug)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(keys.blog).hmget(keys.pos, "epoch", "offset")
            raw, (epoch, offset) = await self._call(pipe.execute())
        return None if raw is None else _blog_with_position(raw, epoch, offset)

    async def list_blogs(self) -> list[Blog]:
        slugs = sorted(s.decode() for s in await self._call(self._redis.smembers(_BLOGS)))
        async with self._redis.pipeline(transaction=False) as pipe:
            for slug in slugs:
                keys = _Keys(slug)
                pipe.get(keys.blog).hmget(keys.pos, "epoch", "offset")
            replies = await self._call(pipe.execute())
        blogs = []
        for raw, (epoch, offset) in zip(replies[::2], replies[1::2], strict=True):
            if raw is not None:
                blogs.append(_blog_with_position(raw, epoch, offset))
        return blogs

    async def get_entry(self, slug: str, entry_id: str) -> Entry | None:
        raw = await self._call(self._redis.hget(_Keys(slug).entries, entry_id))
        return None if raw is None else _entry_decoder.decode(raw)

    async def timeline(self, slug: str, limit: int, before: str | None) -> Page:
        keys = _Keys(slug)
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
        keys = _Keys(slug)
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
        keys = _Keys(slug)
        idem = change.idempotency
        args: list[Any] = [
            keys.channel,
            self.history_size,
            new_epoch(),
            idem.fingerprint if idem else "",
            idem.response if idem else "",
            self._idempotency_ttl,
            change.entry_id or "",
            change.entry or "",
            change.entry_version,
            change.order_key or "",
            change.old_order_key or "",
            "" if change.expect_version is None else change.expect_version,
            change.blog or "",
            repr(time.time()),
            self.publish_command,
            keys.newsroom_channel,
            change.pending_key or "",
            change.old_pending_key or "",
            "" if change.scheduled_at is None else repr(change.scheduled_at),
            "1" if change.claim else "",
            _search_argument(change),
            0 if change.event is None else len(change.event),
            # the record (apply.lua's own block): ARGV 22-26
            change.revision or "",
            self.max_revisions,
            *self._audit_args(change.audit),
            *(change.event or ()),
            *(change.newsroom_event or ()),
        ]
        idem_key = keys.idempotency(idem.key) if idem else keys.idempotency("")
        all_keys = [keys.blog, keys.pos, keys.entries, keys.versions, keys.order, keys.history]
        more_keys = [
            keys.newsroom_pos, keys.newsroom_history, keys.pending, keys.scheduled,
            keys.pinned, keys.key_events, keys.search_records, keys.search_mark, keys.search_terms,
        ]  # fmt: skip
        record_keys = [keys.revisions(change.entry_id or ""), keys.deleted, keys.audit]
        reply = await self._write(
            self._apply, [*all_keys, idem_key, *more_keys, *record_keys], args
        )
        status = reply[0]
        if status == b"OK":
            if change.scheduled_at is not None:
                # After the write, before the 2xx: the index can only point too early (a
                # crash in between is mended by the scheduler's rescan).
                await self._call(
                    self._index_due(keys=[_DUE, _DUE_MARKS], args=[slug, change.scheduled_at])
                )
            return Applied(Position(reply[1].decode(), int(reply[2])))
        if status == b"REPLAY":
            position = await self.position(slug)
            assert position is not None
            return Applied(position, replay=reply[1])
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
        keys = _Keys(slug)
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

    async def _index_highlights(self, keys: _Keys) -> None:
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
        keys = _Keys(slug)
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
        keys = _Keys(slug)
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
        await self._call(self._redis.set(_Keys(slug).search_mark, "~" + language))

    async def search_backlog(self, slug: str, language: str, cursor: str) -> SearchBacklog:
        keys = _Keys(slug)
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
        keys = _Keys(slug)
        args: list[Any] = []
        for entry, search in items:
            args += [entry.id, entry.version, _search_record(search, entry.order_key)]
        index_keys = [keys.versions, keys.search_records, keys.search_terms]
        await self._write(self._index_search, index_keys, args)

    async def finish_search_index(self, slug: str, language: str) -> bool:
        keys = _Keys(slug)
        done = await self._write(self._finish_search_index, [keys.search_mark], [language])
        return bool(done)

    async def due_blogs(self, now: float, *, rescan: bool = False) -> list[tuple[str, str]]:
        if rescan:
            await self._rescan_due()
        flat = await self._call(self._due_blogs(keys=[_DUE, _DUE_MARKS], args=[repr(now)]))
        return [(s.decode(), m.decode()) for s, m in zip(flat[::2], flat[1::2], strict=True)]

    async def _rescan_due(self) -> None:
        """Index every blog's earliest scheduled entry (mends an index write lost in a crash)."""
        slugs = sorted(s.decode() for s in await self._call(self._redis.smembers(_BLOGS)))
        async with self._redis.pipeline(transaction=False) as pipe:
            for slug in slugs:
                pipe.zrange(_Keys(slug).scheduled, 0, 0, withscores=True)
            firsts = await self._call(pipe.execute())
        for slug, first in zip(slugs, firsts, strict=True):
            if first:
                args = [slug, repr(first[0][1])]
                await self._call(self._index_due(keys=[_DUE, _DUE_MARKS], args=args))

    async def due_entries(self, slug: str, now: float) -> list[str]:
        ids = await self._call(
            self._redis.zrange(_Keys(slug).scheduled, "-inf", repr(now), byscore=True)
        )
        return [i.decode() for i in ids]

    async def settle_due(self, slug: str, mark: str) -> None:
        first = await self._call(self._redis.zrange(_Keys(slug).scheduled, 0, 0, withscores=True))
        due = repr(first[0][1]) if first else ""
        await self._call(self._settle_due(keys=[_DUE, _DUE_MARKS], args=[slug, mark, due]))

    async def renew_epoch(self, slug: str, seen: Position) -> Position | None:
        if await self.position(slug) is None:
            return None
        keys = _Keys(slug)
        epoch, offset = await self._write(
            self._renew_epoch, [keys.pos, keys.history], [seen.epoch, seen.offset, new_epoch()]
        )
        return Position(epoch.decode(), int(offset))

    async def position(self, slug: str) -> Position | None:
        keys = _Keys(slug)
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
        keys = _Keys(slug)
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
        return _RedisSubscription(self._subscriber(), handler)

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
        keys = _Keys(slug)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.exists(keys.blog).lrange(keys.revisions(entry_id), 0, -1)
            exists, revisions = await self._call(pipe.execute())
        return list(revisions) if exists else None

    async def deleted_entries(self, slug: str, limit: int) -> list[tuple[str, float]]:
        keys = _Keys(slug)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.exists(keys.blog).zrange(keys.deleted, 0, limit - 1, desc=True, withscores=True)
            exists, deleted = await self._call(pipe.execute())
        if not exists:
            raise BlogNotFound(slug)
        return [(entry_id.decode(), float(at)) for entry_id, at in deleted]

    async def entry_ids(self, slug: str) -> list[str] | None:
        keys = _Keys(slug)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.exists(keys.blog).hkeys(keys.entries).zrange(keys.deleted, 0, -1)
            exists, live, deleted = await self._call(pipe.execute())
        if not exists:
            return None
        return sorted({i.decode() for i in (*live, *deleted)})

    async def export_entries(
        self, slug: str, entry_ids: list[str]
    ) -> list[tuple[bytes | None, list[bytes]]]:
        keys = _Keys(slug)
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
        key = _audit_key(slug)
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
            slugs = await self._call(self._redis.smembers(_BLOGS))
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
                pipe.xrevrange(_audit_key(source), newest, oldest, count=limit)
            pages = await self._call(pipe.execute())
        records = []
        for source, page in zip(sources, pages, strict=True):
            for stream_id, fields in page:
                ms, _, seq = stream_id.decode().partition("-")
                records.append(AuditRecord(int(ms), int(seq), source, fields[b"e"]))
        return newest_first(records, limit)

    async def begin_import(self, blog: Blog, epoch: str, lease: str, until: float) -> None:
        keys = _Keys(blog.slug)
        stored = msgspec.json.encode(msgspec.structs.replace(blog, last_event_id=""))
        all_keys = [keys.blog, keys.pos, keys.importing, *keys.cleared()]
        args = [stored, epoch, lease, repr(time.time()), repr(until)]
        status = await self._write(self._import_begin, all_keys, args)
        if status == b"EXISTS":
            raise BlogExists(blog.slug)
        if status == b"BUSY":
            raise ImportInProgress(blog.slug)

    async def _import_step(self, slug: str, lease: str, until: str, audit: bytes | None) -> None:
        keys = _Keys(slug)
        step_keys = [keys.importing, keys.pos, keys.history, keys.audit]
        args = [lease, new_epoch(), until, *self._audit_args(audit)]
        if not await self._write(self._import_finish, step_keys, args):
            raise ImportLost(slug)

    async def renew_import(self, slug: str, lease: str, until: float) -> None:
        await self._import_step(slug, lease, repr(until), None)

    async def import_revisions(
        self, slug: str, entry_id: str, revisions: list[bytes], deleted_at: float | None
    ) -> None:
        keys = _Keys(slug)
        deleted = "" if deleted_at is None else repr(deleted_at)
        await self._write(
            self._import_revisions,
            [keys.revisions(entry_id), keys.deleted],
            [entry_id, deleted, *revisions],
        )

    async def finish_import(self, slug: str, lease: str, audit: bytes | None) -> Blog:
        await self._import_step(slug, lease, "", audit)
        await self._call(self._redis.sadd(_BLOGS, slug))
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
        keys = _Keys(slug)
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
        await self._call(self._report_stats(keys=[_STATS], args=[process, ttl, report]))

    async def collect_stats(self) -> dict[str, bytes]:
        flat = await self._call(self._collect_stats(keys=[_STATS]))
        pairs = zip(flat[::2], flat[1::2], strict=True)
        return {process.decode(): report for process, report in pairs}

    async def forget_stats(self, process: str) -> None:
        await self._call(self._redis.hdel(_STATS, process))

    async def record_readers(
        self, minute: int, process: str, counts: bytes, *, keep_from: int | None = None
    ) -> None:
        args = [f"{minute}:{process}", counts, "" if keep_from is None else keep_from]
        await self._call(self._record_readers(keys=[_READERS], args=args))

    async def readers_history(self) -> dict[int, list[bytes]]:
        history: dict[int, list[bytes]] = {}
        for field, counts in (await self._call(self._redis.hgetall(_READERS))).items():
            minute, _, _ = field.partition(b":")
            if minute.isdigit():
                history.setdefault(int(minute), []).append(counts)
        return history


def _search_argument(change: Change) -> str:
    """apply.lua's search argument: '' (no terms), the blog's language for a change of the
    blog, or '<language>\n<terms>' for a change of an entry."""
    search = change.search
    if search is None:
        return ""
    if change.entry_id is None:
        return search.language
    return f"{search.language}\n{' '.join(search.terms)}"


def _search_record(search: SearchTerms, order_key: str) -> str:
    """What search_index.lua keeps of an indexed entry."""
    return f"{search.language}\n{order_key}\n{' '.join(search.terms)}"


def _address(url: str) -> str:
    """host:port of a Redis URL, without its credentials (for logs and messages)."""
    parsed = urllib.parse.urlsplit(url)
    return f"{parsed.hostname or 'localhost'}:{parsed.port or 6379}"


def _policy_in(reply: Any) -> str | None:
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


class _RedisSubscription(Subscription):
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
        except _UNAVAILABLE as exc:
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
                        handler(_slug_of_channel(channel), message["data"])
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
        with contextlib.suppress(*_UNAVAILABLE, TimeoutError):
            async with asyncio.timeout(1.0):
                await self._pubsub.aclose()
        with contextlib.suppress(*_UNAVAILABLE, TimeoutError):
            async with asyncio.timeout(1.0):
                await self._client.aclose()
