"""POST /api/blogs/{slug}/media: a photo in, its sizes stored, their URLs out (docs/api.md, Media).

The checks run in the API's order: 413 and 415 from the headers before the body is read, then
the token (401), the blog (404), the permission (403) and the rate. Then the upload takes one of
the host's upload slots (``slots``: shared by every process on the host) BEFORE its body is
read, so a crowd of uploads cannot hold many bodies in memory at once; reads the body up to its
limit; and takes a decode slot while a worker thread makes its sizes (``images``), so that only
a few photos are ever decoded at once on the host. No slot free within the wait: 503.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from concurrent.futures import ThreadPoolExecutor

from starlette.requests import Request
from starlette.responses import Response

from liveblog.api import auth
from liveblog.api.body import check_length
from liveblog.api.responses import json_response
from liveblog.config import Settings
from liveblog.media import images, known
from liveblog.media.slots import HostSlots, SlotsBusy, default_directory
from liveblog.media.storage import Storage, make_storage
from liveblog.models import MediaUpload, MediaVariant, encoder
from liveblog.problems import Problem

logger = logging.getLogger("liveblog.media")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
_TOO_LARGE = f"The image is over {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB."
_BUSY = "Too many photos are being uploaded to this server at the moment; try again shortly."


def storage_of(request: Request) -> Storage:
    """The app's media storage, made on first use (the S3 client is not free to build)."""
    state = request.app.state
    storage: Storage | None = getattr(state, "media_storage", None)
    if storage is None:
        storage = state.media_storage = make_storage(state.settings)
    return storage


@dataclasses.dataclass(frozen=True, slots=True)
class PhotoWork:
    """What an upload may take, per app: the host's slots, the image limits, the threads."""

    uploads: HostSlots
    decodes: HostSlots
    limits: images.Limits
    threads: ThreadPoolExecutor

    @classmethod
    def from_settings(cls, settings: Settings) -> PhotoWork:
        directory = settings.media_slots_dir or default_directory()
        wait = settings.media_slot_wait_seconds
        decodes = settings.media_decodes_at_once
        return cls(
            uploads=HostSlots(directory, "upload", settings.media_uploads_at_once, wait),
            decodes=HostSlots(directory, "decode", decodes, wait),
            limits=images.Limits(
                max_decoded_bytes=settings.media_max_decoded_bytes,
                kept_pixels=round(settings.media_kept_megapixels * 1_000_000),
            ),
            # A process never decodes more at once than the host's slots allow.
            threads=ThreadPoolExecutor(decodes, thread_name_prefix="liveblog-photo"),
        )


def work_of(request: Request) -> PhotoWork:
    state = request.app.state
    work: PhotoWork | None = getattr(state, "photo_work", None)
    if work is None:
        work = state.photo_work = PhotoWork.from_settings(state.settings)
    return work


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


async def _process(work: PhotoWork, data: bytes) -> images.Processed:
    """``images.process`` in a worker thread, holding a decode slot until the thread is done
    (even if this request is cancelled meanwhile: the memory is in use until then)."""
    slot = await work.decodes.acquire()
    try:
        job = work.threads.submit(images.process, data, work.limits)
    except BaseException:
        slot.release()
        raise
    job.add_done_callback(lambda _: slot.release())
    try:
        return await asyncio.wrap_future(job)
    except images.ImageRefused as exc:
        raise Problem(exc.status, str(exc)) from None


async def upload(request: Request) -> Response:
    slug = request.path_params["slug"]
    _check_envelope(request)
    token_hash, token = await auth.authenticate(request)
    if await request.app.state.engine.position(slug) is None:
        raise Problem(404, f"No blog {slug!r} exists.")
    auth.require_editor_of(token, slug)
    request.app.state.rate_limiter.check(token_hash)
    work = work_of(request)
    try:
        async with work.uploads.held():
            photo = await _process(work, await _read(request))
    except SlotsBusy:
        raise Problem(503, _BUSY, headers={"Retry-After": "5"}) from None
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
    try:
        # Last: a record means every size is stored (liveblog.media.known reads it).
        record = encoder.encode(answer)
        await storage.put(known.record_name(prefix), record, "application/json")
    except Exception as exc:
        logger.warning("storing an upload record failed: %s", exc)
        retry = {"Retry-After": "1"}
        raise Problem(503, "The photo could not be stored; try again.", headers=retry) from None
    return json_response(answer, 201, headers={"Location": url})
