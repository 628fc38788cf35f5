"""Where the Redis engines keep everything: the keys of a blog, the keys shared by every blog,
and the pub/sub channels. One module, so the plain, Cluster and Sentinel engines (and their Lua
scripts' KEYS) cannot disagree on a name.

All keys of a blog share the hash tag ``{slug}``, so a blog lives in one Cluster slot and its
scripts stay atomic there.
"""

from __future__ import annotations

from liveblog.engine.base import TOKEN_CHANGES
from liveblog.models import split_channel

TOKENS = "lb:tokens"  # token hash -> Token JSON
TOKENS_USED = "lb:tokens:used"  # token hash -> when it was last used (JSON time)
# Where token changes are published (TOKEN_CHANGES): the hash tag puts the channel in the slot
# of lb:tokens, so on a cluster the token scripts may SPUBLISH it.
TOKEN_CHANNEL = "{lb:tokens}:changed"
_TOKEN_CHANNEL_BYTES = TOKEN_CHANNEL.encode()
# The audit log of people's tokens, in the slot of lb:tokens: the token scripts write to it.
TOKENS_AUDIT = "{lb:tokens}:audit"
BLOGS = "lb:blogs"
STATS = "lb:stats"  # process id -> "<expires> <report>" (see lua/stats_*.lua)
READERS = "lb:readers"  # "<minute>:<process>" -> readers per blog (see lua/readers_record.lua)
# The schedule's index across blogs (both keys in one slot: the due_*.lua scripts touch both):
# blog slug -> the earliest time one of its entries may be due, and a counter per blog that
# every scheduling write bumps (see RedisEngine.settle_due).
DUE = "lb:{scheduled}:due"
DUE_MARKS = "lb:{scheduled}:marks"


class BlogKeys:
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


def audit_key(source: str | None) -> str:
    """The audit log of a blog, or of people's tokens (None or TOKEN_CHANGES)."""
    return TOKENS_AUDIT if source in (None, TOKEN_CHANGES) else BlogKeys(source).audit


def channel_of(name: str) -> str:
    """The pub/sub channel of a blog, of its newsroom, or of token changes."""
    return TOKEN_CHANNEL if name == TOKEN_CHANGES else BlogKeys(name).channel


def slug_of_channel(channel: bytes) -> str:
    """The name :func:`channel_of` made the channel of (a message's channel, as received)."""
    # b"lb:{slug}:events" -> "slug"; b"lb:{slug}:newsroom:events" -> "slug~newsroom"
    if channel == _TOKEN_CHANNEL_BYTES:
        return TOKEN_CHANGES
    slug = channel[4 : channel.index(b"}")].decode()
    return slug + "~newsroom" if channel.endswith(b":newsroom:events") else slug
