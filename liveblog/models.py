"""The data model: what is stored, what travels on the wire, and what editors may send.

msgspec Structs are both the schema and the codec: the API validates requests by decoding into
the input Structs, and every response and event is encoded from the output Structs.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Raw, Struct, UnsetType

# Format checks match the whole string: `\Z`, not `$`, which also matches before a final "\n".
# Control characters: C0 and C1, less tab, newline and CR (line breaks sent as CRLF are text).
_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# Bidi embedding, override and isolate characters reorder the text after them on the page.
_BIDI = r"\u202a-\u202e\u2066-\u2069"
SLUG_REGEX = r"[a-z0-9][a-z0-9-]{0,63}"  # a blog's name; routes take no other (routes.py)
SLUG_PATTERN = re.compile(rf"^{SLUG_REGEX}\Z")
LABEL_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}\Z")
HTTPS_URL_PATTERN = re.compile(rf"^https://[^\s{_CONTROL}{_BIDI}/?#]+[^\s{_CONTROL}{_BIDI}]*\Z")
# A photo's URL: https, or a photo this server stores and serves itself (liveblog/media).
MEDIA_URL_PATTERN = re.compile(
    rf"^(?:https://[^\s{_CONTROL}{_BIDI}/?#]+[^\s{_CONTROL}{_BIDI}]*|/media/[a-z0-9][a-z0-9/._-]*)\Z"
)
# Plain-text fields refuse control and bidi characters rather than strip them: the editor sees
# what was wrong and nothing is changed behind their back. (Entry HTML is cleaned instead, as the
# rest of its markup is: see sanitize.py.)
PLAIN_TEXT_PATTERN = re.compile(rf"^[^{_CONTROL}{_BIDI}]*\Z")
CONTROL_OR_BIDI = re.compile(rf"[{_CONTROL}{_BIDI}]")

# What a refused pattern means, in words: the 422 problem says this instead of the regex.
PATTERN_HINTS = {
    SLUG_PATTERN.pattern: "must be 1-64 lower-case letters, digits or hyphens, not starting with"
    " a hyphen",
    LABEL_PATTERN.pattern: "must be 1-40 lower-case letters, digits or hyphens, not starting with"
    " a hyphen",
    HTTPS_URL_PATTERN.pattern: "must be an https:// URL without spaces or control characters",
    MEDIA_URL_PATTERN.pattern: "must be an https:// URL without spaces or control characters, or"
    " the /media/ URL of an uploaded photo",
    PLAIN_TEXT_PATTERN.pattern: "must not contain control characters other than tab and line"
    " breaks, nor bidi embedding, override or isolate characters (U+202A-U+202E, U+2066-U+2069)",
}


def in_words(exc: msgspec.ValidationError) -> msgspec.ValidationError:
    """``Expected `str` matching regex '...'`` becomes what the pattern means (the API's 422s
    and the command line's refusals alike)."""
    message = str(exc)
    for pattern, hint in PATTERN_HINTS.items():
        regex = f"Expected `str` matching regex {pattern!r}"
        if message.startswith(regex):
            return msgspec.ValidationError(hint + message.removeprefix(regex))
    return exc


def is_slug(text: str) -> bool:
    return SLUG_PATTERN.match(text) is not None


_ASCII_DIGITS = re.compile(r"[0-9]+")


def parse_decimal(text: str, max_digits: int) -> int | None:
    """A whole number in ASCII digits, at most ``max_digits`` of them; otherwise None.

    Every number read from a client goes through here: ``"²".isdigit()`` is true but ``int("²")``
    fails, and ``int()`` refuses strings over 4,300 digits.
    """
    if len(text) > max_digits or _ASCII_DIGITS.fullmatch(text) is None:
        return None
    return int(text)


def _text(max_length: int, min_length: int = 0) -> Meta:
    return Meta(min_length=min_length, max_length=max_length, pattern=PLAIN_TEXT_PATTERN.pattern)


Slug = Annotated[str, Meta(pattern=SLUG_PATTERN.pattern, description="Blog slug")]
Label = Annotated[
    str, Meta(pattern=LABEL_PATTERN.pattern, description="Lower-case label, e.g. breaking")
]
HttpsUrl = Annotated[str, Meta(pattern=HTTPS_URL_PATTERN.pattern, max_length=2048)]
MediaUrl = Annotated[str, Meta(pattern=MEDIA_URL_PATTERN.pattern, max_length=2048)]
ImageType = Literal["image/jpeg", "image/png", "image/webp", "image/gif"]
Headline = Annotated[str, _text(300)]
Author = Annotated[str, _text(200)]
Caption = Annotated[str, _text(1000)]
Title = Annotated[str, _text(200, min_length=1)]
Description = Annotated[str, _text(2000)]
TokenName = Annotated[str, _text(100, min_length=1)]
Body = Annotated[str, Meta(max_length=1024 * 1024)]
UtcTime = Annotated[datetime, Meta(tz=True)]
# Shapes only; whether Babel knows the language and the zone exists is checked in api/blogs.py.
Language = Annotated[str, Meta(pattern=r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8}){0,3}\Z")]
TimeZone = Annotated[str, Meta(pattern=r"^[A-Za-z][A-Za-z0-9_+/-]{0,63}\Z")]
BlogStatus = Literal["live", "ended"]
Role = Literal["admin", "editor", "contributor"]
# Only published entries exist for readers; the others wait in the newsroom (docs/api.md, Workflow).
EntryStatus = Literal["published", "draft", "submitted", "scheduled"]
Note = Annotated[str, _text(2000)]
EventType = Literal["entry.created", "entry.updated", "entry.deleted", "blog.updated", "reset"]

MAX_BODY_BYTES = 64 * 1024  # entry HTML after sanitising
MAX_LABELS = 20
MAX_MEDIA = 10
# The label that makes an entry a key event (the reader page's "Key events" box and view).
KEY_EVENT_LABEL = "key"
MAX_AUTHORS = 10
# A published entry may be dated this far ahead of the server's clock (an editor's clock runs a
# little fast); later is a typo or a schedule, and is refused (use status "scheduled").
FUTURE_SLACK = timedelta(seconds=60)
# Where a blog's newsroom channel is named: "<slug>~newsroom" can never be a blog slug, so the
# hub can stream it as a blog of its own, and only the authenticated endpoint attaches to it.
NEWSROOM_SUFFIX = "~newsroom"


def newsroom_channel(slug: str) -> str:
    return slug + NEWSROOM_SUFFIX


def split_channel(name: str) -> tuple[str, bool]:
    """``"s~newsroom"`` -> ("s", True); ``"s"`` -> ("s", False)."""
    if name.endswith(NEWSROOM_SUFFIX):
        return name[: -len(NEWSROOM_SUFFIX)], True
    return name, False


def is_newsroom_channel(name: str) -> bool:
    slug, newsroom = split_channel(name)
    return newsroom and is_slug(slug)


_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# published_at bounds, in UTC: the timeline sorts by a fixed-width key of 17 digits of
# microseconds since 1970 (see Entry.order_key), and the API parses that key back from a cursor.
EARLIEST_PUBLISHED = _UNIX_EPOCH
LATEST_PUBLISHED = datetime(3000, 1, 1, tzinfo=UTC)  # excluded
# A cursor holds an order key; "~" after it (sorting after any id) makes a page start with that
# entry itself (the reader page's links to key events, pages/timeline.py).
ORDER_KEY_PATTERN = re.compile(r"^[0-9]{17}:[0-9a-z]{16}~?\Z")
ENTRY_ID_PATTERN = re.compile(r"^[0-9a-z]{16}\Z")  # new_entry_id


def encode_cursor(order_key: str) -> str:
    """The timeline's cursor for "entries older than this order key" (``before``; ``after``
    for newer ones): the API's and the pages' alike."""
    return base64.urlsafe_b64encode(order_key.encode()).decode()


def decode_cursor(cursor: str) -> str | None:
    """The order key in a cursor; None when it is not one this server made."""
    try:
        key = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return key if ORDER_KEY_PATTERN.match(key) is not None else None


def utcnow() -> datetime:
    return datetime.now(UTC)


class MediaVariant(Struct, forbid_unknown_fields=True):
    """One size of an uploaded photo, for the reader page's srcset."""

    url: MediaUrl
    width: Annotated[int, Meta(ge=1, le=65535)]
    type: ImageType | None = None


class Media(Struct, forbid_unknown_fields=True):
    """A photo (``type: "image"``) or a post or video of a known provider (``"embed"``).

    A photo's ``width``, ``height`` and ``variants`` come from its upload's answer; they let the
    page reserve its space and pick a size. An embed's ``provider`` and ``embed_url`` (the
    player or post frame) are set by the server from the URL (liveblog/editorial/embeds.py).
    """

    url: MediaUrl
    caption: Caption | None = None
    credit: Author | None = None
    alt: Caption | None = None
    type: Literal["image", "embed"] = "image"
    width: Annotated[int, Meta(ge=1, le=65535)] | None = None
    height: Annotated[int, Meta(ge=1, le=65535)] | None = None
    variants: Annotated[list[MediaVariant], Meta(max_length=16)] = []
    # Alt text left empty on purpose: the photo adds nothing a screen reader should say.
    decorative: bool = False
    provider: str | None = None
    embed_url: str | None = None


class MediaUpload(Struct):
    """The answer to POST /api/blogs/{slug}/media."""

    url: str
    width: int
    height: int
    type: str
    variants: list[MediaVariant]


class Byline(Struct, forbid_unknown_fields=True):
    """One author of an entry: a person's name and, optionally, their picture."""

    name: Author
    avatar_url: HttpsUrl | None = None


class Correction(Struct):
    at: datetime
    text: str


class Blog(Struct):
    slug: str
    title: str
    description: str
    status: BlogStatus
    created_at: datetime
    updated_at: datetime
    language: str = "en"  # BCP 47: the reader's pages, embed and feed speak it
    time_zone: str = "UTC"  # IANA: times on the server-rendered page
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
    status: EntryStatus = "published"
    publish_at: datetime | None = None  # when a scheduled entry goes out
    corrections: list[Correction] = []  # newest last; never removed
    authors: list[Byline] = []  # the byline's people (``author`` is their names, joined)
    created_by: str | None = None  # the id of the token that created it (its owner)
    note: str | None = None  # an editor's note to the contributor (sent back)

    @property
    def published(self) -> bool:
        return self.status == "published"

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


class SearchResults(Timeline):
    """A page of a search (``?q=``): a timeline page and how many entries match in all."""

    total: int = 0


class TimelineWindow(Timeline):
    """A page of the timeline somewhere in its middle (``?around=``, ``?after=``): ``next``
    continues older, ``newer`` (a cursor for ``?after=``) newer, ``newer_count`` entries are
    newer than the first here (``newer`` is null when there are none)."""

    newer: str | None
    newer_count: int


class BlogList(Struct):
    blogs: list[Blog]


# --- inputs -------------------------------------------------------------------------------


class BlogCreate(Struct, forbid_unknown_fields=True):
    slug: Slug
    title: Title
    description: Description = ""
    status: BlogStatus = "live"
    language: Language | None = None  # None: the default_language setting
    time_zone: TimeZone | None = None  # None: the default_time_zone setting


class BlogPatch(Struct, forbid_unknown_fields=True):
    title: Title | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    status: BlogStatus | UnsetType = UNSET
    language: Language | UnsetType = UNSET
    time_zone: TimeZone | UnsetType = UNSET


class EntryCreate(Struct, forbid_unknown_fields=True):
    body: Body
    headline: Headline | None = None
    author: Author | None = None
    labels: Annotated[list[Label], Meta(max_length=MAX_LABELS)] = []
    pinned: bool = False
    published_at: UtcTime | None = None
    media: Annotated[list[Media], Meta(max_length=MAX_MEDIA)] = []
    status: EntryStatus = "published"
    publish_at: UtcTime | None = None
    authors: Annotated[list[Byline], Meta(max_length=MAX_AUTHORS)] | None = None


class EntryPatch(Struct, forbid_unknown_fields=True):
    body: Body | UnsetType = UNSET
    headline: Headline | UnsetType | None = UNSET
    author: Author | UnsetType | None = UNSET
    labels: Annotated[list[Label], Meta(max_length=MAX_LABELS)] | UnsetType = UNSET
    pinned: bool | UnsetType = UNSET
    published_at: UtcTime | UnsetType = UNSET
    media: Annotated[list[Media], Meta(max_length=MAX_MEDIA)] | UnsetType = UNSET
    status: EntryStatus | UnsetType = UNSET
    publish_at: UtcTime | UnsetType | None = UNSET
    authors: Annotated[list[Byline], Meta(max_length=MAX_AUTHORS)] | UnsetType = UNSET
    correction: Annotated[str, _text(1000, min_length=1)] | UnsetType = UNSET
    note: Note | UnsetType | None = UNSET  # to the contributor, with a send-back


class TokenCreate(Struct, forbid_unknown_fields=True):
    name: TokenName
    role: Role
    blogs: list[Slug] | None = None
    expires_at: UtcTime | None = None  # past it, the token is refused (401); None: never
    avatar_url: HttpsUrl | None = None


class TokenPatch(Struct, forbid_unknown_fields=True):
    """What an admin may change about a person: name, avatar, role and blogs (not the secret)."""

    name: TokenName | UnsetType = UNSET
    role: Role | UnsetType = UNSET
    blogs: list[Slug] | UnsetType | None = UNSET
    avatar_url: HttpsUrl | UnsetType | None = UNSET


class Token(Struct):
    """A token as stored and listed: never its secret, nor the secret's hash."""

    name: str
    role: Role
    blogs: list[str] | None
    id: str = ""  # the first 12 hex digits of the secret's SHA-256 (see api/auth.py)
    created_at: datetime | None = None  # None: issued before tokens recorded it
    last_used_at: datetime | None = None  # recorded at most once a minute
    expires_at: datetime | None = None
    avatar_url: str | None = None

    def may_edit(self, slug: str) -> bool:
        """May write to the blog at all (a contributor: only entries that wait for review)."""
        return self.role == "admin" or self.blogs is None or slug in self.blogs

    @property
    def may_publish(self) -> bool:
        return self.role != "contributor"


class TokenList(Struct):
    tokens: list[Token]


class TokenCreated(Struct):
    """The answer to POST /api/tokens: the only time the secret is shown."""

    token: str
    id: str
    name: str
    role: Role
    blogs: list[str] | None
    created_at: datetime
    expires_at: datetime | None
    avatar_url: str | None = None


# --- presence: who has a blog open in a console ----------------------------------------------

EntryId = Annotated[str, Meta(pattern=r"^[0-9a-z]{1,64}\Z", description="An entry's id")]


class PresenceUpdate(Struct, forbid_unknown_fields=True):
    """``PUT /api/blogs/{slug}/presence``: what the caller edits now (null: nothing)."""

    editing: EntryId | None


class Person(Struct):
    """One person with the blog open in a console. ``since``: when they started editing
    ``editing``, or, editing nothing, when they opened the blog."""

    token_id: str
    name: str
    avatar_url: str | None
    editing: str | None
    since: datetime


class Presence(Struct):
    people: list[Person]


# --- the record: who changed what (revisions of entries, the audit log) ---------------------

AuditAction = Literal[
    "token.created", "token.updated", "token.revoked", "blog.created", "blog.updated",
    "entry.created", "entry.updated", "entry.deleted", "entry.published", "entry.returned",
    "entry.restored", "media.uploaded",
]  # fmt: skip
CorrectionText = Annotated[str, _text(1000, min_length=1)]


class Actor(Struct):
    """Who made a change: a token's id and its person's name. ``token_id`` is None for the
    server itself (the scheduler publishing a scheduled entry, the command line)."""

    token_id: str | None
    name: str


class Revision(Struct, omit_defaults=True):
    """One version of an entry as it was stored, and who stored it when. ``entry`` is None for
    the revision that deleted it; ``action`` says what the change was."""

    version: int
    at: datetime
    by: Actor
    entry: Entry | None
    action: AuditAction
    restored_from: int | None = None  # the version a restore brought back


class RevisionList(Struct):
    revisions: list[Revision]


class RestoreRequest(Struct, forbid_unknown_fields=True):
    """The optional body of a restore: a correction readers see under the entry."""

    correction: CorrectionText | UnsetType = UNSET


class DeletedEntry(Struct):
    id: str
    deleted_at: datetime
    by: Actor
    entry: Entry | None  # the version that was deleted


class DeletedList(Struct):
    entries: list[DeletedEntry]


class AuditEvent(Struct, omit_defaults=True):
    at: datetime
    by: Actor
    action: AuditAction
    blog: str | None = None
    entry: str | None = None
    detail: dict[str, Any] | None = None


class AuditPage(Struct):
    events: list[AuditEvent]
    next: str | None


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
        epoch, sep, digits = value.strip().rpartition("-")
        offset = parse_decimal(digits, 18)
        if not sep or not epoch or offset is None:
            return None
        return cls(epoch, offset)


encoder = msgspec.json.Encoder()
