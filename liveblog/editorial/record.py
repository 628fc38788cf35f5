"""The record of changes, as the engine stores it: revisions of entries and audit events.

Each change of an entry carries its revision (the whole entry as stored, who, when) and its
audit event (who did what, in a line) into the same atomic engine step as the change itself.
A revision is the entry's JSON, compressed with zlib when that is smaller (about half for a
typical entry: docs/benchmarks.md); the engine stores bytes and never reads them.
"""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any, TypedDict

import msgspec

from liveblog.models import (
    Actor,
    AuditAction,
    AuditEvent,
    Entry,
    Revision,
    Token,
    encoder,
    utcnow,
)

# The server's own actions: no token made them.
SCHEDULER = Actor(None, "scheduler")
COMMAND_LINE = Actor(None, "command line")
SYSTEM = Actor(None, "system")

_ZLIB_LEVEL = 1  # as small as level 6 for entries of a few KB, three times as fast
_MAX_REVISION_BYTES = 8 * 1024 * 1024  # what one stored revision may inflate to
_HEADLINE_CHARS = 120  # of an entry's headline, in an audit event's detail
_revision_decoder = msgspec.json.Decoder(Revision)
# Compared to tell which fields a change touched (what an audit event lists).
_CONTENT = ("headline", "body", "author", "authors", "labels", "pinned", "media")
_ENTRY_FIELDS = (*_CONTENT, "status", "published_at", "publish_at", "corrections", "note")


def actor(token: Token | None) -> Actor:
    return SYSTEM if token is None else Actor(token.id or None, token.name)


# --- revisions -------------------------------------------------------------------------------


def encode_revision(revision: Revision) -> bytes:
    raw = encoder.encode(revision)
    packed = zlib.compress(raw, _ZLIB_LEVEL)
    return packed if len(packed) < len(raw) else raw


def decode_revision(stored: bytes) -> Revision:
    """A stored revision: JSON (it starts with ``{``) or zlib (which never does)."""
    if stored[:1] != b"{":
        inflate = zlib.decompressobj()
        stored = inflate.decompress(stored, _MAX_REVISION_BYTES)
        if inflate.unconsumed_tail:
            raise ValueError("a stored revision inflates past its bound")
    return _revision_decoder.decode(stored)


def revision(
    version: int,
    by: Actor,
    entry: Entry | None,
    action: AuditAction,
    *,
    at: datetime | None = None,
    restored_from: int | None = None,
) -> bytes:
    return encode_revision(
        Revision(version, at or utcnow(), by, entry, action, restored_from=restored_from)
    )


# --- audit events ----------------------------------------------------------------------------


def audit_event(
    action: AuditAction,
    by: Actor,
    *,
    blog: str | None = None,
    entry: str | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> bytes:
    return encoder.encode(AuditEvent(at or utcnow(), by, action, blog, entry, detail or None))


def entry_action(before: Entry | None, after: Entry | None) -> AuditAction:
    """What a change of an entry was, for its revision and the audit log."""
    if after is None:
        return "entry.deleted"
    if before is None:
        return "entry.created"
    if after.published and not before.published:
        return "entry.published"
    if before.status == "submitted" and after.status == "draft":
        return "entry.returned"  # sent back to its contributor (only an editor can)
    return "entry.updated"


def changed_fields(before: Entry | None, after: Entry | None) -> list[str]:
    if before is None or after is None:
        return []
    return [f for f in _ENTRY_FIELDS if getattr(before, f) != getattr(after, f)]


def entry_detail(
    action: AuditAction, before: Entry | None, after: Entry | None, **extra: Any
) -> dict[str, Any]:
    """A line's worth of what happened: the version, the headline, the fields touched."""
    shown = after or before
    detail: dict[str, Any] = {}
    if after is not None:
        detail["version"] = after.version
    if shown is not None and shown.headline:
        detail["headline"] = shown.headline[:_HEADLINE_CHARS]
    if action == "entry.created" and after is not None:
        detail["status"] = after.status
    elif action == "entry.returned" and after is not None and after.note:
        detail["note"] = after.note
    elif action in ("entry.updated", "entry.restored") and (
        fields := changed_fields(before, after)
    ):
        detail["fields"] = fields
    return detail | extra


class EntryRecord(TypedDict):
    """The record's part of a ``Change`` of an entry (its fields of the same names)."""

    revision: bytes
    audit: bytes


def entry_record(
    slug: str,
    by: Actor,
    before: Entry | None,
    after: Entry | None,
    *,
    version: int | None = None,
    restored_from: int | None = None,
) -> EntryRecord:
    """The ``revision`` and ``audit`` of a Change of an entry (``version``: of a delete)."""
    action: AuditAction = "entry.restored" if restored_from else entry_action(before, after)
    shown = after or before
    assert shown is not None
    at = utcnow()
    number = after.version if after is not None else version
    assert number is not None
    extra = {"from_version": restored_from} if restored_from else {}
    if after is None:
        extra["version"] = number
    return {
        "revision": revision(number, by, after, action, at=at, restored_from=restored_from),
        "audit": audit_event(
            action, by, blog=slug, entry=shown.id, at=at,
            detail=entry_detail(action, before, after, **extra),
        ),
    }  # fmt: skip


CONTENT_FIELDS = _CONTENT
