"""Entries: create (idempotent), edit (If-Match), delete, and the timeline."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response

from liveblog.api import auth
from liveblog.api.body import invalid
from liveblog.api.guards import blog_write, json_body
from liveblog.api.openapi import BEFORE, IDEMPOTENCY_KEY, IF_MATCH, LIMIT, WRITE, operation, param
from liveblog.api.responses import json_response
from liveblog.editorial import editing, embeds
from liveblog.editorial import search as searching
from liveblog.editorial.refusals import NotAllowed
from liveblog.engine.base import NewerPage
from liveblog.media import known
from liveblog.media.storage import storage_of
from liveblog.models import (
    ENTRY_ID_PATTERN,
    Entry,
    EntryCreate,
    EntryPatch,
    SearchResults,
    Timeline,
    TimelineWindow,
    decode_cursor,
    encode_cursor,
    newsroom_channel,
    parse_decimal,
)
from liveblog.problems import Problem

_STATUSES = ("draft", "submitted", "scheduled")
# What readers see may be read from any origin (the embed frame; a sandboxed one has none).
# Never with credentials: a token is a header, which a cross-origin page cannot send unasked.
PUBLIC_READ = {"Access-Control-Allow-Origin": "*"}
T = TypeVar("T")

_AROUND = param(
    "around",
    "query",
    {"type": "string"},
    "an entry id: the page holding it, however old (a TimelineWindow)",
)
_AFTER = param(
    "after",
    "query",
    {"type": "string"},
    "a `newer` cursor this API returned: the entries just newer (a TimelineWindow)",
)
_STATUS = param(
    "status", "query", {"enum": ["published", *_STATUSES, "all"]}, "not published: token required"
)
_QUERY = param("q", "query", {"type": "string", "maxLength": 200},
               "search: entries that hold every word (a page of them and `total`); with "
               "status=all and a token, of every status")  # fmt: skip

_MAX_IDEMPOTENCY_KEY = 255


def _entry_headers(slug: str, entry_id: str, version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"', "Location": f"/api/blogs/{slug}/entries/{entry_id}"}


@operation(
    "Publish an entry (Idempotency-Key honoured)",
    status=201,
    answer=Entry,
    body=EntryCreate,
    auth=True,
    errors=WRITE,
    params=(IDEMPOTENCY_KEY,),
)
async def create_entry(request: Request) -> Response:
    slug = request.path_params["slug"]
    # One store call when the token is known here: the write itself finds a missing blog.
    async with blog_write(request, slug) as token:
        key = request.headers.get("idempotency-key")
        if key is not None and not (0 < len(key) <= _MAX_IDEMPOTENCY_KEY and key.isprintable()):
            raise invalid(
                "Idempotency-Key", f"must be 1-{_MAX_IDEMPOTENCY_KEY} printable characters"
            )
        data, raw = await json_body(request, EntryCreate)
        settings = request.app.state.settings
        data = embeds.checked(data, settings.mastodon_hosts)
        data = await known.filled(data, storage_of(request.app.state), settings)
        created = await _allowed(
            editing.create_entry(
                request.app.state.engine, slug, data, token=token, idempotency_key=key,
                raw_request=raw,
            )
        )  # fmt: skip
    headers = _entry_headers(slug, created.entry_id, 1)
    if created.replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(created.encoded, 201, headers)


def parse_if_match(value: str | None) -> int | None:
    """``"3"``, ``W/"3"`` or ``3`` -> 3; ``*`` or absent -> None (no check). Anything else is
    version 0, which no entry has: it fails like a stale version (412), and only where a
    request without it would have succeeded (a missing entry is 404, as RFC 9110 wants)."""
    if value is None or value.strip() == "*":
        return None
    version = parse_decimal(value.strip().removeprefix("W/").strip('"'), 18)
    return 0 if version is None else version


@operation(
    "Edit an entry (If-Match)",
    answer=Entry,
    body=EntryPatch,
    auth=True,
    errors=(*WRITE, 412),
    params=(IF_MATCH,),
)
async def update_entry(request: Request) -> Response:
    slug, entry_id = request.path_params["slug"], request.path_params["entry_id"]
    async with blog_write(request, slug) as token:  # the entry's read finds a missing blog
        if_match = parse_if_match(request.headers.get("if-match"))
        patch, _ = await json_body(request, EntryPatch)
        settings = request.app.state.settings
        patch = embeds.checked(patch, settings.mastodon_hosts)
        patch = await known.filled(patch, storage_of(request.app.state), settings)
        engine = request.app.state.engine
        entry = await _allowed(
            editing.update_entry(engine, slug, entry_id, patch, if_match, token=token)
        )
    return json_response(entry, 200, _entry_headers(slug, entry.id, entry.version))


@operation("Delete an entry", status=204, auth=True, errors=WRITE)
async def delete_entry(request: Request) -> Response:
    slug, entry_id = request.path_params["slug"], request.path_params["entry_id"]
    async with blog_write(request, slug, with_body=False) as token:
        engine = request.app.state.engine
        await _allowed(editing.delete_entry(engine, slug, entry_id, token=token))
    return Response(status_code=204)


@operation("Read an entry", answer=Entry, errors=(404,))
async def get_entry(request: Request) -> Response:
    slug, entry_id = request.path_params["slug"], request.path_params["entry_id"]
    engine = request.app.state.engine
    entry: Entry | None = await engine.get_entry(slug, entry_id)
    if entry is not None and not entry.published and not await _is_staff(request, slug):
        entry = None  # readers learn nothing of entries that are not published
    if entry is None:
        if await engine.position(slug) is None:
            raise Problem(404, f"No blog {slug!r} exists.")
        raise Problem(404, f"No entry {entry_id!r} exists in this blog.")
    headers = _entry_headers(slug, entry.id, entry.version)
    if entry.published:
        headers |= PUBLIC_READ
    return json_response(entry, headers=headers)


def _cursor(order_key: str | None) -> str | None:
    return None if order_key is None else encode_cursor(order_key)


def _order_key(cursor: str, parameter: str = "before") -> str:
    key = decode_cursor(cursor)
    if key is None:
        raise invalid(parameter, "is not a cursor this API returned")
    return key


async def _around(request: Request, slug: str, entry_id: str, limit: int) -> Response:
    """The page that starts with one entry, however old (it, then older ones), and what is
    newer: a reader page opened at ``#entry-<id>`` shows it without reading everything above,
    and loads the newer ones (``?after=``) when the reader asks."""
    if ENTRY_ID_PATTERN.match(entry_id) is None:
        raise invalid("around", "is not an entry id")
    engine = request.app.state.engine
    entry: Entry | None = await engine.get_entry(slug, entry_id)
    if entry is None or not entry.published:  # readers learn nothing of other entries
        if await engine.position(slug) is None:
            raise Problem(404, f"No blog {slug!r} exists.")
        raise Problem(404, f"No entry {entry_id!r} exists in this blog.")
    above = await engine.newer(slug, 0, entry.order_key)  # only how many
    # "~" after the key: the page starts with the entry itself.
    page = await engine.timeline(slug, limit, entry.order_key + "~")
    return _window(page.entries, above.remaining, page.next_key, above)


async def _after(request: Request, slug: str, key: str, limit: int) -> Response:
    """The ``limit`` entries just newer than a cursor, newest first."""
    found = await request.app.state.engine.newer(slug, limit, key)
    return _window(found.entries, found.remaining, found.entries[-1].order_key if found.entries
                   else key, found)  # fmt: skip


def _window(
    entries: list[Entry], newer_count: int, next_key: str | None, read: NewerPage
) -> Response:
    newer = _cursor(entries[0].order_key) if entries and newer_count else None
    window = TimelineWindow(entries, _cursor(next_key), str(read.position), newer,
                            newer_count)  # fmt: skip
    return json_response(window, headers=PUBLIC_READ)


@operation(
    "The timeline, newest first; with a token, ?status= lists the entries readers do not see",
    answer=Timeline,
    errors=(401, 403, 404, 422),
    mentions=(TimelineWindow,),
    params=(LIMIT, BEFORE, _AROUND, _AFTER, _STATUS, _QUERY),
)
async def timeline(request: Request) -> Response:
    slug = request.path_params["slug"]
    limit = parse_decimal(request.query_params.get("limit", "20"), 3)
    if limit is None or not 1 <= limit <= 100:
        raise invalid("limit", "must be a whole number from 1 to 100")
    before = request.query_params.get("before")
    status = request.query_params.get("status")
    around, after = request.query_params.get("around"), request.query_params.get("after")
    given = [name for name, value in (("before", before), ("around", around), ("after", after))
             if value is not None]  # fmt: skip
    if len(given) > 1:
        raise invalid(given[1], f"cannot be combined with {given[0]}")
    if (around is not None or after is not None) and status not in (None, "published"):
        raise invalid("status", "must be published with around or after")
    query = request.query_params.get("q")
    if query is not None:
        if around is not None or after is not None:
            raise invalid("q", "cannot be combined with around or after")
        return await _search(request, slug, query, status, limit, before)
    if around is not None:
        return await _around(request, slug, around, limit)
    if after is not None:
        return await _after(request, slug, _order_key(after, "after"), limit)
    if status is not None and status != "published":
        return await _workflow(request, slug, status, limit, before)
    page = await request.app.state.engine.timeline(
        slug, limit, _order_key(before) if before else None
    )
    timeline = Timeline(page.entries, _cursor(page.next_key), str(page.position))
    return json_response(timeline, headers=PUBLIC_READ)


async def _workflow(
    request: Request, slug: str, status: str, limit: int, before: str | None
) -> Response:
    """The entries readers do not see, for the blog's staff: ``last_event_id`` is the
    newsroom stream's position (``GET /api/blogs/{slug}/newsroom/events`` resumes from it)."""
    wanted = set(_STATUSES) if status == "all" else {status}
    if not wanted <= set(_STATUSES):
        raise invalid("status", "must be one of published, draft, submitted, scheduled, all")
    _, token = await auth.authenticate(request)
    engine = request.app.state.engine
    position = await engine.position(newsroom_channel(slug))
    if position is None:
        raise Problem(404, f"No blog {slug!r} exists.")
    auth.require_editor_of(token, slug)
    key = _order_key(before) if before else None
    entries = [
        e
        for e in await engine.pending(slug)
        if e.status in wanted and (key is None or e.order_key < key)
    ]
    page, more = entries[:limit], len(entries) > limit
    next_key = page[-1].order_key if more else None
    return json_response(
        Timeline(page, _cursor(next_key), str(position)),
        headers={"Cache-Control": "no-store"},
    )


async def _search(
    request: Request, slug: str, text: str, status: str | None, limit: int, before: str | None
) -> Response:
    """``?q=``: the entries that hold every word, published ones; with ``status=all`` and a
    token of the blog's staff, those of every status."""
    if status not in (None, "published", "all"):
        raise invalid("status", "must be published or all with q")
    everything = status == "all"
    token = (await auth.authenticate(request))[1] if everything else None
    engine = request.app.state.engine
    blog = await engine.get_blog(slug)
    if blog is None:
        raise Problem(404, f"No blog {slug!r} exists.")
    if token is not None:
        auth.require_editor_of(token, slug)
    try:
        query = searching.parse_query(text, blog.language)
    except searching.InvalidQuery as exc:
        raise invalid("q", str(exc)) from None
    key = _order_key(before) if before else None
    page = await searching.search(engine, blog, query, limit, key, everything=everything)
    results = SearchResults(
        page.entries, _cursor(page.next_key), str(page.position), total=page.total
    )
    # Readers' results are public, like the timeline; the staff's are for them only.
    return json_response(
        results, headers={"Cache-Control": "no-store"} if everything else PUBLIC_READ
    )


async def _is_staff(request: Request, slug: str) -> bool:
    """Whether the request carries a valid token that may work on this blog."""
    if "authorization" not in request.headers:
        return False
    try:
        _, token = await auth.authenticate(request)
    except Problem:
        return False
    return token.may_edit(slug)


async def _allowed(work: Awaitable[T]) -> T:
    try:
        return await work
    except NotAllowed as exc:
        raise Problem(403, str(exc)) from None
