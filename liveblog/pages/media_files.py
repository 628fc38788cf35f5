"""GET /media/<name>: uploaded photos on local disk, served as the immutable files they are
(like ``/static/``: files with the pages' headers; the photos are ``liveblog.media``'s)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from liveblog.media.storage import IMMUTABLE, NAME_PATTERN, LocalStorage, storage_of
from liveblog.pages.security import COMMON_HEADERS

_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif"}


async def media_file(request: Request) -> Response:
    name = request.path_params["name"]
    storage = storage_of(request.app.state)
    # Only names the upload makes: nothing else on disk (nor ../) can be reached.
    if not isinstance(storage, LocalStorage) or NAME_PATTERN.match(name) is None:
        return Response("Not found", 404, headers=COMMON_HEADERS)
    path = storage.path(name)
    if not path.is_file():
        return Response("Not found", 404, headers=COMMON_HEADERS)
    headers = {**COMMON_HEADERS, "Cache-Control": IMMUTABLE}
    return FileResponse(path, media_type=_TYPES[name.rpartition(".")[2]], headers=headers)
