"""A photo's way in, below HTTP: the host's slots it takes, its sizes made in a worker thread
(``images``) and stored with the record of them (``known``). The endpoint is
``liveblog.api.media`` (``POST /api/blogs/{slug}/media``).

An upload takes one of the host's upload slots (``slots``: shared by every process on the host)
BEFORE its body is read, so a crowd of uploads cannot hold many bodies in memory at once; and a
decode slot while a worker thread makes its sizes, so that only a few photos are ever decoded at
once on the host.
"""

from __future__ import annotations

import asyncio
import dataclasses
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from liveblog.config import Settings
from liveblog.media import images, known
from liveblog.media.slots import HostSlots, default_directory
from liveblog.media.storage import Storage
from liveblog.models import MediaUpload, MediaVariant, encoder

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


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


def work_of(state: Any) -> PhotoWork:
    """The app's (``state``: the app's state, which holds its settings), made on first use."""
    work: PhotoWork | None = getattr(state, "photo_work", None)
    if work is None:
        work = state.photo_work = PhotoWork.from_settings(state.settings)
    return work


async def process(work: PhotoWork, data: bytes) -> images.Processed:
    """``images.process`` in a worker thread, holding a decode slot until the thread is done
    (even if this request is cancelled meanwhile: the memory is in use until then)."""
    slot = await work.decodes.acquire()
    try:
        job = work.threads.submit(images.process, data, work.limits)
    except BaseException:
        slot.release()
        raise
    job.add_done_callback(lambda _: slot.release())
    return await asyncio.wrap_future(job)  # images.ImageRefused: the photo is refused


async def store(storage: Storage, slug: str, photo: images.Processed) -> MediaUpload:
    """Every size of the photo stored, then the record of them (last: a record means every size
    is stored; ``known`` reads it). The store's own errors (boto3's, or the disk's) pass."""
    prefix = f"{slug}/{photo.digest}/"
    await asyncio.gather(
        *(storage.put(prefix + r.name, r.data, r.media_type)
          for r in [photo.original, *photo.variants])
    )  # fmt: skip
    answer = MediaUpload(
        url=storage.url(prefix + photo.original.name),
        width=photo.width,
        height=photo.height,
        type=photo.media_type,
        variants=[
            # media_type is one of images.FORMATS' types, every one an ImageType; the pixels'
            # side does not import the models' Literal for it.
            MediaVariant(storage.url(prefix + r.name), r.width, r.media_type)  # type: ignore[arg-type]
            for r in photo.variants
        ],
    )
    await storage.put(known.record_name(prefix), encoder.encode(answer), "application/json")
    return answer
