"""Server-rendered pages: the reader's (``reader``, ``feed``, ``embed``) and the newsroom's.

``routes()`` is what the app mounts. Shared helpers other page modules reuse:
``assets`` (where ``web/`` is), ``templating`` (the Jinja environment), ``security`` (headers).
"""

from __future__ import annotations

import importlib

from starlette.routing import BaseRoute, Mount, Route

from liveblog.pages import embed, feed, reader
from liveblog.pages.assets import STATIC_DIR
from liveblog.pages.security import SecureStaticFiles


def reader_routes() -> list[BaseRoute]:
    return [
        Route("/", reader.index, methods=["GET", "HEAD"], name="index"),
        Route("/blogs/{slug}", reader.blog_page, methods=["GET", "HEAD"], name="blog"),
        Route("/blogs/{slug}/feed.atom", feed.feed, methods=["GET", "HEAD"], name="feed"),
        Route("/blogs/{slug}/embed", embed.embed_page, methods=["GET", "HEAD"], name="embed"),
        Route("/embed.js", embed.embed_script, methods=["GET", "HEAD"], name="embed_js"),
        Mount("/static", app=SecureStaticFiles(directory=STATIC_DIR), name="static"),
    ]


def newsroom_routes() -> list[BaseRoute]:
    """/editor and /dashboard (issue 5), from ``liveblog.pages.newsroom`` once it exists."""
    try:
        newsroom = importlib.import_module("liveblog.pages.newsroom")
    except ModuleNotFoundError as error:
        if error.name != "liveblog.pages.newsroom":
            raise
        return []
    routes: list[BaseRoute] = newsroom.routes()
    return routes


def routes() -> list[BaseRoute]:
    return [*reader_routes(), *newsroom_routes()]


__all__ = ["reader_routes", "routes"]
