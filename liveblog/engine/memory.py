"""The embedded engine: everything in this process's memory, for laptops and tests.

Single-process only: two server processes on a memory engine would each see half the world.
Each ``apply`` runs without an ``await`` inside, so on one event loop it is atomic.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import msgspec

from liveblog import events
from liveblog.engine.base import (
    TOKEN_CHANGES,
    Applied,
    AuditRecord,
    BlogExists,
    BlogNotFound,
    Change,
    Engine,
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
from liveblog.models import (
    KEY_EVENT_LABEL,
    Blog,
    Entry,
    Position,
    Token,
    new_epoch,
    split_channel,
)

_entry_decoder = msgspec.json.Decoder(Entry)
_blog_decoder = msgspec.json.Decoder(Blog)


class _Flags(msgspec.Struct):
    """What the highlights index reads of a stored entry (apply.lua reads the same)."""

    pinned: bool = False
    labels: list[str] = []


_flags_decoder = msgspec.json.Decoder(_Flags)
_BACKLOG_STEP = 200  # entries looked at per step of search_backlog


class _SearchIndex:
    """A blog's search index: per term, the order keys of the entries that hold it (of every
    status); per entry, what was indexed of it; the terms in use, sorted (for prefixes); and
    the language the index is complete in (apply.lua and search.lua keep the same in Redis)."""

    __slots__ = ("language", "postings", "records", "terms")

    def __init__(self) -> None:
        self.postings: dict[str, set[str]] = {}
        self.records: dict[str, tuple[str, str, list[str]]] = {}  # id -> language, key, terms
        self.terms: list[str] = []
        self.language: str | None = None  # '~<language>' while the backlog is indexed

    def check_language(self, language: str) -> None:
        """A change made in another language than the index's: the index is not complete."""
        if self.language not in (None, language, "~" + language):
            self.language = None

    def change(self, entry_id: str, key: str | None, search: SearchTerms | None) -> None:
        """An entry changed (``key`` None: deleted): its new terms replace its old ones."""
        self.remove(entry_id)
        if search is not None:
            self.check_language(search.language)
        if key is None:
            return
        if search is None:
            self.language = None  # not indexed now: the next search indexes it
            return
        self.add(entry_id, search.language, key, search.terms)

    def add(self, entry_id: str, language: str, key: str, terms: list[str]) -> None:
        self.records[entry_id] = (language, key, terms)
        for term in terms:
            keys = self.postings.get(term)
            if keys is None:
                keys = self.postings[term] = set()
                bisect.insort(self.terms, term)
            keys.add(key)

    def remove(self, entry_id: str) -> None:
        record = self.records.pop(entry_id, None)
        if record is None:
            return
        _, key, terms = record
        for term in terms:
            keys = self.postings[term]
            keys.discard(key)
            if not keys:
                del self.postings[term]
                _discard(self.terms, term)

    def find(self, query: SearchQuery) -> set[str]:
        """Order keys of the entries (of every status) that match ``query``."""
        groups = [self.postings.get(term, set()) for term in query.terms]
        if query.prefix:
            names = [query.prefix_term] if query.prefix_term in self.postings else []
            at = bisect.bisect_left(self.terms, query.prefix)
            for term in self.terms[at : at + query.expansions]:
                if not term.startswith(query.prefix):
                    break
                names.append(term)
            groups.append(set().union(*(self.postings[name] for name in names)))
        if not groups:
            return set()
        groups.sort(key=len)
        return groups[0].intersection(*groups[1:])


class _Stream:
    """An event stream of its own: a blog's newsroom stream (``<slug>~newsroom``)."""

    __slots__ = ("epoch", "history", "offset")

    def __init__(self, epoch: str, history_size: int) -> None:
        self.epoch = epoch
        self.offset = 0
        self.history: collections.deque[tuple[int, bytes]] = collections.deque(maxlen=history_size)


class _BlogState:
    __slots__ = (
        "blog", "deleted", "entries", "epoch", "history", "idempotency", "importing",
        "key_events", "newsroom", "offset", "order", "pending", "pinned", "revisions",
        "scheduled", "search", "versions"
    )  # fmt: skip

    def __init__(self, blog: bytes, epoch: str, history_size: int) -> None:
        self.blog = blog
        self.epoch = epoch
        self.offset = 0
        self.newsroom = _Stream(new_epoch(), history_size)
        self.pending: list[str] = []  # order keys of entries readers do not see, ascending
        self.scheduled: dict[str, float] = {}  # entry id -> when it is due (unix time)
        self.entries: dict[str, bytes] = {}
        self.versions: dict[str, int] = {}
        self.order: list[str] = []  # order keys, ascending
        # Subsets of order: the pinned entries and the key events (order keys, ascending).
        self.pinned: list[str] = []
        self.key_events: list[str] = []
        self.history: collections.deque[tuple[int, bytes]] = collections.deque(maxlen=history_size)
        self.search = _SearchIndex()
        # Insertion order is expiry order, so expired keys are trimmed from the front.
        self.idempotency: collections.OrderedDict[str, tuple[float, str, bytes]] = (
            collections.OrderedDict()
        )
        # The record: each entry's revisions (oldest first), the deleted ones (id -> when),
        # and the lease of an import that is filling the blog (lease id, until when).
        self.revisions: dict[str, list[bytes]] = {}
        self.deleted: dict[str, float] = {}
        self.importing: tuple[str, float] | None = None


def _contains(keys: list[str], key: str) -> bool:
    """Whether a sorted list holds ``key``."""
    at = bisect.bisect_left(keys, key)
    return at < len(keys) and keys[at] == key


def _discard(keys: list[str], key: str) -> None:
    """Remove ``key`` from a sorted list if it is there."""
    at = bisect.bisect_left(keys, key)
    if at < len(keys) and keys[at] == key:
        del keys[at]


class MemoryEngine(Engine):
    name = "memory"

    def __init__(
        self,
        *,
        history_size: int = 1000,
        idempotency_ttl: float = 48 * 3600,
        max_revisions: int = 50,
        audit_days: int = 400,
        audit_max_events: int = 100_000,
    ) -> None:
        self.history_size = history_size
        self._idempotency_ttl = idempotency_ttl
        self.max_revisions = max_revisions
        self.audit_days = audit_days
        self.audit_max_events = audit_max_events
        # Every audit event of every log, oldest first, bounded; (ms, seq) only grows.
        self._audit: collections.deque[AuditRecord] = collections.deque(maxlen=audit_max_events)
        self._audit_clock = (0, 0)
        self._blogs: dict[str, _BlogState] = {}
        self._tokens: dict[str, Token] = {}
        self._subscriptions: set[_MemorySubscription] = set()
        self._reports: dict[str, tuple[float, bytes]] = {}  # process -> (expires, report)
        self._readers: dict[tuple[int, str], bytes] = {}  # (minute, process) -> counts
        # slug -> field -> (expires, value): who has the blog open in a console
        self._presence: dict[str, dict[str, tuple[float, bytes]]] = {}

    async def ping(self) -> None:
        return None

    async def store_token(self, token_hash: str, token: Token, audit: bytes | None = None) -> None:
        self._tokens[token_hash] = token
        self._write_audit(TOKEN_CHANGES, audit)

    async def find_token(self, token_hash: str) -> Token | None:
        return self._tokens.get(token_hash)

    async def touch_token(self, token_hash: str, at: datetime) -> None:
        if (token := self._tokens.get(token_hash)) is not None:  # not revoked meanwhile
            self._tokens[token_hash] = msgspec.structs.replace(token, last_used_at=at)

    async def list_tokens(self) -> dict[str, Token]:
        return dict(self._tokens)

    async def update_token(
        self,
        token_hash: str,
        change: Callable[[Token], Token],
        audit: Callable[[Token, Token], bytes | None] | None = None,
    ) -> Token | None:
        # Read, change and write without an await in between: atomic on one event loop.
        before = self._tokens.get(token_hash)
        if before is None:
            return None
        token = self._tokens[token_hash] = change(before)
        self._write_audit(TOKEN_CHANGES, None if audit is None else audit(before, token))
        self._token_changed(token_hash)
        return token

    async def delete_token(self, token_hash: str, audit: bytes | None = None) -> bool:
        if self._tokens.pop(token_hash, None) is None:
            return False
        self._write_audit(TOKEN_CHANGES, audit)
        self._token_changed(token_hash)
        return True

    def _token_changed(self, token_hash: str) -> None:
        for subscription in self._subscriptions:
            subscription.deliver(TOKEN_CHANGES, token_hash.encode())

    async def create_blog(self, blog: Blog, epoch: str, audit: bytes | None = None) -> Blog:
        if blog.slug in self._blogs:
            raise BlogExists(blog.slug)
        encoded = msgspec.json.encode(msgspec.structs.replace(blog, last_event_id=""))
        self._blogs[blog.slug] = _BlogState(encoded, epoch, self.history_size)
        self._write_audit(blog.slug, audit)
        return msgspec.structs.replace(blog, last_event_id=f"{epoch}-0")

    def _blog(self, state: _BlogState) -> Blog:
        blog = _blog_decoder.decode(state.blog)
        return msgspec.structs.replace(blog, last_event_id=f"{state.epoch}-{state.offset}")

    async def get_blog(self, slug: str) -> Blog | None:
        state = self._blogs.get(slug)
        return None if state is None else self._blog(state)

    async def list_blogs(self) -> list[Blog]:
        # A blog an import is still filling is not listed yet (it is reachable by its slug).
        return [self._blog(state) for state in self._blogs.values() if state.importing is None]

    async def get_entry(self, slug: str, entry_id: str) -> Entry | None:
        state = self._blogs.get(slug)
        if state is None or entry_id not in state.entries:
            return None
        return _entry_decoder.decode(state.entries[entry_id])

    async def timeline(self, slug: str, limit: int, before: str | None) -> Page:
        state = self._blogs.get(slug)
        if state is None:
            raise BlogNotFound(slug)
        end = len(state.order) if before is None else bisect.bisect_left(state.order, before)
        keys = state.order[max(0, end - limit) : end][::-1]
        entries = [_entry_decoder.decode(state.entries[k.partition(":")[2]]) for k in keys]
        next_key = keys[-1] if keys and end - limit > 0 else None
        return Page(entries, next_key, Position(state.epoch, state.offset))

    async def newer(self, slug: str, limit: int, after: str) -> NewerPage:
        state = self._blogs.get(slug)
        if state is None:
            raise BlogNotFound(slug)
        start = bisect.bisect_right(state.order, after)
        keys = state.order[start : start + limit]
        entries = [_entry_decoder.decode(state.entries[k.partition(":")[2]]) for k in keys]
        remaining = len(state.order) - start - len(keys)
        return NewerPage(entries[::-1], remaining, Position(state.epoch, state.offset))

    async def _apply_change(self, slug: str, change: Change) -> Applied:
        state = self._blogs.get(slug)
        if state is None:
            raise BlogNotFound(slug)
        idem = change.idempotency
        if idem is not None:
            stored = state.idempotency.get(idem.key)
            if stored is not None and stored[0] > time.monotonic():
                if stored[1] != idem.fingerprint:
                    raise IdempotencyMismatch(idem.key)
                return Applied(Position(state.epoch, state.offset), replay=stored[2])
        if change.expect_version is not None and change.entry_id is not None:
            current = state.versions.get(change.entry_id, 0)
            if change.expect_version == -1 and current == 0:
                raise EntryNotFound(change.entry_id)
            if change.expect_version not in (-1, current):
                raise VersionConflict(current)

        if change.claim and change.entry_id not in state.scheduled:
            raise NotScheduled(change.entry_id or "")

        if change.entry_id is not None:
            if change.old_order_key is not None:
                del state.order[bisect.bisect_left(state.order, change.old_order_key)]
                _discard(state.pinned, change.old_order_key)
                _discard(state.key_events, change.old_order_key)
            if change.old_pending_key is not None:
                del state.pending[bisect.bisect_left(state.pending, change.old_pending_key)]
            state.scheduled.pop(change.entry_id, None)
            if change.entry is None:
                del state.entries[change.entry_id], state.versions[change.entry_id]
            else:
                state.entries[change.entry_id] = change.entry
                state.versions[change.entry_id] = change.entry_version
                if change.order_key is not None:
                    bisect.insort(state.order, change.order_key)
                    flags = _flags_decoder.decode(change.entry)
                    if flags.pinned:
                        bisect.insort(state.pinned, change.order_key)
                    if KEY_EVENT_LABEL in flags.labels:
                        bisect.insort(state.key_events, change.order_key)
                if change.pending_key is not None:
                    bisect.insort(state.pending, change.pending_key)
                if change.scheduled_at is not None:
                    state.scheduled[change.entry_id] = change.scheduled_at
            # --- search index: the entry's terms change with it (see _SearchIndex) ---
            kept = None if change.entry is None else change.order_key or change.pending_key
            state.search.change(change.entry_id, kept, change.search)
        elif change.search is not None:
            state.search.check_language(change.search.language)
        if change.blog is not None:
            state.blog = change.blog
        self._record(slug, state, change)
        if idem is not None:
            now = time.monotonic()
            while state.idempotency and next(iter(state.idempotency.values()))[0] <= now:
                state.idempotency.popitem(last=False)
            expires = now + self._idempotency_ttl
            state.idempotency[idem.key] = (expires, idem.fingerprint, idem.response)
        if change.event is not None:
            self._publish(slug, state, change.event)
        if change.newsroom_event is not None:
            self._publish(slug + "~newsroom", state.newsroom, change.newsroom_event)
        return Applied(Position(state.epoch, state.offset))

    # --- the record ------------------------------------------------------------------------
    def _record(self, slug: str, state: _BlogState, change: Change) -> None:
        """A change's revision and audit event (apply.lua's "the record" block does the same)."""
        if change.entry_id is not None:
            if change.entry is None:
                state.deleted[change.entry_id] = time.time()
            else:
                state.deleted.pop(change.entry_id, None)
        if change.revision is not None and change.entry_id is not None:
            history = state.revisions.setdefault(change.entry_id, [])
            history.append(change.revision)
            if len(history) > self.max_revisions:
                # The first version stays (what was first said), then the newest.
                del history[1 : len(history) - self.max_revisions + 1]
        self._write_audit(slug, change.audit)

    def _write_audit(self, source: str, event: bytes | None) -> None:
        if event is None:
            return
        ms, seq = time.time_ns() // 1_000_000, 0
        last_ms, last_seq = self._audit_clock
        if ms <= last_ms:  # the same millisecond (or a clock step back): as a stream id would
            ms, seq = last_ms, last_seq + 1
        self._audit_clock = (ms, seq)
        self._audit.append(AuditRecord(ms, seq, source, event))
        cutoff = self.audit_cutoff_ms()
        while self._audit and self._audit[0].ms < cutoff:
            self._audit.popleft()

    async def revisions(self, slug: str, entry_id: str) -> list[bytes] | None:
        state = self._blogs.get(slug)
        return None if state is None else list(state.revisions.get(entry_id, ()))

    async def deleted_entries(self, slug: str, limit: int) -> list[tuple[str, float]]:
        state = self._blogs.get(slug)
        if state is None:
            raise BlogNotFound(slug)
        latest = sorted(state.deleted.items(), key=lambda item: (item[1], item[0]), reverse=True)
        return latest[:limit]

    async def entry_ids(self, slug: str) -> list[str] | None:
        state = self._blogs.get(slug)
        return None if state is None else sorted({*state.entries, *state.deleted})

    async def export_entries(
        self, slug: str, entry_ids: list[str]
    ) -> list[tuple[bytes | None, list[bytes]]]:
        state = self._blogs.get(slug)
        if state is None:
            raise BlogNotFound(slug)
        return [(state.entries.get(i), list(state.revisions.get(i, ()))) for i in entry_ids]

    async def record_audit(self, slug: str | None, event: bytes) -> None:
        self._write_audit(TOKEN_CHANGES if slug is None else slug, event)

    async def audit_log(
        self, blog: str | None, before: tuple[int, int, str] | None, limit: int
    ) -> list[AuditRecord]:
        cutoff = self.audit_cutoff_ms()
        found: list[AuditRecord] = []
        for record in reversed(self._audit):
            if len(found) >= limit or record.ms < cutoff:
                break
            if blog is not None and record.source != blog:
                continue
            if before is None or record.key < before:
                found.append(record)
        return newest_first(found, limit)

    async def begin_import(self, blog: Blog, epoch: str, lease: str, until: float) -> None:
        state = self._blogs.get(blog.slug)
        if state is not None:
            if state.importing is None:
                raise BlogExists(blog.slug)
            if state.importing[1] > time.time():
                raise ImportInProgress(blog.slug)
        encoded = msgspec.json.encode(msgspec.structs.replace(blog, last_event_id=""))
        state = self._blogs[blog.slug] = _BlogState(encoded, epoch, self.history_size)
        state.importing = (lease, until)

    def _imported(self, slug: str, lease: str) -> _BlogState:
        state = self._blogs.get(slug)
        if state is None or state.importing is None or state.importing[0] != lease:
            raise ImportLost(slug)
        return state

    async def renew_import(self, slug: str, lease: str, until: float) -> None:
        self._imported(slug, lease).importing = (lease, until)

    async def import_revisions(
        self, slug: str, entry_id: str, revisions: list[bytes], deleted_at: float | None
    ) -> None:
        state = self._blogs.get(slug)
        if state is None:
            raise BlogNotFound(slug)
        state.revisions[entry_id] = list(revisions)
        if deleted_at is not None:
            state.deleted[entry_id] = deleted_at

    async def finish_import(self, slug: str, lease: str, audit: bytes | None) -> Blog:
        state = self._imported(slug, lease)
        state.importing = None
        state.epoch = new_epoch()  # whoever watched the blog fill starts clean
        state.history.clear()
        self._write_audit(slug, audit)
        return self._blog(state)

    def _publish(self, name: str, stream: _BlogState | _Stream, template: list[bytes]) -> None:
        stream.offset += 1
        event = events.fill(template, Position(stream.epoch, stream.offset))
        stream.history.append((stream.offset, event))
        message = b"%r %s" % (time.time(), event)
        for subscription in self._subscriptions:
            subscription.deliver(name, message)

    def _stream(self, name: str) -> _BlogState | _Stream | None:
        """A blog's readers' stream, or its newsroom stream for ``<slug>~newsroom``."""
        slug, newsroom = split_channel(name)
        state = self._blogs.get(slug)
        if state is None or not newsroom:
            return state
        return state.newsroom

    async def highlights(self, slug: str) -> Highlights:
        state = self._blogs.get(slug)
        if state is None:
            raise BlogNotFound(slug)

        def entries(keys: list[str]) -> list[Entry]:
            return [_entry_decoder.decode(state.entries[k.partition(":")[2]]) for k in keys[::-1]]

        return Highlights(entries(state.pinned), entries(state.key_events))

    async def pending(self, slug: str) -> list[Entry]:
        state = self._blogs.get(slug)
        if state is None:
            raise BlogNotFound(slug)
        keys = state.pending[::-1]
        return [_entry_decoder.decode(state.entries[k.partition(":")[2]]) for k in keys]

    # --- search --------------------------------------------------------------------------

    async def search(
        self, slug: str, query: SearchQuery, limit: int, before: str | None, *, everything: bool
    ) -> SearchPage:
        state = self._blogs.get(slug)
        if state is None:
            raise BlogNotFound(slug)
        found = state.search.find(query)
        if not everything:
            found = {key for key in found if _contains(state.order, key)}
        ranked = sorted(found)
        end = len(ranked) if before is None else bisect.bisect_left(ranked, before)
        keys = ranked[max(0, end - limit) : end][::-1]
        ids = [key.partition(":")[2] for key in keys]
        entries = [_entry_decoder.decode(state.entries[i]) for i in ids if i in state.entries]
        next_key = keys[-1] if keys and end - limit > 0 else None
        position = Position(state.epoch, state.offset)
        return SearchPage(entries, next_key, position, len(ranked), state.search.language)

    async def begin_search_index(self, slug: str, language: str) -> None:
        state = self._blogs.get(slug)
        if state is not None:
            state.search.language = "~" + language

    async def search_backlog(self, slug: str, language: str, cursor: str) -> SearchBacklog:
        state = self._blogs.get(slug)
        if state is None:
            return SearchBacklog([], None)
        ids = sorted(i for i in state.entries if i > cursor)[:_BACKLOG_STEP]
        records = state.search.records
        entries = [
            _entry_decoder.decode(state.entries[i])
            for i in ids
            if i not in records or records[i][0] != language
        ]
        return SearchBacklog(entries, ids[-1] if len(ids) == _BACKLOG_STEP else None)

    async def index_search(self, slug: str, items: list[tuple[Entry, SearchTerms]]) -> None:
        state = self._blogs.get(slug)
        if state is None:
            return
        for entry, search in items:
            if state.versions.get(entry.id) == entry.version:
                state.search.remove(entry.id)
                state.search.add(entry.id, search.language, entry.order_key, search.terms)

    async def finish_search_index(self, slug: str, language: str) -> bool:
        state = self._blogs.get(slug)
        if state is None or state.search.language not in (language, "~" + language):
            return False
        state.search.language = language
        return True

    async def due_blogs(self, now: float, *, rescan: bool = False) -> list[tuple[str, str]]:
        return [
            (slug, "")
            for slug, state in self._blogs.items()
            if state.scheduled and min(state.scheduled.values()) <= now
        ]

    async def due_entries(self, slug: str, now: float) -> list[str]:
        state = self._blogs.get(slug)
        if state is None:
            return []
        return [i for at, i in sorted((at, i) for i, at in state.scheduled.items() if at <= now)]

    async def settle_due(self, slug: str, mark: str) -> None:
        return None  # no index: due_blogs looks at every blog's schedule

    async def renew_epoch(self, slug: str, seen: Position) -> Position | None:
        state = self._stream(slug)
        if state is None:
            return None
        if state.epoch == seen.epoch and state.offset < seen.offset:
            state.epoch = new_epoch()
            state.history.clear()
        return Position(state.epoch, state.offset)

    async def position(self, slug: str) -> Position | None:
        state = self._stream(slug)
        return None if state is None else Position(state.epoch, state.offset)

    async def history(self, slug: str, after: int) -> list[bytes] | None:
        state = self._stream(slug)
        if state is None:
            return None
        if after > state.offset:
            return None  # an id this epoch never issued
        if after == state.offset:
            return []
        if not state.history or state.history[0][0] > after + 1:
            return None
        return [event for offset, event in state.history if offset > after]

    def subscription(self, handler: MessageHandler) -> Subscription:
        return _MemorySubscription(self, handler)

    async def update_presence(
        self,
        slug: str,
        put: Mapping[str, tuple[float, bytes]],
        drop: Sequence[str] = (),
        touch: Mapping[str, tuple[float, bytes]] | None = None,
    ) -> tuple[bool, dict[str, bytes]]:
        now = time.monotonic()
        records = self._presence.setdefault(slug, {})
        changed = False
        for field in [f for f, (expires, _) in records.items() if expires <= now]:
            del records[field]
            changed = True
        for field, (ttl, value) in put.items():
            changed = changed or field not in records or records[field][1] != value
            records[field] = (now + ttl, value)
        for field, (ttl, value) in (touch or {}).items():
            if field in records and records[field][1] == value:
                records[field] = (now + ttl, value)
        for field in drop:
            changed = records.pop(field, None) is not None or changed
        if not records:
            del self._presence[slug]
        if changed:
            message = b"%r %s" % (time.time(), events.PRESENCE_NOTICE)
            for subscription in self._subscriptions:
                subscription.deliver(slug + "~newsroom", message)
        return changed, {field: value for field, (_, value) in records.items()}

    async def report_stats(self, process: str, report: bytes, ttl: float) -> None:
        self._reports[process] = (time.monotonic() + ttl, report)

    async def record_readers(
        self, minute: int, process: str, counts: bytes, *, keep_from: int | None = None
    ) -> None:
        self._readers[(minute, process)] = counts
        if keep_from is not None:
            for key in [k for k in self._readers if k[0] < keep_from]:
                del self._readers[key]

    async def readers_history(self) -> dict[int, list[bytes]]:
        history: dict[int, list[bytes]] = {}
        for (minute, _), counts in self._readers.items():
            history.setdefault(minute, []).append(counts)
        return history

    async def collect_stats(self) -> dict[str, bytes]:
        now = time.monotonic()
        for process in [p for p, (expires, _) in self._reports.items() if expires <= now]:
            del self._reports[process]
        return {process: report for process, (_, report) in self._reports.items()}

    async def forget_stats(self, process: str) -> None:
        self._reports.pop(process, None)


class _MemorySubscription(Subscription):
    def __init__(self, engine: MemoryEngine, handler: MessageHandler) -> None:
        self._engine = engine
        self._handler = handler
        self._slugs: set[str] = set()
        self._waiter: asyncio.Future[None] | None = None
        self._engine._subscriptions.add(self)

    def deliver(self, slug: str, event: bytes) -> None:
        # Like a real pub/sub: delivered after the publisher's step, in publish order.
        if slug in self._slugs:
            asyncio.get_running_loop().call_soon(self._handler, slug, event)

    async def subscribe(self, slug: str) -> None:
        self._slugs.add(slug)

    async def unsubscribe(self, slug: str) -> None:
        self._slugs.discard(slug)

    async def confirm(self) -> None:
        return None  # subscribe() takes effect at once

    async def run(self) -> None:
        # Nothing to pump: publishes call deliver() directly. Wait until closed.
        self._waiter = asyncio.get_running_loop().create_future()
        await self._waiter

    async def close(self) -> None:
        self._engine._subscriptions.discard(self)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
