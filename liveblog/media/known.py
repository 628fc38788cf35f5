"""Photos this server stored itself: an entry's photo whose ``url`` is one of its uploads gets
its ``width``, ``height`` and ``variants`` from the server, whatever the client sent. A client
that posts only the upload's ``url`` (all the answer of an upload needs to be quoted for) gives
readers the same responsive photo the console does, and phones never download the original.

Where the facts come from: a small record the upload writes next to the files, last
(``<slug>/<digest>/upload.json``, the upload's own answer). Chosen over reading the files back
because it is one small read however many sizes there are, the same on local disk and in a
bucket (no listing, no image header to decode on the API's path), and it cannot disagree with
what the upload answered; written last, its presence means every size is stored. Records are
content-addressed like the files, so a copy kept in memory is never stale. An upload made
before records were written has none and is left as the client sent it.
"""

from __future__ import annotations

import collections
import logging
import re
from typing import TypeVar

import msgspec

from liveblog.config import Settings
from liveblog.media.storage import NAME_PATTERN, Storage
from liveblog.models import EntryCreate, EntryPatch, Media, MediaUpload

logger = logging.getLogger("liveblog.media")
RECORD = "upload.json"
_UPLOAD = re.compile(r"^(?P<prefix>[a-z0-9][a-z0-9-]{0,63}/[0-9a-f]{24}/)")
_CACHE_SIZE = 1024
_decoder = msgspec.json.Decoder(MediaUpload)
_records: collections.OrderedDict[str, MediaUpload] = collections.OrderedDict()


def record_name(prefix: str) -> str:
    """Where the upload under ``prefix`` (``<slug>/<digest>/``) keeps its record."""
    return prefix + RECORD


def upload_name(url: str, storage: Storage, settings: Settings) -> str | None:
    """The stored object a photo URL names, when it is one of this server's uploads: its
    storage URL, or (local storage) the same path under the server's public URL."""
    if settings.public_url and url.startswith(settings.public_url.rstrip("/") + "/media/"):
        url = url.removeprefix(settings.public_url.rstrip("/"))
    name = storage.name_of(url)
    return name if name is not None and NAME_PATTERN.match(name) else None


async def _record(storage: Storage, prefix: str) -> MediaUpload | None:
    key = storage.url(record_name(prefix))  # one store's record is not another's
    found = _records.get(key)
    if found is not None:
        _records.move_to_end(key)
        return found
    try:
        raw = await storage.get(record_name(prefix))
        record = None if raw is None else _decoder.decode(raw)
    except Exception as exc:  # the store's own errors, or a record it mangled: leave the photo
        logger.warning("reading the upload record %s failed: %s", prefix, exc)
        return None
    if record is not None:
        _records[key] = record
        while len(_records) > _CACHE_SIZE:
            _records.popitem(last=False)
    return record


async def _filled(item: Media, storage: Storage, settings: Settings) -> Media:
    if item.type != "image":
        return item
    name = upload_name(item.url, storage, settings)
    match = _UPLOAD.match(name or "")
    if name is None or match is None:
        return item
    record = await _record(storage, match["prefix"])
    if record is None:
        return item
    if storage.url(name) == record.url:  # the original: every size to choose from
        return msgspec.structs.replace(
            item, width=record.width, height=record.height, variants=record.variants
        )
    for variant in record.variants:  # one of its sizes was posted: that size, alone
        if storage.url(name) == variant.url:
            height = max(1, round(record.height * variant.width / record.width))
            return msgspec.structs.replace(item, width=variant.width, height=height, variants=[])
    return item


S = TypeVar("S", EntryCreate, EntryPatch)


async def filled(data: S, storage: Storage, settings: Settings) -> S:
    """An entry's create or patch with its own uploads' sizes filled in by the server."""
    if not isinstance(data.media, list) or not data.media:
        return data
    media = [await _filled(item, storage, settings) for item in data.media]
    return msgspec.structs.replace(data, media=media)
