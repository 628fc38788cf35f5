"""Every route of the server, in one table: operations, the editor API, live streams, pages.

The OpenAPI document is made from the ``/api`` routes here (``liveblog.api.openapi``: each
endpoint describes itself). The live streams are also dispatched straight from this table, past the
middleware stack (``stream_endpoint``): a reader holds its request for hours, and every frame of
the stack in between would stay in memory all that time.

One name space: a blog's slug in a path is ``{slug:slug}``, which matches blog names and
nothing else (not ``<slug>~newsroom``, not ``Desk``). Any other name matches no route, and
``no_route`` answers it: 404, problem+json for the API and the streams, the not-found page for
pages (``liveblog.app``), close code 4404 for a WebSocket. No endpoint sees such a name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Route, WebSocketRoute, compile_path
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from liveblog import streams
from liveblog.api import blogs, entries, media, newsroom, openapi, presence, record, stats, tokens
from liveblog.models import SLUG_REGEX
from liveblog.ops import health, metrics
from liveblog.pages import embed, entry, feed, guide, media_files, oembed, reader
from liveblog.pages import newsroom as newsroom_pages
from liveblog.pages.static import StaticAssets

Endpoint = Callable[[Request], Awaitable[Response]]
PAGE = ["GET", "HEAD"]


class SlugConvertor(Convertor[str]):
    """A blog's slug and nothing else. ``(?!\\n)``: the route's ``$`` would also match before a
    final newline, and ``/blogs/desk%0A`` is no name of a blog."""

    regex = SLUG_REGEX + r"(?!\n)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("slug", SlugConvertor())


def _api(path: str, **methods: Endpoint) -> Route:
    """One route for every method of a path. Starlette answers a method it does not route
    with the ``Allow`` of the first route whose path matched: with a route per method, a
    ``DELETE /api/blogs`` would be told ``Allow: GET, HEAD`` and never hear of POST."""

    async def endpoint(request: Request) -> Response:
        return await methods["GET" if request.method == "HEAD" else request.method](request)

    endpoint.endpoints = methods  # type: ignore[attr-defined]  # each described (api.openapi)
    return Route(path, endpoint, methods=list(methods))


STREAMS: list[Route | WebSocketRoute] = [
    Route("/blogs/{slug:slug}/events", streams.sse_events, methods=["GET"]),
    WebSocketRoute("/blogs/{slug:slug}/ws", streams.blog_socket),
    WebSocketRoute("/ws", streams.dashboard_socket),
]


def table(static: StaticAssets | None = None) -> list[BaseRoute]:
    """Every route; ``static`` is the app's ``/static/`` (its own table by default)."""
    return [
        # operations
        Route("/healthz", health.healthz),
        Route("/readyz", health.readyz),
        Route("/metrics", metrics.metrics_endpoint, methods=["GET"]),
        # the editor API
        _api("/api/openapi.json", GET=openapi.openapi_json),
        _api("/api/me", GET=tokens.me),
        _api("/api/stats", GET=stats.stats),
        _api("/api/tokens", GET=tokens.list_tokens, POST=tokens.create_token),
        _api("/api/tokens/{token_id}", PATCH=tokens.update_token, DELETE=tokens.delete_token),
        _api("/api/blogs", GET=blogs.list_blogs, POST=blogs.create_blog),
        # the record (before /api/blogs/{slug}: "import" is a slug too, but takes no POST there)
        _api("/api/audit", GET=record.audit),
        _api("/api/blogs/import", POST=record.import_blog),
        _api("/api/blogs/{slug:slug}/export", GET=record.export),
        _api("/api/blogs/{slug:slug}/deleted", GET=record.deleted),
        _api("/api/blogs/{slug:slug}/entries/{entry_id}/revisions", GET=record.revisions),
        _api(
            "/api/blogs/{slug:slug}/entries/{entry_id}/revisions/{version}/restore",
            POST=record.restore,
        ),
        _api("/api/blogs/{slug:slug}", GET=blogs.get_blog, PATCH=blogs.update_blog),
        _api("/api/blogs/{slug:slug}/entries", GET=entries.timeline, POST=entries.create_entry),
        _api(
            "/api/blogs/{slug:slug}/entries/{entry_id}",
            GET=entries.get_entry,
            PATCH=entries.update_entry,
            DELETE=entries.delete_entry,
        ),
        _api("/api/blogs/{slug:slug}/media", POST=media.upload),
        _api("/api/blogs/{slug:slug}/presence", PUT=presence.put_presence),
        Route("/api/blogs/{slug:slug}/newsroom/events", newsroom.newsroom_events, methods=["GET"]),
        # live streams
        *STREAMS,
        # pages: readers'
        Route("/", reader.index, methods=PAGE, name="index"),
        Route("/blogs/{slug:slug}", reader.blog_page, methods=PAGE, name="blog"),
        Route("/blogs/{slug:slug}/feed.atom", feed.feed, methods=PAGE, name="feed"),
        Route("/blogs/{slug:slug}/embed", embed.embed_page, methods=PAGE, name="embed"),
        Route(
            "/blogs/{slug:slug}/entries/{entry_id}", entry.entry_page, methods=PAGE, name="entry"
        ),
        Route("/blogs/{slug:slug}/entries/{entry_id}/embed", entry.entry_embed, methods=PAGE),
        Route("/oembed", oembed.oembed, methods=PAGE, name="oembed"),
        Route("/embed.js", embed.embed_script, methods=PAGE, name="embed_js"),
        Route("/media/{name:path}", media_files.media_file, methods=PAGE),
        Mount("/static", app=static or StaticAssets(), name="static"),
        # pages: the newsroom's
        Route("/editor", newsroom_pages.editor, methods=PAGE, name="editor"),
        Route("/dashboard", newsroom_pages.dashboard, methods=PAGE, name="dashboard"),
        Route("/people", newsroom_pages.people, methods=PAGE, name="people"),
        Route("/audit", newsroom_pages.audit, methods=PAGE, name="audit"),
        Route("/newsroom/guide", guide.guide_page, methods=PAGE, name="guide"),
        Route("/newsroom/guide/{name}", guide.guide_picture, methods=PAGE),
        Route("/newsroom.webmanifest", newsroom_pages.manifest, methods=PAGE),
        Route("/newsroom-sw.js", newsroom_pages.service_worker, methods=PAGE),
    ]


# The shape of each stream's path, with any name where the slug goes: a request of that shape
# that matched no route is a stream's 404 (problem+json), not a page's.
_STREAM_SHAPES = [compile_path(route.path_format)[0] for route in STREAMS]


def is_stream_path(path: str) -> bool:
    return any(shape.match(path) for shape in _STREAM_SHAPES)


async def no_route(scope: Scope, receive: Receive, send: Send) -> None:
    """What the router does with a path no route matches (a name that is not a slug, too)."""
    if scope["type"] == "websocket":
        # As for a blog that does not exist: the socket's own "not found".
        websocket = WebSocket(scope, receive=receive, send=send)
        await websocket.accept()
        await websocket.close(4404, "no such stream")
        return
    raise HTTPException(status_code=404)  # answered by the app's handler (liveblog.app)


def stream_endpoint(scope: Scope) -> ASGIApp | None:
    """The live-stream endpoint of this request (with its path parameters set), or None."""
    for route in STREAMS:
        match, child = route.matches(scope)
        if match is Match.FULL:
            scope.update(child)
            return route.app
    return None
