"""The engine interface, one protocol per concern (:class:`Health`, :class:`Blogs`,
:class:`Events`, :class:`Tokens`, :class:`Schedule`, :class:`Search`, :class:`Record`,
:class:`Presence`, :class:`Reports`), and :class:`Engine`, which is all of them in one store.
A caller types against the narrowest protocol it uses.

Every change that readers must see is ONE :class:`Change` applied atomically by
:meth:`Blogs.apply`: idempotency check, version check, offset, stored state, history, publish.
The editorial rules (what a PATCH means, sanitising, versions) live in
``liveblog.editorial.editing``; engines only make a Change durable and visible, all or nothing.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from msgspec import Struct

from liveblog.models import Blog, Entry, Position, Token

# A live event arrives as (blog slug, b"<publish unix time> <encoded event JSON>").
MessageHandler = Callable[[str, bytes], None]
# The control channel of token changes: a name no blog can have. Subscribed like a blog, its
# messages are the hash of a token that was changed or revoked (every process checks the
# streams it holds with that token again; see ``liveblog.delivery.rights``).
TOKEN_CHANGES = "~tokens"


class EngineError(Exception):
    """Base class of engine failures."""


class EngineUnavailable(EngineError):
    """The store cannot be reached; nothing was written (API: 503)."""


class BlogNotFound(EngineError):
    pass


class BlogExists(EngineError):
    pass


class EntryNotFound(EngineError):
    pass


class VersionConflict(EngineError):
    """The entry changed since the caller read it (API: 412)."""

    def __init__(self, current: int) -> None:
        super().__init__(f"current version is {current}")
        self.current = current


class IdempotencyMismatch(EngineError):
    """The Idempotency-Key was used before with a different request (API: 422)."""


class ImportInProgress(EngineError):
    """Another import of this blog holds its lease (API: 409)."""


class ImportLost(EngineError):
    """This import's lease was taken over by another import: it stops writing."""


class NotScheduled(EngineError):
    """A claim found the entry no longer scheduled: another process published it, or an editor
    changed it meanwhile. Nothing was written."""


class Idempotency(Struct, frozen=True):
    key: str
    fingerprint: str  # hash of the request; a replay must match it
    response: bytes  # what the first request answered, returned on replays


class SearchTerms(Struct, frozen=True):
    """What the search index keeps of a change (``liveblog.editorial.search`` makes it): the
    blog's language, which the stems depend on, and for a change of an entry its terms after
    the change (none when it is deleted), listed under its order key.

    The index is complete in one language: a change made in another (a process that had not
    yet heard of a new language) marks it incomplete, and the next search mends it."""

    language: str
    terms: list[str] = []


class Change(Struct, frozen=True):
    """One atomic write that publishes at most one event to readers and one to the newsroom.

    ``event`` is the encoded event split where its id goes: the engine joins the parts with the
    ``<epoch>-<offset>`` it assigns (see ``liveblog.events.template``). None: readers get
    nothing (a draft's edit). ``newsroom_event`` goes the same way to the blog's newsroom
    stream (``<slug>~newsroom``), which only signed-in staff read.
    """

    event: list[bytes] | None
    entry_id: str | None = None
    # Stored entry after the change; None with entry_id set deletes the entry.
    entry: bytes | None = None
    entry_version: int = 0
    order_key: str | None = None  # the entry's timeline key after the change
    old_order_key: str | None = None  # its key before (removed)
    # The stored entry's version must equal this (0: it must not exist; -1: it must exist).
    expect_version: int | None = None
    blog: bytes | None = None  # stored blog after the change
    idempotency: Idempotency | None = None
    newsroom_event: list[bytes] | None = None
    # The newsroom's list of entries readers do not see (drafts, submitted, scheduled).
    pending_key: str | None = None
    old_pending_key: str | None = None
    # Any change of an entry takes it off the blog's schedule; this puts it (back) on, due at
    # this unix time.
    scheduled_at: float | None = None
    # Apply only if the entry is still on the schedule (NotScheduled otherwise): the atomic
    # claim that makes a scheduled publication happen exactly once across processes.
    claim: bool = False
    # --- search: the index kept by the same write (see SearchTerms) ---
    # Every change of an entry carries its terms; None there takes the entry out of the
    # index until a search indexes it again (a path that forgot them costs a pass, no result).
    search: SearchTerms | None = None
    # --- the record (liveblog.editorial.record): written in the same atomic step ---------
    # A version of the entry, appended to its history (the first and the newest
    # ``max_revisions`` are kept). A change with entry None also marks the entry deleted.
    revision: bytes | None = None
    audit: bytes | None = None  # an event for the blog's audit log


class AuditRecord(Struct, frozen=True):
    """One event of an audit log, where it sits: ``(ms, seq)`` is its stream id (when it was
    written, and its order within that millisecond) and ``source`` the log it is in (a blog's
    slug, or TOKEN_CHANGES for people's tokens). Newest first is ``key`` descending."""

    ms: int
    seq: int
    source: str
    event: bytes

    @property
    def key(self) -> tuple[int, int, str]:
        return (self.ms, self.seq, self.source)


def newest_first(records: list[AuditRecord], limit: int) -> list[AuditRecord]:
    """Merge the pages read from several logs: the ``limit`` newest."""
    return sorted(records, key=lambda r: r.key, reverse=True)[:limit]


class Applied(Struct, frozen=True):
    position: Position
    replay: bytes | None = None  # set when an idempotent retry matched a stored answer


class Page(Struct, frozen=True):
    entries: list[Entry]
    next_key: str | None
    position: Position


class NewerPage(Struct, frozen=True):
    entries: list[Entry]  # the entries just newer than a key, newest first
    remaining: int  # entries newer still, above the first of ``entries``
    position: Position


class Highlights(Struct, frozen=True):
    """Every pinned entry and every key event readers see, newest first."""

    pinned: list[Entry]
    key_events: list[Entry]


class SearchQuery(Struct, frozen=True):
    """Entries that hold every one of ``terms`` and, when ``prefix`` is set, also a term that
    begins with it (at most ``expansions`` such terms of the blog count) or is
    ``prefix_term``."""

    terms: list[str]
    prefix: str = ""
    prefix_term: str = ""
    expansions: int = 100


class SearchPage(Struct, frozen=True):
    entries: list[Entry]  # newest first
    next_key: str | None
    position: Position  # the readers' stream position the page reflects
    total: int  # entries that match, on every page
    indexed_in: str | None  # the language the index is complete in (None: not complete)


class SearchBacklog(Struct, frozen=True):
    entries: list[Entry]  # entries whose terms are not in the index in the language asked
    cursor: str | None  # where the next step starts; None: this was the last


class Subscription(abc.ABC):
    """One pub/sub connection of a process; the hub owns it and reconnects it."""

    @abc.abstractmethod
    async def subscribe(self, slug: str) -> None: ...

    @abc.abstractmethod
    async def unsubscribe(self, slug: str) -> None: ...

    @abc.abstractmethod
    async def confirm(self) -> None:
        """Return once every subscribe sent so far is in effect (needs run() going)."""

    @abc.abstractmethod
    async def run(self) -> None:
        """Deliver messages to the handler until the connection fails (EngineUnavailable)."""

    @abc.abstractmethod
    async def close(self) -> None: ...


# --- The interface, one protocol per concern ------------------------------------------------
# An engine implements them all (:class:`Engine`); a caller asks for the one it uses. Each is
# small enough to read on its own: the store's health, blogs and entries, the event stream,
# tokens, the schedule, search, the record, presence and process reports.


class Health(Protocol):
    """The store itself: connecting, reachability, where it is, what it may evict."""

    name: str
    # Writes that waited for a replica (a cluster, Sentinel), and those no replica confirmed
    # in time (answered 503): counted for the metrics.
    replica_waits: int
    replica_wait_failures: int

    async def start(self) -> None:
        """Connect; called once at application start-up."""
        return None

    async def close(self) -> None:
        """Release connections; called at shutdown."""
        return None

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise EngineUnavailable when the store cannot be reached."""

    def describe(self) -> str:
        """Where the data lives, for messages to operators (no credentials)."""
        return self.name

    async def maxmemory_policies(self) -> dict[str, str | None]:
        """Each server's ``maxmemory-policy`` by its address; None where it cannot be read
        (CONFIG refused). Empty: nothing to evict (the memory engine)."""
        return {}


class Blogs(Protocol):
    """Blogs and entries: reads, and every change readers must see as ONE :class:`Change`
    (see the module docstring)."""

    @abc.abstractmethod
    async def create_blog(self, blog: Blog, epoch: str, audit: bytes | None = None) -> Blog:
        """Store a new blog at position ``<epoch>-0`` (with its ``audit`` event); BlogExists
        if the slug is taken."""

    @abc.abstractmethod
    async def get_blog(self, slug: str) -> Blog | None:
        """The blog with ``last_event_id`` set to its current position."""

    @abc.abstractmethod
    async def list_blogs(self) -> list[Blog]: ...

    @abc.abstractmethod
    async def get_entry(self, slug: str, entry_id: str) -> Entry | None: ...

    @abc.abstractmethod
    async def timeline(self, slug: str, limit: int, before: str | None) -> Page:
        """Entries newest first strictly after ``before`` (an order key), with the position
        the page reflects, read atomically. BlogNotFound if the blog does not exist."""

    @abc.abstractmethod
    async def newer(self, slug: str, limit: int, after: str) -> NewerPage:
        """The ``limit`` entries just newer than ``after`` (an order key), newest first, and
        how many are newer still, read atomically. BlogNotFound if the blog does not exist."""

    @abc.abstractmethod
    async def apply(self, slug: str, change: Change) -> Applied:
        """Apply one change atomically and publish its event (see the module docstring).
        ``Applied.position`` is the readers' stream position after it. BlogNotFound if the
        blog does not exist: a write needs no read of the blog before it."""

    @abc.abstractmethod
    async def highlights(self, slug: str) -> Highlights:
        """All pinned entries and key events of the blog (BlogNotFound if none), from an
        index ``apply`` keeps of the entries on the timeline (with an order key), read from the
        stored entry itself (``pinned``; ``"key"`` in ``labels``): never a scan of the
        timeline."""

    @abc.abstractmethod
    async def pending(self, slug: str) -> list[Entry]:
        """The entries readers do not see (drafts, submitted, scheduled), newest first."""


class Events(Protocol):
    """Each blog's event stream (and its newsroom's, ``<slug>~newsroom``): positions, the
    history readers resume from, and the pub/sub that carries live events."""

    history_size: int

    @abc.abstractmethod
    async def position(self, slug: str) -> Position | None:
        """The blog's current position; None if the blog does not exist."""

    @abc.abstractmethod
    async def renew_epoch(self, slug: str, seen: Position) -> Position | None:
        """Start a new epoch if the blog is still in ``seen.epoch`` but below ``seen.offset``:
        the store lost events that readers already got (a crash between fsyncs), so ids of
        that epoch can no longer be trusted. Returns the position after; None if no blog."""

    @abc.abstractmethod
    async def history(self, slug: str, after: int) -> list[bytes] | None:
        """Encoded events with offset > after, oldest first (at most ``history_size``).

        None when the history no longer reaches back to ``after + 1``, or when ``after`` is
        beyond the current position (an id this epoch never issued)."""

    @abc.abstractmethod
    def subscription(self, handler: MessageHandler) -> Subscription:
        """A new, not yet connected pub/sub connection delivering to ``handler``."""


class Tokens(Protocol):
    """People's tokens, keyed by the SHA-256 of the secret (the secret is never stored).
    Every change and revoke is told to every process on ``TOKEN_CHANGES``."""

    @abc.abstractmethod
    async def store_token(self, token_hash: str, token: Token, audit: bytes | None = None) -> None:
        """Store a new token (and its ``audit`` event, in the same step)."""

    @abc.abstractmethod
    async def update_token(
        self,
        token_hash: str,
        change: Callable[[Token], Token],
        audit: Callable[[Token, Token], bytes | None] | None = None,
    ) -> Token | None:
        """Apply ``change`` to the stored token in one atomic step (compare-and-set: a revoke
        or another edit in between makes it read again, so none undoes another), and tell
        every process on ``TOKEN_CHANGES``. ``audit(before, after)`` is the audit event written
        in that step. None if there is no such token (revoked)."""

    @abc.abstractmethod
    async def find_token(self, token_hash: str) -> Token | None:
        """The token with its ``last_used_at``; None if unknown or revoked. Read from the
        store on every call (a process that keeps tokens forgets them on TOKEN_CHANGES)."""

    @abc.abstractmethod
    async def touch_token(self, token_hash: str, at: datetime) -> None:
        """Record the token's last use (callers do so at most once a minute)."""

    @abc.abstractmethod
    async def list_tokens(self) -> dict[str, Token]:
        """Every stored token by hash, with its ``last_used_at``."""

    @abc.abstractmethod
    async def delete_token(self, token_hash: str, audit: bytes | None = None) -> bool:
        """Revoke a token and tell every process on ``TOKEN_CHANGES`` (with its ``audit``
        event, in the same step); False if there was none."""


class Schedule(Protocol):
    """Which blogs hold scheduled entries that are due (``Change.scheduled_at`` puts an entry
    on the schedule, ``Change.claim`` takes it off exactly once)."""

    @abc.abstractmethod
    async def due_blogs(self, now: float, *, rescan: bool = False) -> list[tuple[str, str]]:
        """Blogs that may hold entries due by ``now`` (unix time), as (slug, mark) to hand
        back to :meth:`settle_due`. ``rescan`` looks at every blog rather than the index (at
        start-up, and now and then: an index write lost in a crash is mended)."""

    @abc.abstractmethod
    async def due_entries(self, slug: str, now: float) -> list[str]:
        """Ids of the blog's scheduled entries due by ``now``, earliest first."""

    @abc.abstractmethod
    async def settle_due(self, slug: str, mark: str) -> None:
        """After the blog's due entries were claimed: index its next due time, if any."""


class Search(Protocol):
    """An index of terms kept by ``apply`` (``Change.search``), and the steps that make it
    complete in a blog's language."""

    @abc.abstractmethod
    async def search(
        self, slug: str, query: SearchQuery, limit: int, before: str | None, *, everything: bool
    ) -> SearchPage:
        """Entries that match, newest first, strictly after ``before`` (an order key): the
        published ones, or with ``everything`` those of every status. BlogNotFound if none."""

    @abc.abstractmethod
    async def begin_search_index(self, slug: str, language: str) -> None:
        """Mark the index as being made complete in ``language``: a change made in another
        language from now on undoes the mark, so :meth:`finish_search_index` will not set it."""

    @abc.abstractmethod
    async def search_backlog(self, slug: str, language: str, cursor: str) -> SearchBacklog:
        """One step through the blog's entries (``cursor`` '' starts): those whose terms are
        not in the index in ``language`` (entries from before the index, or another
        language's)."""

    @abc.abstractmethod
    async def index_search(self, slug: str, items: list[tuple[Entry, SearchTerms]]) -> None:
        """Put each entry's terms in the index in place of its old ones, if it is still at
        that version (a change since then indexed it already)."""

    @abc.abstractmethod
    async def finish_search_index(self, slug: str, language: str) -> bool:
        """Mark the index complete in ``language`` unless a change undid the mark of
        :meth:`begin_search_index` meanwhile (False: another pass is needed)."""


class Record(Protocol):
    """The record: entries' revisions and the audit log (written by ``apply`` in the same
    step as the change they record), export and import."""

    # The record's bounds (settings max_revisions, audit_days, audit_max_events).
    max_revisions: int
    audit_days: int
    audit_max_events: int

    @abc.abstractmethod
    async def revisions(self, slug: str, entry_id: str) -> list[bytes] | None:
        """The entry's stored revisions, oldest first ([] if it has none, deleted entries
        included); None if the blog does not exist."""

    @abc.abstractmethod
    async def deleted_entries(self, slug: str, limit: int) -> list[tuple[str, float]]:
        """(entry id, when it was deleted, unix time) of the blog's deleted entries, the
        latest deleted first; BlogNotFound if the blog does not exist."""

    @abc.abstractmethod
    async def entry_ids(self, slug: str) -> list[str] | None:
        """Every entry id of the blog, live or deleted, in creation order (ids sort so);
        None if the blog does not exist."""

    @abc.abstractmethod
    async def export_entries(
        self, slug: str, entry_ids: list[str]
    ) -> list[tuple[bytes | None, list[bytes]]]:
        """Each entry as stored (None: deleted) with its revisions, read atomically."""

    @abc.abstractmethod
    async def record_audit(self, slug: str | None, event: bytes) -> None:
        """Append an event to a blog's audit log (None: the log of people's tokens), for an
        action that is no engine change (a photo stored)."""

    @abc.abstractmethod
    async def audit_log(
        self, blog: str | None, before: tuple[int, int, str] | None, limit: int
    ) -> list[AuditRecord]:
        """Up to ``limit`` audit events newest first, strictly older than ``before`` (an
        :attr:`AuditRecord.key`), of one blog, or of every blog and people's tokens (None).
        Events older than ``audit_days`` are never returned."""

    @abc.abstractmethod
    async def begin_import(self, blog: Blog, epoch: str, lease: str, until: float) -> None:
        """Create ``blog`` for an import that holds it until ``until`` (unix time). A blog left
        by an import that never finished (its lease over) is emptied and taken over.
        BlogExists if the slug is a blog; ImportInProgress if another import holds it."""

    @abc.abstractmethod
    async def renew_import(self, slug: str, lease: str, until: float) -> None:
        """Extend this import's lease; ImportLost if another import took the blog over."""

    @abc.abstractmethod
    async def import_revisions(
        self, slug: str, entry_id: str, revisions: list[bytes], deleted_at: float | None
    ) -> None:
        """Replace an entry's history (an import); ``deleted_at`` marks it deleted then."""

    @abc.abstractmethod
    async def finish_import(self, slug: str, lease: str, audit: bytes | None) -> Blog:
        """End the import: a fresh epoch (readers who watched start clean), the blog listed,
        its ``audit`` event written. ImportLost if the lease is no longer ours."""


class Presence(Protocol):
    """Who has a blog open in a console: ephemeral, never in any history."""

    @abc.abstractmethod
    async def update_presence(
        self,
        slug: str,
        put: Mapping[str, tuple[float, bytes]],
        drop: Sequence[str] = (),
        touch: Mapping[str, tuple[float, bytes]] | None = None,
    ) -> tuple[bool, dict[str, bytes]]:
        """In the blog's presence map, atomically: forget the records whose time is up, put
        each field of ``put`` (``(ttl seconds, value)``: it is forgotten that long after its
        last put), give the records of ``touch`` that still hold that value more time (never
        bringing one back), drop the fields ``drop``. Returns whether the set of records
        changed, and the records held now. When it changed, the notice
        ``events.PRESENCE_NOTICE`` goes to every process on the blog's newsroom channel
        (``<slug>~newsroom``)."""


class Reports(Protocol):
    """What every server process reports (GET /api/stats sums them) and the readers it saw
    by minute (the dashboard's chart)."""

    @abc.abstractmethod
    async def report_stats(self, process: str, report: bytes, ttl: float) -> None:
        """Store one process's report; it is forgotten ``ttl`` seconds after its last report
        (so a process that died stops counting without anyone cleaning up)."""

    @abc.abstractmethod
    async def collect_stats(self) -> dict[str, bytes]:
        """The latest report of every process whose report has not expired."""

    @abc.abstractmethod
    async def forget_stats(self, process: str) -> None:
        """Drop a process's report at once (it is shutting down)."""

    @abc.abstractmethod
    async def record_readers(
        self, minute: int, process: str, counts: bytes, *, keep_from: int | None = None
    ) -> None:
        """Store what one process saw in one minute (``minute`` = unix time // 60), replacing
        what it stored for that minute before; with ``keep_from``, forget every minute before
        it (of every process): the store holds a bounded window, not a growing history."""

    @abc.abstractmethod
    async def readers_history(self) -> dict[int, list[bytes]]:
        """Every process's records, by minute."""


class Engine(Health, Blogs, Events, Tokens, Schedule, Search, Record, Presence, Reports):
    """Every protocol above, in one store: what ``make_engine`` returns and each engine
    (``memory``, ``redis``, ``cluster``, ``sentinel``) implements. It adds what all engines
    share: the observers of ``apply`` and the audit log's age limit."""

    name: str
    history_size: int
    replica_waits = 0
    replica_wait_failures = 0
    max_revisions: int = 50
    audit_days: int = 400
    audit_max_events: int = 100_000
    # Told of every applied change with how long the engine took (metrics listen here).
    apply_observers: tuple[Callable[[Applied, float], None], ...] = ()

    def audit_cutoff_ms(self) -> int:
        """Audit events written before this unix time (ms) are past keeping."""
        return int((time.time() - self.audit_days * 86400) * 1000)

    def observe_apply(self, observer: Callable[[Applied, float], None]) -> None:
        self.apply_observers = (*self.apply_observers, observer)

    async def apply(self, slug: str, change: Change) -> Applied:
        start = time.perf_counter()
        applied = await self._apply_change(slug, change)
        seconds = time.perf_counter() - start
        for observer in self.apply_observers:
            observer(applied, seconds)
        return applied

    @abc.abstractmethod
    async def _apply_change(self, slug: str, change: Change) -> Applied:
        """``apply`` as each engine does it."""
