"""The data model: what is stored, what travels on the wire, and what editors may send.

msgspec Structs are both the schema and the codec: the API validates requests by decoding into
the input Structs, and every response and event is encoded from the output Structs.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, Raw, Struct, UnsetType

Slug = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", description="Blog slug")]
Label = Annotated[
    str, Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$", description="Lower-case label, e.g. breaking")
]
HttpsUrl = Annotated[str, Meta(pattern=r"^https://[^\s/?#]+[^\s]*$", max_length=2048)]
Headline = Annotated[str, Meta(max_length=300)]
Author = Annotated[str, Meta(max_length=200)]
Caption = Annotated[str, Meta(max_length=1000)]
Body = Annotated[str, Meta(max_length=1024 * 1024)]
UtcTime = Annotated[datetime, Meta(tz=True)]
BlogStatus = Literal["live", "ended"]
Role = Literal["admin", "editor"]
EventType = Literal["entry.created", "entry.updated", "entry.deleted", "blog.updated", "reset"]

MAX_BODY_BYTES = 64 * 1024  # entry HTML after sanitising
MAX_LABELS = 20
MAX_MEDIA = 10


_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Media(Struct, forbid_unknown_fields=True):
    url: HttpsUrl
    caption: Caption | None = None
    credit: Author | None = None
    alt: Caption | None = None


class Blog(Struct):
    slug: str
    title: str
    description: str
    status: BlogStatus
    created_at: datetime
    updated_at: datetime
    # Last field on purpose: the Redis engine appends the event's own position to the encoded
    # blog inside its atomic publish (see engine/redis.py).
    last_event_id: str = ""


class Entry(Struct):
    id: str
    blog: str
    version: int
    published_at: datetime
    updated_at: datetime | None
    headline: str | None
    body: str
    author: str | None
    labels: list[str]
    pinned: bool
    media: list[Media]

    @property
    def order_key(self) -> str:
        """Sorts newest first when compared in reverse: published_at, then creation order."""
        micros = (self.published_at - _UNIX_EPOCH) // timedelta(microseconds=1)  # exact
        return f"{micros:017d}:{self.id}"


class Event(Struct):
    id: str
    type: EventType
    blog: str
    data: Raw


class EventHead(Struct):
    """The part of an event the hub reads: decoding skips the data."""

    id: str
    type: str


class Timeline(Struct):
    entries: list[Entry]
    next: str | None
    last_event_id: str


class BlogList(Struct):
    blogs: list[Blog]


# --- inputs -------------------------------------------------------------------------------


class BlogCreate(Struct, forbid_unknown_fields=True):
    slug: Slug
    title: Annotated[str, Meta(min_length=1, max_length=200)]
    description: Annotated[str, Meta(max_length=2000)] = ""
    status: BlogStatus = "live"


class BlogPatch(Struct, forbid_unknown_fields=True):
    title: Annotated[str, Meta(min_length=1, max_length=200)] | UnsetType = UNSET
    description: Annotated[str, Meta(max_length=2000)] | UnsetType = UNSET
    status: BlogStatus | UnsetType = UNSET


class EntryCreate(Struct, forbid_unknown_fields=True):
    body: Body
    headline: Headline | None = None
    author: Author | None = None
    labels: Annotated[list[Label], Meta(max_length=MAX_LABELS)] = []
    pinned: bool = False
    published_at: UtcTime | None = None
    media: Annotated[list[Media], Meta(max_length=MAX_MEDIA)] = []


class EntryPatch(Struct, forbid_unknown_fields=True):
    body: Body | UnsetType = UNSET
    headline: Headline | UnsetType | None = UNSET
    author: Author | UnsetType | None = UNSET
    labels: Annotated[list[Label], Meta(max_length=MAX_LABELS)] | UnsetType = UNSET
    pinned: bool | UnsetType = UNSET
    published_at: UtcTime | UnsetType = UNSET
    media: Annotated[list[Media], Meta(max_length=MAX_MEDIA)] | UnsetType = UNSET


class TokenCreate(Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=100)]
    role: Role
    blogs: list[Slug] | None = None


class Token(Struct):
    name: str
    role: Role
    blogs: list[str] | None

    def may_edit(self, slug: str) -> bool:
        return self.role == "admin" or self.blogs is None or slug in self.blogs


class TokenCreated(Struct):
    token: str
    name: str
    role: Role
    blogs: list[str] | None


def given_fields(patch: Struct) -> dict[str, object]:
    """The fields a PATCH body actually sent (absent ones are UNSET)."""
    return {k: v for k, v in msgspec.structs.asdict(patch).items() if v is not UNSET}


# --- identifiers ----------------------------------------------------------------------------

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def new_entry_id() -> str:
    """16 characters that sort by creation time: 10 of milliseconds, 6 random."""
    value = (time.time_ns() // 1_000_000) << 30 | secrets.randbits(30)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(75, -1, -5))


def new_epoch() -> str:
    return secrets.token_hex(4)


class Position(Struct, frozen=True):
    """A point in a blog's event stream: ``<epoch>-<offset>``."""

    epoch: str
    offset: int

    def __str__(self) -> str:
        return f"{self.epoch}-{self.offset}"

    @classmethod
    def parse(cls, value: str) -> Position | None:
        epoch, sep, offset = value.strip().rpartition("-")
        if not sep or not epoch or not offset.isdigit() or len(offset) > 18:
            return None
        return cls(epoch, int(offset))


encoder = msgspec.json.Encoder()
