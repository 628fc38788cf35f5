"""OpenAPI 3.1 description of the API, with schemas generated from the msgspec models."""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from liveblog import __version__
from liveblog.models import (
    SLUG_REGEX,
    AuditPage,
    Blog,
    BlogCreate,
    BlogList,
    BlogPatch,
    DeletedList,
    Entry,
    EntryCreate,
    EntryPatch,
    MediaUpload,
    Presence,
    PresenceUpdate,
    RestoreRequest,
    RevisionList,
    Timeline,
    TimelineWindow,
    Token,
    TokenCreate,
    TokenCreated,
    TokenList,
    TokenPatch,
)
from liveblog.problems import ProblemBody

_MODELS = [Blog, BlogCreate, BlogList, BlogPatch, Entry, EntryCreate, EntryPatch, MediaUpload,
           Presence, PresenceUpdate, Timeline, TimelineWindow, Token, TokenCreate, TokenCreated,
           TokenList, TokenPatch, ProblemBody]  # fmt: skip
_RECORD_MODELS = [AuditPage, DeletedList, RestoreRequest, RevisionList]
_IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")


def _ref(model: type) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _op(
    summary: str,
    ok: tuple[int, type | None],
    *,
    body: type | None = None,
    auth: bool = False,
    errors: tuple[int, ...] = (),
    params: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    status, model = ok
    responses: dict[str, Any] = {str(status): {"description": "OK"}}
    if model is not None:
        responses[str(status)]["content"] = {"application/json": {"schema": _ref(model)}}
    problem = {"application/problem+json": {"schema": _ref(ProblemBody)}}
    for code in errors:
        responses[str(code)] = {"description": "Problem", "content": problem}
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if params:
        op["parameters"] = list(params)
    if body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    if auth:
        op["security"] = [{"bearer": []}]
    return op


def _param(name: str, where: str, schema: dict[str, Any], about: str = "") -> dict[str, Any]:
    """An optional query or header parameter (path ones are required, and spelled out)."""
    param = {"name": name, "in": where, "required": False, "schema": schema}
    return param | {"description": about} if about else param


_WRITE = (400, 401, 403, 404, 413, 415, 422, 429, 503)


def _upload() -> dict[str, Any]:
    """POST media: the raw image is the body, not JSON."""
    op = _op("Upload a photo (at most 20 MiB); its sizes are stored and served", (201, MediaUpload),
             auth=True, errors=_WRITE)  # fmt: skip
    image = {"schema": {"type": "string", "format": "binary"}}
    op["requestBody"] = {"required": True, "content": dict.fromkeys(_IMAGE_TYPES, image)}
    return op


@functools.cache
def document() -> dict[str, Any]:
    from liveblog.ops.stats import Stats  # here: liveblog.ops.stats imports this package

    _, components = msgspec.json.schema_components(
        [*_MODELS, *_RECORD_MODELS, Stats], ref_template="#/components/schemas/{name}"
    )
    # Any other name is 404 on every route (liveblog/routes.py).
    slug_schema = {"type": "string", "pattern": f"^{SLUG_REGEX}$"}
    slug = {"name": "slug", "in": "path", "required": True, "schema": slug_schema}
    entry_id = {"name": "entry_id", "in": "path", "required": True, "schema": {"type": "string"}}
    token_id = {"name": "token_id", "in": "path", "required": True, "schema": {"type": "string"}}
    admin_read = (401, 403, 429, 503)
    limit = _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100})
    before = _param("before", "query", {"type": "string"}, "a `next` cursor this API returned")
    around = _param(
        "around",
        "query",
        {"type": "string"},
        "an entry id: the page holding it, however old (a TimelineWindow)",
    )
    after = _param(
        "after",
        "query",
        {"type": "string"},
        "a `newer` cursor this API returned: the entries just newer (a TimelineWindow)",
    )
    key = {"type": "string", "minLength": 1, "maxLength": 255}
    idempotency_key = _param("Idempotency-Key", "header", key, "1-255 printable characters")
    statuses = ["published", "draft", "submitted", "scheduled", "all"]
    status = _param("status", "query", {"enum": statuses}, "not published: token required")
    words = {"type": "string", "maxLength": 200}
    q = _param("q", "query", words, "search: entries that hold every word (a page of them and"
               " `total`); with status=all and a token, of every status")  # fmt: skip
    if_match = _param("If-Match", "header", {"type": "string"}, '"3", W/"3", 3 or *')
    return {
        "openapi": "3.1.0",
        "info": {"title": "liveblog", "version": __version__},
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/api/openapi.json": {
                "get": _op("This document", (200, None)),
            },
            "/api/me": {
                "get": _op("The calling token (never its secret)", (200, Token), auth=True,
                           errors=(401, 503)),
            },
            "/api/stats": {
                "get": _op("Readers, latency and blogs, summed over every server process",
                           (200, Stats), errors=(503,)),
            },
            "/api/tokens": {
                "get": _op("List tokens (never their secrets)", (200, TokenList), auth=True,
                           errors=admin_read),
                "post": _op("Issue a token (its secret is shown once)", (201, TokenCreated),
                            body=TokenCreate, auth=True, errors=_WRITE),
            },
            "/api/tokens/{token_id}": {
                "parameters": [token_id],
                "patch": _op("Change a person's name, avatar, role or blogs", (200, Token),
                             body=TokenPatch, auth=True, errors=(*_WRITE, 409)),
                "delete": _op("Revoke a token, at once on every server process", (204, None),
                              auth=True, errors=(*admin_read, 404, 409)),
            },
            "/api/blogs": {
                "get": _op("List blogs", (200, BlogList)),
                "post": _op("Create a blog", (201, Blog), body=BlogCreate, auth=True,
                            errors=(*_WRITE, 409)),
            },
            "/api/blogs/{slug}": {
                "parameters": [slug],
                "get": _op("Read a blog", (200, Blog), errors=(404,)),
                "patch": _op("Update a blog", (200, Blog), body=BlogPatch, auth=True,
                             errors=_WRITE),
            },
            "/api/blogs/{slug}/media": {"parameters": [slug], "post": _upload()},
            "/api/blogs/{slug}/entries": {
                "parameters": [slug],
                "get": _op("The timeline, newest first; with a token, ?status= lists the entries"
                           " readers do not see", (200, Timeline), errors=(401, 403, 404, 422),
                           params=(limit, before, around, after, status, q)),
                "post": _op("Publish an entry (Idempotency-Key honoured)", (201, Entry),
                            body=EntryCreate, auth=True, errors=_WRITE,
                            params=(idempotency_key,)),
            },
            "/api/blogs/{slug}/newsroom/events": {
                "parameters": [slug],
                "get": _op("The blog's newsroom stream (Server-Sent Events): changes to entries"
                           " readers do not see, their publication, and who is on the blog"
                           " (`presence`)", (200, None), auth=True,
                           errors=(401, 403, 404, 503)),
            },
            "/api/blogs/{slug}/presence": {
                "parameters": [slug],
                "put": _op("Say what the caller edits now (null: nothing); the people on the"
                           " blog", (200, Presence), body=PresenceUpdate, auth=True,
                           errors=_WRITE),
            },
            "/api/blogs/{slug}/entries/{entry_id}": {
                "parameters": [slug, entry_id],
                "get": _op("Read an entry", (200, Entry), errors=(404,)),
                "patch": _op("Edit an entry (If-Match)", (200, Entry), body=EntryPatch,
                             auth=True, errors=(*_WRITE, 412), params=(if_match,)),
                "delete": _op("Delete an entry", (204, None), auth=True, errors=_WRITE),
            },
            **_record_paths(slug, entry_id, limit, before, if_match),
        },
    }  # fmt: skip


def _record_paths(
    slug: dict[str, Any],
    entry_id: dict[str, Any],
    limit: dict[str, Any],
    before: dict[str, Any],
    if_match: dict[str, Any],
) -> dict[str, Any]:
    """The record: revisions, restore, deleted entries, the audit log, export and import."""
    version = {
        "name": "version",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
    ndjson = {"application/x-ndjson": {"schema": {"type": "string"}}}
    # The smallest export: a blog with no entries (its header and its end).
    example = (
        '{"type":"blog","format":"liveblog-export","version":1,"blog":{"slug":"imported",'
        '"title":"Imported","description":"","status":"ended","created_at":"2024-06-01T08:00:00Z",'
        '"updated_at":"2024-06-01T08:00:00Z"}}\n{"type":"end","entries":0}\n'
    )
    export = _op(
        "The blog as NDJSON: the blog, every entry with its revisions, photos",
        (200, None),
        auth=True,
        errors=(401, 403, 404, 503),
    )
    export["responses"]["200"]["content"] = ndjson
    imported = _op(
        "Import an export as a new blog (?slug= another name); 409 if it exists",
        (201, Blog),
        auth=True,
        errors=(*_WRITE, 409),
        params=(_param("slug", "query", {"type": "string"}),),
    )
    imported["requestBody"] = {
        "required": True,
        "content": {"application/x-ndjson": {"schema": {"type": "string"}, "example": example}},
    }
    audit_params = (
        _param("blog", "query", {"type": "string"}, "one blog's events"),
        _param("by", "query", {"type": "string"}, "one person's events (a token id)"),
        {**limit, "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
        before,
    )
    return {
        "/api/audit": {
            "get": _op("The audit log, newest first (admin)", (200, AuditPage), auth=True,
                       errors=(401, 403, 422, 429, 503), params=audit_params),
        },
        "/api/blogs/import": {"post": imported},
        "/api/blogs/{slug}/export": {"parameters": [slug], "get": export},
        "/api/blogs/{slug}/deleted": {
            "parameters": [slug],
            "get": _op("The latest deleted entries, with who deleted them", (200, DeletedList),
                       auth=True, errors=(401, 403, 404, 503)),
        },
        "/api/blogs/{slug}/entries/{entry_id}/revisions": {
            "parameters": [slug, entry_id],
            "get": _op("An entry's versions, oldest first (and its delete)", (200, RevisionList),
                       auth=True, errors=(401, 403, 404, 503)),
        },
        "/api/blogs/{slug}/entries/{entry_id}/revisions/{version}/restore": {
            "parameters": [slug, entry_id, version],
            "post": {
                **_op("A new version with that version's content (If-Match)", (200, Entry),
                      auth=True, errors=(*_WRITE, 412), params=(if_match,)),
                "requestBody": {"required": False, "content": {
                    "application/json": {"schema": _ref(RestoreRequest)}}},
            },
        },
    }  # fmt: skip


async def openapi_json(request: Request) -> Response:
    return Response(msgspec.json.encode(document()), media_type="application/json")
