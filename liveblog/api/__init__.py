"""The editor REST API under /api (docs/api.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from liveblog.api import blogs, entries, newsroom, openapi, tokens

Endpoint = Callable[[Request], Awaitable[Response]]


def _path(path: str, **methods: Endpoint) -> Route:
    """One route for every method of a path. Starlette answers a method it does not route
    with the ``Allow`` of the first route whose path matched: with a route per method, a
    ``DELETE /api/blogs`` would be told ``Allow: GET, HEAD`` and never hear of POST."""

    async def endpoint(request: Request) -> Response:
        return await methods["GET" if request.method == "HEAD" else request.method](request)

    return Route(path, endpoint, methods=list(methods))


def routes() -> list[BaseRoute]:
    return [
        _path("/api/openapi.json", GET=openapi.openapi_json),
        _path("/api/tokens", GET=tokens.list_tokens, POST=tokens.create_token),
        _path("/api/tokens/{token_id}", PATCH=tokens.update_token, DELETE=tokens.delete_token),
        _path("/api/blogs", GET=blogs.list_blogs, POST=blogs.create_blog),
        _path("/api/blogs/{slug}", GET=blogs.get_blog, PATCH=blogs.update_blog),
        _path("/api/blogs/{slug}/entries", GET=entries.timeline, POST=entries.create_entry),
        _path(
            "/api/blogs/{slug}/entries/{entry_id}",
            GET=entries.get_entry,
            PATCH=entries.update_entry,
            DELETE=entries.delete_entry,
        ),
        Route("/api/blogs/{slug}/newsroom/events", newsroom.NewsroomEvents(), methods=["GET"]),
    ]
