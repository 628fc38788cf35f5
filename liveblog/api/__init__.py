"""The editor REST API under /api (API.md)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from liveblog.api import blogs, entries, openapi, tokens


def routes() -> list[BaseRoute]:
    return [
        Route("/api/openapi.json", openapi.openapi_json, methods=["GET"]),
        Route("/api/tokens", tokens.list_tokens, methods=["GET"]),
        Route("/api/tokens", tokens.create_token, methods=["POST"]),
        Route("/api/tokens/{token_id}", tokens.delete_token, methods=["DELETE"]),
        Route("/api/blogs", blogs.list_blogs, methods=["GET"]),
        Route("/api/blogs", blogs.create_blog, methods=["POST"]),
        Route("/api/blogs/{slug}", blogs.get_blog, methods=["GET"]),
        Route("/api/blogs/{slug}", blogs.update_blog, methods=["PATCH"]),
        Route("/api/blogs/{slug}/entries", entries.timeline, methods=["GET"]),
        Route("/api/blogs/{slug}/entries", entries.create_entry, methods=["POST"]),
        Route("/api/blogs/{slug}/entries/{entry_id}", entries.get_entry, methods=["GET"]),
        Route("/api/blogs/{slug}/entries/{entry_id}", entries.update_entry, methods=["PATCH"]),
        Route("/api/blogs/{slug}/entries/{entry_id}", entries.delete_entry, methods=["DELETE"]),
    ]
