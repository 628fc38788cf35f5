"""Editorial operations: turn a validated request into one atomic engine Change.

Both engines share these rules: sanitising, versions, timestamps, what each event carries.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec

from liveblog import events
from liveblog.editorial import blogs, record, roles, search
from liveblog.editorial.refusals import InvalidField, NotAllowed
from liveblog.editorial.sanitize import clean_html
from liveblog.engine.base import (
    Applied,
    BlogNotFound,
    Change,
    Engine,
    EngineUnavailable,
    EntryNotFound,
    Idempotency,
    NotScheduled,
    SearchTerms,
    VersionConflict,
)
from liveblog.models import (
    EARLIEST_PUBLISHED,
    FUTURE_SLACK,
    LATEST_PUBLISHED,
    MAX_BODY_BYTES,
    Actor,
    Blog,
    BlogCreate,
    BlogPatch,
    Byline,
    Correction,
    Entry,
    EntryCreate,
    EntryPatch,
    EventType,
    Revision,
    Token,
    encoder,
    given_fields,
    new_entry_id,
    new_epoch,
    utcnow,
)


class Created(NamedTuple):
    """What creating an entry answers: the encoded Entry (a replay's is the first answer),
    whether it is a replay, and the entry's id (for Location: nobody decodes the answer)."""

    encoded: bytes
    replayed: bool
    entry_id: str


class _EntryId(msgspec.Struct):
    id: str


# A replay's answer is the stored first one: only its id is read from it.
_replayed_id = msgspec.json.Decoder(_EntryId)


def _clean_body(html: str) -> str:
    body = clean_html(html)
    if len(body.encode()) > MAX_BODY_BYTES:
        raise InvalidField("$.body", f"must be at most {MAX_BODY_BYTES} bytes after sanitising")
    return body


def _published_at(value: datetime, path: str = "$.published_at") -> datetime:
    """In UTC, bounded in UTC: ``1970-01-01T00:00:00+23:59`` is in 1969."""
    if not EARLIEST_PUBLISHED <= value < LATEST_PUBLISHED:  # aware: compared as UTC instants
        raise InvalidField(path, "must be between the years 1970 and 2999 in UTC")
    return value.astimezone(UTC)


def fingerprint(raw_request: bytes) -> str:
    return hashlib.sha256(raw_request).hexdigest()


async def create_blog(
    engine: Engine,
    data: BlogCreate,
    *,
    by: Actor = record.SYSTEM,
    defaults: blogs.Defaults = blogs.ENGLISH_UTC,
) -> Blog:
    """A new blog: checked, and what it does not say taken from ``defaults`` (the settings'
    ``Defaults.of(settings)`` in the API, the command line and the demo)."""
    data = blogs.checked(data)
    now = utcnow()
    blog = Blog(data.slug, data.title, data.description, data.status, now, now,
                language=data.language or defaults.language,
                time_zone=data.time_zone or defaults.time_zone)  # fmt: skip
    detail = {"title": blog.title, "status": blog.status}
    audit = record.audit_event("blog.created", by, blog=blog.slug, detail=detail, at=now)
    return await engine.create_blog(blog, new_epoch(), audit)


async def update_blog(
    engine: Engine, slug: str, patch: BlogPatch, *, by: Actor = record.SYSTEM
) -> Blog:
    patch = blogs.checked(patch)
    blog = await engine.get_blog(slug)
    if blog is None:
        raise BlogNotFound(slug)
    changes = given_fields(patch)
    stored = msgspec.structs.replace(blog, **changes, updated_at=utcnow(), last_event_id="")
    changed = {k: v for k, v in changes.items() if getattr(blog, k) != v}
    audit = record.audit_event("blog.updated", by, blog=slug, detail=changed, at=stored.updated_at)
    applied = await engine.apply(
        slug,
        Change(
            event=events.template("blog.updated", slug, stored),
            blog=encoder.encode(stored),
            audit=audit,
            search=SearchTerms(stored.language),  # a new language: the index is made anew
        ),
    )
    search.remember_language(engine, slug, stored.language)
    return msgspec.structs.replace(stored, last_event_id=str(applied.position))


def _check_published_at(value: datetime, now: datetime) -> None:
    if value > now + FUTURE_SLACK:
        raise InvalidField(
            "$.published_at",
            'is in the future: to publish later, use "status": "scheduled" with "publish_at"',
        )


def _publish_at(value: datetime | None, now: datetime) -> datetime:
    if value is None:
        raise InvalidField("$.publish_at", 'is required with "status": "scheduled"')
    value = _published_at(value, "$.publish_at")
    if value <= now:
        raise InvalidField("$.publish_at", "must be in the future")
    return value


def _byline(
    author: str | None, authors: list[Byline] | None, token: Token | None
) -> tuple[str | None, list[Byline]]:
    """(author, authors): either names the other when only one is sent. A byline that is the
    signed-in person's name gets their avatar."""
    if authors:
        return author or ", ".join(a.name for a in authors), authors
    if not author:
        return author, []
    avatar = token.avatar_url if token is not None and token.name == author else None
    return author, [Byline(author, avatar)]


def _keys(entry: Entry) -> dict[str, Any]:
    """Where a stored entry is listed: the readers' timeline, or the newsroom's pending list
    (and the schedule)."""
    if entry.published:
        return {"order_key": entry.order_key}
    due = entry.publish_at.timestamp() if entry.status == "scheduled" and entry.publish_at else None
    return {"pending_key": entry.order_key, "scheduled_at": due}


listing = _keys  # for an import, which lists entries as any change does


def _old_keys(entry: Entry) -> dict[str, Any]:
    if entry.published:
        return {"old_order_key": entry.order_key}
    return {"old_pending_key": entry.order_key}


def _events(slug: str, before: Entry | None, after: Entry | None) -> dict[str, Any]:
    """What readers and the newsroom hear of a change: readers only ever see published
    entries; the newsroom hears of every change to the others (and of their publication)."""
    was = before is not None and before.published
    now = after is not None and after.published
    public = newsroom = None
    if now:
        public = events.template("entry.updated" if was else "entry.created", slug, after)
    elif was:
        assert before is not None
        public = events.template("entry.deleted", slug, {"id": before.id})
    if after is None:
        if before is not None and not was:
            newsroom = events.template("entry.deleted", slug, {"id": before.id})
    elif not now or (before is not None and not was):  # not for readers, or its publication
        kind: EventType = "entry.created" if before is None else "entry.updated"
        newsroom = events.template(kind, slug, after)
    return {"event": public, "newsroom_event": newsroom}


async def create_entry(
    engine: Engine,
    slug: str,
    data: EntryCreate,
    *,
    token: Token | None = None,
    idempotency_key: str | None = None,
    raw_request: bytes = b"",
) -> Created:
    """Create an entry (with ``idempotency_key``, once: a repeat gets the first answer)."""
    now = utcnow()
    status = data.status
    if token is not None and not token.may_publish:
        status = "submitted"  # a contributor's entry waits for an editor, whatever it asks
    publish_at = None
    if status == "scheduled":
        publish_at = published_at = _publish_at(data.publish_at, now)
    elif data.publish_at is not None and token is not None and token.may_publish:
        raise InvalidField("$.publish_at", 'is only for "status": "scheduled"')
    elif data.published_at is None:
        published_at = now
    else:
        published_at = _published_at(data.published_at)
        if status == "published":
            _check_published_at(published_at, now)
    author, authors = _byline(data.author, data.authors, token)
    entry = Entry(
        id=new_entry_id(),
        blog=slug,
        version=1,
        published_at=published_at,
        updated_at=None,
        headline=data.headline,
        body=_clean_body(data.body),
        author=author,
        labels=data.labels,
        pinned=data.pinned,
        media=data.media,
        status=status,
        publish_at=publish_at,
        authors=authors,
        created_by=None if token is None else token.id or None,
    )
    encoded = encoder.encode(entry)
    idem = None
    if idempotency_key is not None:
        idem = Idempotency(idempotency_key, fingerprint(raw_request), encoded)
    applied = await engine.apply(
        slug,
        Change(
            **_events(slug, None, entry),
            entry_id=entry.id,
            entry=encoded,
            entry_version=1,
            **_keys(entry),
            expect_version=0,
            idempotency=idem,
            **record.entry_record(slug, record.actor(token), None, entry),
            search=await search.terms_of(engine, slug, entry),
        ),
    )
    if applied.replay is not None:
        return Created(applied.replay, True, _replayed_id.decode(applied.replay).id)
    return Created(encoded, False, entry.id)


async def update_entry(
    engine: Engine,
    slug: str,
    entry_id: str,
    patch: EntryPatch,
    if_match: int | None,
    *,
    token: Token | None = None,
) -> Entry:
    current = await _existing_entry(engine, slug, entry_id)
    roles.require_may_change_entry(token, current)
    if if_match is not None and if_match != current.version:
        raise VersionConflict(current.version)
    now = utcnow()
    changes: dict[str, Any] = given_fields(patch)  # each field checked below, by its name
    correction = changes.pop("correction", None)
    if token is not None and not token.may_publish:
        if changes.get("status") in ("published", "scheduled"):
            raise NotAllowed("A contributor may not publish: an editor approves its entries.")
        if "note" in changes:
            raise NotAllowed("Only editors write notes to contributors.")
        changes["status"] = "submitted"
        changes.pop("publish_at", None)
    if "body" in changes:
        changes["body"] = _clean_body(changes["body"])
    if "authors" in changes or "author" in changes:
        author = changes.get("author", None if "authors" in changes else current.author)
        changes["author"], changes["authors"] = _byline(author, changes.get("authors"), token)
    if "published_at" in changes:
        changes["published_at"] = _published_at(changes["published_at"])
    status = changes.get("status", current.status)
    if status == "scheduled":
        if "publish_at" in changes or current.status != "scheduled":
            changes["publish_at"] = _publish_at(changes.get("publish_at", current.publish_at), now)
        changes["published_at"] = changes.get("publish_at", current.publish_at)
    else:
        if changes.get("publish_at") is not None:
            raise InvalidField("$.publish_at", 'is only for "status": "scheduled"')
        changes["publish_at"] = None
    if status == "published":
        if not current.published and "published_at" not in changes:
            changes["published_at"] = now  # published at this moment
        if "published_at" in changes:
            _check_published_at(changes["published_at"], now)
        changes["note"] = None
    if correction is not None:
        changes["corrections"] = [*current.corrections, Correction(now, correction)]
    # Published at this moment: readers see a new entry (entry.created), not an edited one.
    updated_at = None if status == "published" and not current.published else now
    entry = msgspec.structs.replace(
        current, **changes, version=current.version + 1, updated_at=updated_at
    )
    encoded = encoder.encode(entry)
    await engine.apply(
        slug,
        Change(
            **_events(slug, current, entry),
            entry_id=entry.id,
            entry=encoded,
            entry_version=entry.version,
            **_keys(entry),
            **_old_keys(current),
            expect_version=current.version,
            **record.entry_record(slug, record.actor(token), current, entry),
            search=await search.terms_of(engine, slug, entry),
        ),
    )
    return entry


async def publish_due(engine: Engine, slug: str, entry_id: str) -> Entry | None:
    """Publish a scheduled entry whose time has come, if no one did: claimed atomically, so
    it happens once across processes. None if another process (or an editor) was first."""
    current = await engine.get_entry(slug, entry_id)
    if current is None or current.status != "scheduled":
        return None
    entry = msgspec.structs.replace(
        current,
        status="published",
        publish_at=None,
        version=current.version + 1,
        updated_at=None,
        note=None,
    )
    try:
        await engine.apply(
            slug,
            Change(
                **_events(slug, current, entry),
                entry_id=entry.id,
                entry=encoder.encode(entry),
                entry_version=entry.version,
                **_keys(entry),
                **_old_keys(current),
                expect_version=current.version,
                claim=True,
                **record.entry_record(slug, record.SCHEDULER, current, entry),
                search=await search.terms_of(engine, slug, entry),
            ),
        )
    except (NotScheduled, VersionConflict, EntryNotFound):
        return None
    return entry


_DELETE_TRIES = 16  # an entry edited that often while it is being deleted: 503, try again


async def delete_entry(
    engine: Engine, slug: str, entry_id: str, *, token: Token | None = None
) -> None:
    """Delete whatever version is current: an edit in between is read again (and checked
    again), so the history's last revision is the delete of the version it followed."""
    for _ in range(_DELETE_TRIES):
        current = await _existing_entry(engine, slug, entry_id)
        roles.require_may_change_entry(token, current)
        by = record.actor(token)
        try:
            await engine.apply(
                slug,
                Change(
                    **_events(slug, current, None),
                    entry_id=entry_id,
                    entry=None,
                    **_old_keys(current),
                    expect_version=current.version,
                    **record.entry_record(slug, by, current, None, version=current.version + 1),
                    search=await search.terms_of(engine, slug, None),
                ),
            )
            return
        except VersionConflict:
            continue
    raise EngineUnavailable("the entry kept changing while it was deleted: try again")


class RevisionNotFound(Exception):
    """No such version of the entry is kept (API: 404)."""


async def entry_history(engine: Engine, slug: str, entry_id: str) -> list[Revision]:
    """The entry's revisions, oldest first; EntryNotFound if it never existed. An entry from
    before revisions were kept gets its current version as its history's last."""
    stored = await engine.revisions(slug, entry_id)
    if stored is None:
        raise BlogNotFound(slug)
    revisions = [record.decode_revision(raw) for raw in stored]
    current = await engine.get_entry(slug, entry_id)
    if current is not None and (not revisions or revisions[-1].version != current.version):
        at = current.updated_at or current.published_at
        by = Actor(current.created_by, "")
        revisions.append(Revision(current.version, at, by, current, "entry.updated"))
    if not revisions:
        raise EntryNotFound(entry_id)
    return revisions


def _restorable(revisions: list[Revision], version: int) -> Entry:
    for revision in revisions:
        if revision.version == version and revision.entry is not None:
            return revision.entry
    raise RevisionNotFound(version)


async def restore_entry(
    engine: Engine,
    slug: str,
    entry_id: str,
    version: int,
    if_match: int | None,
    *,
    correction: str | None = None,
    token: Token | None = None,
) -> Entry:
    """A new version with the content of ``version`` (headline, text, byline, labels,
    photos): an edit like any other. The entry keeps its status, time, pin and corrections.
    A deleted entry comes back as that version was, status and all."""
    revisions = await entry_history(engine, slug, entry_id)
    old = _restorable(revisions, version)
    current = await engine.get_entry(slug, entry_id)
    latest = current.version if current is not None else revisions[-1].version
    if if_match is not None and if_match != latest:
        raise VersionConflict(latest)
    now = utcnow()
    if current is None:
        restored = msgspec.structs.replace(old, version=latest + 1, updated_at=now, blog=slug)
        if restored.status == "scheduled" and (
            restored.publish_at is None or restored.publish_at <= now
        ):
            restored = msgspec.structs.replace(restored, status="draft", publish_at=None)
    else:
        content = {field: getattr(old, field) for field in record.CONTENT_FIELDS}
        content["pinned"] = current.pinned  # its place on the page stays
        restored = msgspec.structs.replace(current, **content, version=latest + 1, updated_at=now)
    if correction is not None:
        restored = msgspec.structs.replace(
            restored, corrections=[*restored.corrections, Correction(now, correction)]
        )
    encoded = encoder.encode(restored)
    await engine.apply(
        slug,
        Change(
            **_events(slug, current, restored),
            entry_id=entry_id,
            entry=encoded,
            entry_version=restored.version,
            **_keys(restored),
            **(_old_keys(current) if current is not None else {}),
            expect_version=latest if current is not None else 0,
            **record.entry_record(
                slug, record.actor(token), current, restored, restored_from=version
            ),
            search=await search.terms_of(engine, slug, restored),
        ),
    )
    return restored


async def _existing_entry(engine: Engine, slug: str, entry_id: str) -> Entry:
    entry = await engine.get_entry(slug, entry_id)
    if entry is None:
        if await engine.position(slug) is None:
            raise BlogNotFound(slug)
        raise EntryNotFound(entry_id)
    return entry


__all__ = [
    "Applied",
    "Created",
    "InvalidField",
    "NotAllowed",
    "RevisionNotFound",
    "create_blog",
    "create_entry",
    "delete_entry",
    "entry_history",
    "fingerprint",
    "publish_due",
    "restore_entry",
    "update_blog",
    "update_entry",
]
