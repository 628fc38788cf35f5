"""The record: an entry's revisions and their restore, deleted entries, the audit log, and a
blog's export and import (docs/api.md, "The record")."""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import tempfile

import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from liveblog.api import auth
from liveblog.api.body import check_length, decode, invalid, read_body
from liveblog.api.entries import parse_if_match
from liveblog.api.guards import editor_write
from liveblog.api.openapi import BEFORE, IF_MATCH, LIMIT, WRITE, operation, param, ref
from liveblog.api.responses import json_response
from liveblog.editorial import editing, record, roles, transfer
from liveblog.engine.base import Engine, EntryNotFound
from liveblog.models import (
    SLUG_PATTERN,
    AuditEvent,
    AuditPage,
    Blog,
    DeletedEntry,
    DeletedList,
    Entry,
    RestoreRequest,
    RevisionList,
    Token,
    parse_decimal,
)
from liveblog.problems import FieldError, Problem

_NO_STORE = {"Cache-Control": "no-store"}
_ENTRY_ID = re.compile(r"^[0-9a-z]{1,64}\Z")
_TOKEN_ID = re.compile(r"^[0-9a-f]{1,64}\Z")
_MAX_AUDIT_PAGE = 200
_AUDIT_SCAN = 5000  # events one page may look through for a person's (then: `next` goes on)
_DELETED_LIST = 50
_audit_decoder = msgspec.json.Decoder(AuditEvent)


# --- revisions -------------------------------------------------------------------------------


async def _staff(request: Request, slug: str, *, limited: bool = False) -> Token:
    """401, then 404 (no blog), then 403: a token that works on this blog (``limited``: and
    counts against its rate, for reads that cost as much as writes)."""
    token_hash, token = await auth.authenticate(request)
    if await request.app.state.engine.position(slug) is None:
        raise Problem(404, f"No blog {slug!r} exists.")
    auth.require_editor_of(token, slug)
    if limited:
        request.app.state.rate_limiter.check(token_hash)
    return token


# The smallest export, as the document's example: a blog with no entries (its header, its end).
_EXAMPLE = (
    '{"type":"blog","format":"liveblog-export","version":1,"blog":{"slug":"imported",'
    '"title":"Imported","description":"","status":"ended","created_at":"2024-06-01T08:00:00Z",'
    '"updated_at":"2024-06-01T08:00:00Z"}}\n{"type":"end","entries":0}\n'
)


def _entry_id(request: Request) -> str:
    entry_id: str = request.path_params["entry_id"]
    if _ENTRY_ID.match(entry_id) is None:
        raise Problem(404, f"No entry {entry_id[:64]!r} exists in this blog.")
    return entry_id


@operation(
    "An entry's versions, oldest first (and its delete)",
    answer=RevisionList,
    auth=True,
    errors=(401, 403, 404, 503),
)
async def revisions(request: Request) -> Response:
    """Every kept version of an entry, oldest first, and its delete (``entry: null``)."""
    slug = request.path_params["slug"]
    token = await _staff(request, slug)
    entry_id = _entry_id(request)
    history = await editing.entry_history(request.app.state.engine, slug, entry_id)
    written = next((r.entry for r in reversed(history) if r.entry), None)
    auth.allowed(roles.require_may_read_history, token, written)
    return json_response(RevisionList(history), headers=_NO_STORE)


@operation(
    "A new version with that version's content (If-Match)",
    answer=Entry,
    auth=True,
    errors=(*WRITE, 412),
    params=(IF_MATCH,),
    mentions=(RestoreRequest,),
    request_body={
        "required": False,
        "content": {"application/json": {"schema": ref(RestoreRequest)}},
    },
)
async def restore(request: Request) -> Response:
    """A new version with an older version's content (an edit: If-Match, entry.updated)."""
    slug = request.path_params["slug"]
    has_body = request.headers.get("content-length", "0").strip() not in ("", "0") or (
        "transfer-encoding" in request.headers
    )
    token = await editor_write(request, slug, with_body=has_body)
    auth.allowed(roles.require_may_publish, token, "restores a version")
    entry_id = _entry_id(request)
    version = parse_decimal(request.path_params["version"], 18)
    if version is None or version < 1:
        raise Problem(404, "No such version of this entry is kept.")
    body = decode(await read_body(request), RestoreRequest) if has_body else RestoreRequest()
    correction = body.correction if isinstance(body.correction, str) else None
    try:
        entry = await editing.restore_entry(
            request.app.state.engine, slug, entry_id, version,
            parse_if_match(request.headers.get("if-match")),
            correction=correction, token=token,
        )  # fmt: skip
    except editing.RevisionNotFound:
        raise Problem(404, f"Version {version} of this entry is not kept.") from None
    headers = {"ETag": f'"{entry.version}"', "Location": f"/api/blogs/{slug}/entries/{entry.id}"}
    return json_response(entry, 200, headers)


@operation(
    "The latest deleted entries, with who deleted them",
    answer=DeletedList,
    auth=True,
    errors=(401, 403, 404, 503),
)
async def deleted(request: Request) -> Response:
    """The blog's latest deleted entries (for the console's way back to them)."""
    slug = request.path_params["slug"]
    token = await _staff(request, slug)
    engine: Engine = request.app.state.engine
    found = []
    for entry_id, _ in await engine.deleted_entries(slug, _DELETED_LIST):
        try:
            history = await editing.entry_history(engine, slug, entry_id)
        except EntryNotFound:
            continue
        last = history[-1]
        if last.entry is not None:
            continue  # restored meanwhile
        shown = next((r.entry for r in reversed(history) if r.entry is not None), None)
        if not roles.may_see_record(token, shown):
            continue  # a contributor sees its own
        found.append(DeletedEntry(entry_id, last.at, last.by, shown))
    return json_response(DeletedList(found), headers=_NO_STORE)


# --- the audit log ---------------------------------------------------------------------------


def _encode_cursor(key: tuple[int, int, str]) -> str:
    ms, seq, source = key
    return base64.urlsafe_b64encode(f"{ms}-{seq}:{source}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[int, int, str]:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        stamp, _, source = text.partition(":")
        ms, _, seq = stamp.partition("-")
        key = (int(ms), int(seq), source)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid("before", "is not a cursor this API returned") from None
    if not (0 <= key[0] < 2**63 and 0 <= key[1] < 2**63) or len(source) > 80:
        raise invalid("before", "is not a cursor this API returned")
    return key


@operation(
    "The audit log, newest first (admin)",
    answer=AuditPage,
    auth=True,
    errors=(401, 403, 422, 429, 503),
    params=(
        param("blog", "query", {"type": "string"}, "one blog's events"),
        param("by", "query", {"type": "string"}, "one person's events (a token id)"),
        {**LIMIT, "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
        BEFORE,
    ),
)
async def audit(request: Request) -> Response:
    """``GET /api/audit?blog=&by=&limit=&before=`` (admin): newest first."""
    token_hash, token = await auth.authenticate(request)
    auth.require_admin(token)
    request.app.state.rate_limiter.check(token_hash)
    query = request.query_params
    limit = parse_decimal(query.get("limit", "50"), 3)
    if limit is None or not 1 <= limit <= _MAX_AUDIT_PAGE:
        raise invalid("limit", f"must be a whole number from 1 to {_MAX_AUDIT_PAGE}")
    blog = query.get("blog") or None
    if blog is not None and SLUG_PATTERN.match(blog) is None:
        raise invalid("blog", "is not a blog name")
    by = query.get("by") or None
    if by is not None and _TOKEN_ID.match(by) is None:
        raise invalid("by", "is not a token id")
    before = _decode_cursor(query["before"]) if query.get("before") else None
    engine: Engine = request.app.state.engine
    events: list[AuditEvent] = []
    scanned, step = 0, limit if by is None else 200
    exhausted = False
    while len(events) < limit and scanned < _AUDIT_SCAN:
        records = await engine.audit_log(blog, before, step)
        for item in records:
            before = item.key
            scanned += 1
            event = _audit_decoder.decode(item.event)
            if by is None or event.by.token_id == by:
                events.append(event)
                if len(events) == limit:
                    break
        if len(records) < step:  # the log holds nothing past this batch
            exhausted = not records or before == records[-1].key
            break
    cursor = None if exhausted or before is None else _encode_cursor(before)
    return json_response(AuditPage(events, cursor), headers=_NO_STORE)


# --- export and import -----------------------------------------------------------------------


@operation(
    "The blog as NDJSON: the blog, every entry with its revisions, photos",
    auth=True,
    errors=(401, 403, 404, 503),
    content={"application/x-ndjson": {"schema": {"type": "string"}}},
)
async def export(request: Request) -> Response:
    """The blog as NDJSON, streamed as it is read (editor or admin of the blog)."""
    slug = request.path_params["slug"]
    token = await _staff(request, slug, limited=True)
    auth.allowed(roles.require_may_publish, token, "exports a blog")
    lines = await transfer.export_blog(request.app.state.engine, slug)
    headers = {
        **_NO_STORE,
        "Content-Disposition": f'attachment; filename="{slug}.ndjson"',
    }
    return StreamingResponse(lines, media_type=transfer.MEDIA_TYPE, headers=headers)


@operation(
    "Import an export as a new blog (?slug= another name); 409 if it exists",
    status=201,
    answer=Blog,
    auth=True,
    errors=(*WRITE, 409),
    params=(param("slug", "query", {"type": "string"}),),
    request_body={
        "required": True,
        "content": {"application/x-ndjson": {"schema": {"type": "string"}, "example": _EXAMPLE}},
    },
)
async def import_blog(request: Request) -> Response:
    """``POST /api/blogs/import[?slug=NEW]`` (admin): the body is an export. It is read to a
    temporary file first (bounded by LIVEBLOG_MAX_IMPORT_BYTES), checked whole, then written."""
    limit: int = request.app.state.settings.max_import_bytes
    too_large = f"The export is over {limit} bytes (LIVEBLOG_MAX_IMPORT_BYTES)."
    check_length(request, limit, too_large)
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type not in (transfer.MEDIA_TYPE, "application/jsonl"):
        raise Problem(415, f"Send the export as {transfer.MEDIA_TYPE}.")
    token_hash, token = await auth.authenticate(request)
    auth.require_admin(token)
    request.app.state.rate_limiter.check(token_hash)
    slug = request.query_params.get("slug") or None
    with tempfile.TemporaryFile(prefix="liveblog-import-") as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Problem(413, too_large)
            await asyncio.to_thread(spool.write, chunk)
        try:
            imported = await transfer.import_blog(
                request.app.state.engine,
                transfer.file_lines(spool),
                slug=slug,
                by=record.actor(token),
            )
        except transfer.ImportRefused as exc:
            path = f"line {exc.line}: {exc.path}" if exc.line else exc.path
            raise Problem(422, str(exc), errors=[FieldError(path, exc.message)]) from None
    blog = imported.blog
    return json_response(blog, 201, {"Location": f"/api/blogs/{blog.slug}"})
