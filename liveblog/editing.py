"""Editorial operations: turn a validated request into one atomic engine Change.

Both engines share these rules: sanitising, versions, timestamps, what each event carries.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import msgspec

from liveblog import events
from liveblog.engine.base import (
    Applied,
    BlogNotFound,
    Change,
    Engine,
    EntryNotFound,
    Idempotency,
    VersionConflict,
)
from liveblog.models import (
    EARLIEST_PUBLISHED,
    LATEST_PUBLISHED,
    MAX_BODY_BYTES,
    Blog,
    BlogCreate,
    BlogPatch,
    Entry,
    EntryCreate,
    EntryPatch,
    encoder,
    given_fields,
    new_entry_id,
    new_epoch,
    utcnow,
)
from liveblog.sanitize import clean_html


class InvalidField(ValueError):
    """A field is acceptable JSON but not acceptable content (API: 422 at ``path``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{message} - at `{path}`")
        self.path = path
        self.message = message


def _clean_body(html: str) -> str:
    body = clean_html(html)
    if len(body.encode()) > MAX_BODY_BYTES:
        raise InvalidField("$.body", f"must be at most {MAX_BODY_BYTES} bytes after sanitising")
    return body


def _published_at(value: datetime) -> datetime:
    """In UTC, bounded in UTC: ``1970-01-01T00:00:00+23:59`` is in 1969."""
    if not EARLIEST_PUBLISHED <= value < LATEST_PUBLISHED:  # aware: compared as UTC instants
        raise InvalidField("$.published_at", "must be between the years 1970 and 2999 in UTC")
    return value.astimezone(UTC)


def fingerprint(raw_request: bytes) -> str:
    return hashlib.sha256(raw_request).hexdigest()


async def create_blog(engine: Engine, data: BlogCreate) -> Blog:
    now = utcnow()
    blog = Blog(data.slug, data.title, data.description, data.status, now, now)
    return await engine.create_blog(blog, new_epoch())


async def update_blog(engine: Engine, slug: str, patch: BlogPatch) -> Blog:
    blog = await engine.get_blog(slug)
    if blog is None:
        raise BlogNotFound(slug)
    changes = given_fields(patch)
    stored = msgspec.structs.replace(blog, **changes, updated_at=utcnow(), last_event_id="")
    applied = await engine.apply(
        slug,
        Change(event=events.template("blog.updated", slug, stored), blog=encoder.encode(stored)),
    )
    return msgspec.structs.replace(stored, last_event_id=str(applied.position))


async def create_entry(
    engine: Engine,
    slug: str,
    data: EntryCreate,
    *,
    idempotency_key: str | None = None,
    raw_request: bytes = b"",
) -> tuple[bytes, bool]:
    """Create an entry; returns (the encoded Entry answered, whether it is a replay)."""
    now = utcnow()
    entry = Entry(
        id=new_entry_id(),
        blog=slug,
        version=1,
        published_at=now if data.published_at is None else _published_at(data.published_at),
        updated_at=None,
        headline=data.headline,
        body=_clean_body(data.body),
        author=data.author,
        labels=data.labels,
        pinned=data.pinned,
        media=data.media,
    )
    encoded = encoder.encode(entry)
    idem = None
    if idempotency_key is not None:
        idem = Idempotency(idempotency_key, fingerprint(raw_request), encoded)
    applied = await engine.apply(
        slug,
        Change(
            event=events.template("entry.created", slug, entry),
            entry_id=entry.id,
            entry=encoded,
            entry_version=1,
            order_key=entry.order_key,
            expect_version=0,
            idempotency=idem,
        ),
    )
    if applied.replay is not None:
        return applied.replay, True
    return encoded, False


async def update_entry(
    engine: Engine, slug: str, entry_id: str, patch: EntryPatch, if_match: int | None
) -> Entry:
    current = await _existing_entry(engine, slug, entry_id)
    if if_match is not None and if_match != current.version:
        raise VersionConflict(current.version)
    changes = given_fields(patch)
    if "body" in changes:
        changes["body"] = _clean_body(changes["body"])
    if "published_at" in changes:
        changes["published_at"] = _published_at(changes["published_at"])
    entry = msgspec.structs.replace(
        current, **changes, version=current.version + 1, updated_at=utcnow()
    )
    encoded = encoder.encode(entry)
    await engine.apply(
        slug,
        Change(
            event=events.template("entry.updated", slug, entry),
            entry_id=entry.id,
            entry=encoded,
            entry_version=entry.version,
            order_key=entry.order_key,
            old_order_key=current.order_key,
            expect_version=current.version,
        ),
    )
    return entry


async def delete_entry(engine: Engine, slug: str, entry_id: str) -> None:
    current = await _existing_entry(engine, slug, entry_id)
    await engine.apply(
        slug,
        Change(
            event=events.template("entry.deleted", slug, {"id": entry_id}),
            entry_id=entry_id,
            entry=None,
            old_order_key=current.order_key,
            expect_version=-1,
        ),
    )


async def _existing_entry(engine: Engine, slug: str, entry_id: str) -> Entry:
    entry = await engine.get_entry(slug, entry_id)
    if entry is None:
        if await engine.position(slug) is None:
            raise BlogNotFound(slug)
        raise EntryNotFound(entry_id)
    return entry


__all__ = [
    "Applied",
    "InvalidField",
    "create_blog",
    "create_entry",
    "delete_entry",
    "fingerprint",
    "update_blog",
    "update_entry",
]
