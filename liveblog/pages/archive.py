"""``liveblog archive``: a blog that has ended, as a static site any web server can serve.

Built from the blog's export (``liveblog.editorial.transfer``): every published entry, on
pages of ``per_page`` entries newest first (``index.html``, ``page-2.html``, ...), pinned
entries and the key events on the first, in the reader page's own markup and stylesheet
(copied), with no script at all. Photos are copied next to the pages: the server's own uploads,
from the local media folder or the object store (``liveblog.media.storage``); a photo that
cannot be copied keeps its address and is reported, as another site's keeps its own. Every link
is relative, so the folder works from any web server, from a sub-directory, and opened as files
(``file://``).
"""

from __future__ import annotations

import asyncio
import math
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from babel import dates

from liveblog import i18n
from liveblog.config import Settings
from liveblog.editorial import transfer
from liveblog.media.storage import NAME_PATTERN, make_storage
from liveblog.models import KEY_EVENT_LABEL, Blog, Entry, Media
from liveblog.pages.assets import STATIC_DIR
from liveblog.pages.templating import templates

PER_PAGE = 100
_ASSETS = ("reader.css", "favicon.svg")
_FETCHES = 4  # photos fetched at once from the object store
_decode_line = msgspec.json.Decoder(transfer.Line)


@dataclass
class Archived:
    """What was written: pages, entries, photos copied, and photos left where they were."""

    directory: Path
    pages: int = 0
    entries: int = 0
    photos: int = 0
    missing: list[str] = field(default_factory=list)


def page_name(number: int) -> str:
    return "index.html" if number == 1 else f"page-{number}.html"


async def write_archive(
    lines: AsyncIterator[bytes], directory: Path, settings: Settings, *, per_page: int = PER_PAGE
) -> Archived:
    """Write the blog of an export's ``lines`` into ``directory`` (made if need be)."""
    blog: Blog | None = None
    entries: list[Entry] = []
    async for raw in lines:
        if not raw.strip():
            continue
        line = _decode_line.decode(raw)
        if isinstance(line, transfer.BlogLine):
            blog = line.blog
        elif isinstance(line, transfer.EntryLine) and line.entry and line.entry.published:
            entries.append(line.entry)
    if blog is None:
        raise ValueError("the export has no blog line")
    result = Archived(directory)
    photos = _Photos(directory / "media", settings, result)
    for entry in entries:
        photos.want(entry)
    await photos.copy()
    entries = [photos.local(entry) for entry in entries]
    entries.sort(key=lambda e: e.order_key, reverse=True)
    await asyncio.to_thread(_write_pages, blog, entries, directory, settings, per_page, result)
    return result


def _write_pages(
    blog: Blog,
    entries: list[Entry],
    directory: Path,
    settings: Settings,
    per_page: int,
    result: Archived,
) -> None:
    static = directory / "static"
    static.mkdir(parents=True, exist_ok=True)
    for asset in _ASSETS:
        shutil.copyfile(STATIC_DIR / asset, static / asset)
    _render(blog, entries, directory, settings, per_page, result)


def _render(
    blog: Blog,
    entries: list[Entry],
    directory: Path,
    settings: Settings,
    per_page: int,
    result: Archived,
) -> None:
    pinned = [e for e in entries if e.pinned]
    timeline = [e for e in entries if not e.pinned]
    count = max(1, math.ceil(len(timeline) / per_page))
    pages = [timeline[i * per_page : (i + 1) * per_page] for i in range(count)]
    where = {e.id: page_name(n) for n, page in enumerate(pages, 1) for e in page}
    where.update({e.id: page_name(1) for e in pinned})
    key_links = [(f"{where[e.id]}#entry-{e.id}", e) for e in entries if KEY_EVENT_LABEL in e.labels]
    latest = max((e.updated_at or e.published_at for e in entries), default=blog.updated_at)
    template = templates.env.get_template("archive.html")
    with i18n.rendering(blog.language, blog.time_zone):
        for number, page in enumerate(pages, 1):
            html = template.render(
                settings=settings,
                lang=blog.language,
                dir=i18n.direction(blog.language),
                blog=blog,
                entries=page,
                pinned=pinned if number == 1 else [],
                key_links=key_links if number == 1 else [],
                latest=latest,
                zone=_zone_name(blog),
                older=page_name(number + 1) if number < count else None,
                page=page_name(number),
                first=number == 1,
            )
            (directory / page_name(number)).write_text(html, encoding="utf-8")
    result.pages = count
    result.entries = len(entries)


def _zone_name(blog: Blog) -> str:
    """The blog's zone as readers know it ("Central European Time"), never its IANA id."""
    if blog.time_zone in ("UTC", "Etc/UTC", "GMT", "Etc/GMT", "Universal", "Zulu"):
        return "UTC"  # Babel would call it "Unknown Region (UTC) Time"
    try:
        zone = ZoneInfo(blog.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return blog.time_zone
    return str(dates.get_timezone_name(zone, locale=i18n.locale(blog.language)))


class _Photos:
    """The photos to copy: each uploaded photo (and its sizes) once, under ``media/``."""

    def __init__(self, folder: Path, settings: Settings, result: Archived) -> None:
        self.folder = folder
        self.storage = make_storage(settings)
        self.result = result
        self.wanted: dict[str, str] = {}  # object name -> where it is now (a path or URL)
        self.copied: set[str] = set()

    def _name(self, url: str) -> str | None:
        """The object name of one of this server's uploads, or None for another site's."""
        name = self.storage.name_of(url)
        return name if name is not None and NAME_PATTERN.match(name) else None

    def want(self, entry: Entry) -> None:
        for item in entry.media:
            if item.type == "image":
                for url in (item.url, *(v.url for v in item.variants)):
                    if (name := self._name(url)) is not None:
                        self.wanted[name] = url

    def _relative(self, url: str) -> str:
        """A copied photo's path next to the pages; any other keeps its address."""
        name = self._name(url)
        return f"media/{name}" if name in self.copied else url

    def local(self, entry: Entry) -> Entry:
        return msgspec.structs.replace(entry, media=[self._media(m) for m in entry.media])

    def _media(self, item: Media) -> Media:
        if item.type != "image":
            return item
        variants = [msgspec.structs.replace(v, url=self._relative(v.url)) for v in item.variants]
        return msgspec.structs.replace(item, url=self._relative(item.url), variants=variants)

    async def copy(self) -> None:
        fetches = asyncio.Semaphore(_FETCHES)
        try:
            await asyncio.gather(*(self._copy(n, url, fetches) for n, url in self.wanted.items()))
        finally:
            await self.storage.close()

    async def _copy(self, name: str, url: str, fetches: asyncio.Semaphore) -> None:
        try:
            async with fetches:
                data = await self.storage.get(name)
            if data is None:
                raise ValueError("not in the store")
            await asyncio.to_thread(_write_file, self.folder / name, data)
        except Exception as exc:  # the store's own errors: boto3's, or the disk's
            self.result.missing.append(f"{url}: {exc}")
            return
        self.copied.add(name)
        self.result.photos += 1


def _write_file(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


__all__ = ["Archived", "page_name", "write_archive"]
