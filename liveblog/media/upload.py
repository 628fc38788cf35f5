"""POST /api/blogs/{slug}/media: a photo in, its sizes stored, their URLs out (docs/api.md, Media).

The checks run in the API's order: 413 and 415 from the headers before the body is read, then
the token (401), the blog (404), the permission (403) and the rate; then the body is read up to
its limit and decoded in a worker thread, at most ``_CONCURRENCY`` at a time per process, so a
burst of large uploads cannot hold many decoded photos in memory at once.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import Response

from liveblog.api import auth
from liveblog.api.body import check_length
from liveblog.api.responses import json_response
from liveblog.editorial import record
from liveblog.media import images
from liveblog.media.storage import Storage, make_storage
from liveblog.models import MediaUpload, MediaVariant
from liveblog.problems import Problem

logger = logging.getLogger("liveblog.media")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
_CONCURRENCY = 2
_TOO_LARGE = f"The image is over {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB."


def storage_of(request: Request) -> Storage:
    """The app's media storage, made on first use (the S3 client is not free to build)."""
    state = request.app.state
    storage: Storage | None = getattr(state, "media_storage", None)
    if storage is None:
        storage = state.media_storage = make_storage(state.settings)
    return storage


def _limiter(request: Request) -> asyncio.Semaphore:
    state = request.app.state
    limiter: asyncio.Semaphore | None = getattr(state, "media_limiter", None)
    if limiter is None:
        limiter = state.media_limiter = asyncio.Semaphore(_CONCURRENCY)
    return limiter


def _check_envelope(request: Request) -> None:
    check_length(request, MAX_UPLOAD_BYTES, _TOO_LARGE)
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type not in images.ACCEPTED_TYPES:
        accepted = ", ".join(sorted(images.ACCEPTED_TYPES))
        raise Problem(415, f"Send the image itself as the body, as one of {accepted}.")


async def _read(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_UPLOAD_BYTES:
            raise Problem(413, _TOO_LARGE)
        chunks.append(chunk)
    return b"".join(chunks)


async def upload(request: Request) -> Response:
    slug = request.path_params["slug"]
    _check_envelope(request)
    token_hash, token = await auth.authenticate(request)
    if await request.app.state.engine.position(slug) is None:
        raise Problem(404, f"No blog {slug!r} exists.")
    auth.require_editor_of(token, slug)
    request.app.state.rate_limiter.check(token_hash)
    data = await _read(request)
    try:
        async with _limiter(request):
            photo = await asyncio.to_thread(images.process, data)
    except images.ImageRefused as exc:
        raise Problem(exc.status, str(exc)) from None
    storage = storage_of(request)
    prefix = f"{slug}/{photo.digest}/"
    try:
        await asyncio.gather(
            *(storage.put(prefix + r.name, r.data, r.media_type)
              for r in [photo.original, *photo.variants])
        )  # fmt: skip
    except Exception as exc:  # the store's own errors: boto3's, or the disk's
        logger.warning("storing an upload failed: %s", exc)
        retry = {"Retry-After": "1"}
        raise Problem(503, "The photo could not be stored; try again.", headers=retry) from None
    url = storage.url(prefix + photo.original.name)
    detail = {"url": url, "width": photo.width, "height": photo.height, "type": photo.media_type}
    event = record.audit_event("media.uploaded", record.actor(token), blog=slug, detail=detail)
    await request.app.state.engine.record_audit(slug, event)
    answer = MediaUpload(
        url=url,
        width=photo.width,
        height=photo.height,
        type=photo.media_type,
        variants=[
            MediaVariant(storage.url(prefix + r.name), r.width, r.media_type)  # type: ignore[arg-type]
            for r in photo.variants
        ],
    )
    return json_response(answer, 201, headers={"Location": url})
