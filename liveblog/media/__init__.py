"""Rich entries: uploaded photos (``images``, ``storage``, ``upload``, ``serve``) and posts or
videos of other sites behind a reader's click (``embeds``)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from liveblog.media.serve import media_file
from liveblog.media.upload import upload


def routes() -> list[BaseRoute]:
    return [
        Route("/api/blogs/{slug}/media", upload, methods=["POST"]),
        Route("/media/{name:path}", media_file, methods=["GET", "HEAD"]),
    ]
