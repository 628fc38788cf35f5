"""POST /api/blogs/{slug}/media: a photo in, its sizes stored, their URLs out (docs/api.md, Media).

The checks run in the API's order: 413 and 415 from the headers before the body is read, then
the token (401), the blog (404), the permission (403) and the rate. Then the photo takes the
host's slots (``liveblog.media.upload``): no slot free within the wait is 503.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from liveblog.api import auth
from liveblog.api.body import check_length
from liveblog.api.openapi import WRITE, operation
from liveblog.api.responses import json_response
from liveblog.editorial.record import actor, audit_event
from liveblog.media import images
from liveblog.media.slots import SlotsBusy
from liveblog.media.storage import storage_of
from liveblog.media.upload import MAX_UPLOAD_BYTES, process, store, work_of
from liveblog.models import MediaUpload
from liveblog.problems import Problem

logger = logging.getLogger("liveblog.media")
_TOO_LARGE = f"The image is over {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB."
# The raw image is the body, not JSON.
_IMAGE_BODY = {
    "required": True,
    "content": {
        media_type: {"schema": {"type": "string", "format": "binary"}}
        for media_type in sorted(images.ACCEPTED_TYPES)
    },
}
_BUSY = "Too many photos are being uploaded to this server at the moment; try again shortly."


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


@operation(
    "Upload a photo (at most 20 MiB); its sizes are stored and served",
    status=201,
    answer=MediaUpload,
    auth=True,
    errors=WRITE,
    request_body=_IMAGE_BODY,
)
async def upload(request: Request) -> Response:
    slug = request.path_params["slug"]
    _check_envelope(request)
    token_hash, token = await auth.authenticate(request)
    if await request.app.state.engine.position(slug) is None:
        raise Problem(404, f"No blog {slug!r} exists.")
    auth.require_editor_of(token, slug)
    request.app.state.rate_limiter.check(token_hash)
    work = work_of(request.app.state)
    try:
        async with work.uploads.held():
            photo = await process(work, await _read(request))
    except SlotsBusy:
        raise Problem(503, _BUSY, headers={"Retry-After": "5"}) from None
    except images.ImageRefused as exc:
        raise Problem(exc.status, str(exc)) from None
    try:
        answer = await store(storage_of(request.app.state), slug, photo)
    except Exception as exc:  # the store's own errors: boto3's, or the disk's
        logger.warning("storing an upload failed: %s", exc)
        retry = {"Retry-After": "1"}
        raise Problem(503, "The photo could not be stored; try again.", headers=retry) from None
    detail = {"url": answer.url, "width": answer.width, "height": answer.height,
              "type": answer.type}  # fmt: skip
    event = audit_event("media.uploaded", actor(token), blog=slug, detail=detail)
    await request.app.state.engine.record_audit(slug, event)
    return json_response(answer, 201, headers={"Location": answer.url})
