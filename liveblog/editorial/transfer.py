"""A blog that can leave and come back: export to NDJSON, import from it.

The export is one JSON object per line, written as it is read (never built whole in memory):

    {"type": "blog", "format": "liveblog-export", "version": 1, "blog": Blog}
    {"type": "entry", "id", "entry": Entry | null, "revisions": [Revision]}   per entry, by id
    {"type": "media", "url", "variants": [url]}                               per photo, by URL
    {"type": "end", "entries": N}

Entries of every status are there, and deleted ones (``entry: null``) with their history; an
entry's corrections are in the entry. Nothing in it depends on the server or the moment of the
export (no stream position, no export time): exporting the same blog twice gives the same bytes.

An import reads the file twice: once to check every line (nothing is written unless all of it
is acceptable; the last line proves the file is whole), then to write. It creates the blog
under a lease, writes each entry through the same atomic ``apply`` as any change (publishing
nothing), replaces each entry's history, and ends with a fresh epoch: a reader who watched the
blog fill reloads it whole. A blog that exists is never overwritten.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import IO

import msgspec

from liveblog.editorial import record, search
from liveblog.editorial.editing import listing
from liveblog.editorial.sanitize import clean_html
from liveblog.engine.base import BlogNotFound, Change, Engine
from liveblog.models import (
    EARLIEST_PUBLISHED,
    LATEST_PUBLISHED,
    MAX_BODY_BYTES,
    SLUG_PATTERN,
    Actor,
    Blog,
    Entry,
    EntryCreate,
    Revision,
    encoder,
    new_epoch,
)

FORMAT = "liveblog-export"
VERSION = 1
MEDIA_TYPE = "application/x-ndjson"
_ENTRY_ID = re.compile(r"^[0-9a-z]{16}\Z")
_READ_STEP = 200  # entries read per engine call of an export
_WRITERS = 8  # entries an import writes at once
_LEASE_SECONDS = 120.0  # an import that stops renewing for this long may be taken over
_RENEW_SECONDS = 20.0
# A line of an export: an entry with 50 revisions of the largest body is a few MB; past this,
# a line is refused before it is decoded (what it would cost in memory once decoded).
MAX_LINE_BYTES = 16 * 1024 * 1024
_READ_BLOCK = 1024 * 1024


class BlogLine(msgspec.Struct, tag="blog", tag_field="type"):
    format: str
    version: int
    blog: Blog


class EntryLine(msgspec.Struct, tag="entry", tag_field="type"):
    id: str
    entry: Entry | None
    revisions: list[Revision]


class MediaLine(msgspec.Struct, tag="media", tag_field="type"):
    url: str
    variants: list[str] = []


class EndLine(msgspec.Struct, tag="end", tag_field="type"):
    entries: int


Line = BlogLine | EntryLine | MediaLine | EndLine
_line_decoder = msgspec.json.Decoder(Line)


class ImportRefused(ValueError):
    """The file is not an export this server can take (API: 422 at ``path``)."""

    def __init__(self, line: int, path: str, message: str) -> None:
        super().__init__(f"line {line}: {message} at {path}")
        self.line = line
        self.path = path
        self.message = message


# --- export ----------------------------------------------------------------------------------


async def export_blog(engine: Engine, slug: str) -> AsyncIterator[bytes]:
    """The export's lines (each ending in a newline). BlogNotFound before the first line if
    there is no such blog, so a caller can answer 404 before it starts streaming."""
    blog = await engine.get_blog(slug)
    ids = await engine.entry_ids(slug)
    if blog is None or ids is None:
        raise BlogNotFound(slug)
    return _export_lines(engine, blog, ids)


async def _export_lines(engine: Engine, blog: Blog, ids: list[str]) -> AsyncIterator[bytes]:
    blog = msgspec.structs.replace(blog, last_event_id="")  # a position means nothing elsewhere
    yield encoder.encode(BlogLine(FORMAT, VERSION, blog)) + b"\n"
    media: dict[str, set[str]] = {}
    count = 0
    for start in range(0, len(ids), _READ_STEP):
        chunk = ids[start : start + _READ_STEP]
        for entry_id, (raw, stored) in zip(
            chunk, await engine.export_entries(blog.slug, chunk), strict=True
        ):
            entry = None if raw is None else msgspec.json.decode(raw, type=Entry)
            revisions = [record.decode_revision(r) for r in stored]
            if entry is None and not revisions:
                continue  # deleted before histories were kept: nothing is left of it
            for shown in [entry, *(r.entry for r in revisions)]:
                if shown is not None:
                    for m in shown.media:
                        if m.type == "image":
                            media.setdefault(m.url, set()).update(v.url for v in m.variants)
            count += 1
            yield encoder.encode(EntryLine(entry_id, entry, revisions)) + b"\n"
    for url in sorted(media):
        yield encoder.encode(MediaLine(url, sorted(media[url]))) + b"\n"
    yield encoder.encode(EndLine(count)) + b"\n"


# --- import ----------------------------------------------------------------------------------

# An export, as lines; called once per pass (an import reads it twice).
Lines = Callable[[], AsyncIterator[bytes]]


def file_lines(file: IO[bytes]) -> Lines:
    """The non-empty lines of an export file, from its start on each call, read off the event
    loop; a line past MAX_LINE_BYTES is refused as it is read."""

    async def lines() -> AsyncIterator[bytes]:
        await asyncio.to_thread(file.seek, 0)
        rest, number = b"", 0
        while block := await asyncio.to_thread(file.read, _READ_BLOCK):
            *complete, rest = (rest + block).split(b"\n")
            for at, line in enumerate([*complete, rest], number + 1):
                if len(line) > MAX_LINE_BYTES:
                    raise ImportRefused(at, "$", f"is over {MAX_LINE_BYTES} bytes")
            for line in complete:
                number += 1
                if line.strip():
                    yield line
        if rest.strip():
            yield rest

    return lines


class Imported(msgspec.Struct):
    blog: Blog
    entries: int


async def import_blog(
    engine: Engine, lines: Lines, *, slug: str | None = None, by: Actor = record.SYSTEM
) -> Imported:
    """Check the whole export, then write it as a new blog (``slug``: under another name).
    ImportRefused for a bad file; BlogExists if the slug is taken; ImportInProgress if
    another import is filling it."""
    header, count = await _check(lines, slug)
    blog = msgspec.structs.replace(header.blog, slug=slug or header.blog.slug, last_event_id="")
    lease = secrets.token_hex(8)
    await engine.begin_import(blog, new_epoch(), lease, time.time() + _LEASE_SECONDS)
    renewed = time.monotonic()
    writers = asyncio.Semaphore(_WRITERS)
    pending: set[asyncio.Task[None]] = set()
    try:
        async for line in _entries(lines, blog.slug, engine.max_revisions):
            if time.monotonic() - renewed > _RENEW_SECONDS:
                await engine.renew_import(blog.slug, lease, time.time() + _LEASE_SECONDS)
                renewed = time.monotonic()
            await writers.acquire()
            task = asyncio.create_task(_write_entry(engine, blog.slug, line))
            task.add_done_callback(lambda _: writers.release())
            pending.add(task)
            task.add_done_callback(pending.discard)
            for done in [t for t in pending if t.done()]:
                done.result()  # a failed write ends the import now
        await asyncio.gather(*pending)
    except BaseException:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        raise
    detail: dict[str, object] = {"imported": True, "entries": count, "title": blog.title}
    if blog.slug != header.blog.slug:
        detail["from"] = header.blog.slug
    audit = record.audit_event("blog.created", by, blog=blog.slug, detail=detail)
    return Imported(await engine.finish_import(blog.slug, lease, audit), count)


async def _write_entry(engine: Engine, slug: str, line: EntryLine) -> None:
    entry = line.entry
    if entry is not None:
        await engine.apply(
            slug,
            Change(
                event=None,  # readers hear of the blog when the import ends (a fresh epoch)
                entry_id=entry.id,
                entry=encoder.encode(entry),
                entry_version=entry.version,
                **listing(entry),
                search=await search.terms_of(engine, slug, entry),
            ),
        )
    deleted_at = None if entry is not None else line.revisions[-1].at.timestamp()
    stored = [record.encode_revision(r) for r in line.revisions]
    await engine.import_revisions(slug, line.id, stored, deleted_at)


async def _entries(lines: Lines, slug: str, kept: int) -> AsyncIterator[EntryLine]:
    """The export's entries as this server stores them: under ``slug``, bodies cleaned, at
    most ``kept`` revisions each (the first and the newest)."""
    async for raw in lines():
        line = _line_decoder.decode(raw)
        if isinstance(line, EntryLine):
            entry = _moved(line.entry, slug)
            revisions = [
                msgspec.structs.replace(r, entry=_moved(r.entry, slug)) for r in line.revisions
            ]
            if len(revisions) > kept:
                revisions = [revisions[0], *revisions[len(revisions) - kept + 1 :]]
            yield EntryLine(line.id, entry, revisions)


def _moved(entry: Entry | None, slug: str) -> Entry | None:
    if entry is None:
        return None
    return msgspec.structs.replace(entry, blog=slug, body=clean_html(entry.body))


async def _check(lines: Lines, slug: str | None) -> tuple[BlogLine, int]:
    """Read the whole export once: every line acceptable, entries unique, the end present."""
    if slug is not None and SLUG_PATTERN.match(slug) is None:
        raise ImportRefused(0, "slug", "is not a blog name (lower-case letters, digits, -)")
    header: BlogLine | None = None
    seen: set[str] = set()
    ended: EndLine | None = None
    number = 0
    async for raw in lines():
        number += 1
        if ended is not None:
            raise ImportRefused(number, "$", "comes after the end line")
        try:
            line = _line_decoder.decode(raw)
        except msgspec.ValidationError as exc:
            message, _, path = str(exc).rpartition(" - at `")
            raise ImportRefused(number, path.rstrip("`") or "$", message or str(exc)) from None
        except msgspec.DecodeError as exc:
            raise ImportRefused(number, "$", f"is not JSON: {exc}") from None
        if header is None:
            if not isinstance(line, BlogLine) or line.format != FORMAT:
                raise ImportRefused(number, "$", f"is not the header of a {FORMAT} file")
            if line.version != VERSION:
                raise ImportRefused(number, "$.version", f"must be {VERSION}")
            if SLUG_PATTERN.match(line.blog.slug) is None:
                raise ImportRefused(number, "$.blog.slug", "is not a blog name")
            header = line
        elif isinstance(line, EntryLine):
            if line.id in seen:
                raise ImportRefused(number, "$.id", "is the id of an earlier entry")
            seen.add(line.id)
            _check_entry(number, line)
        elif isinstance(line, EndLine):
            ended = line
        elif isinstance(line, BlogLine):
            raise ImportRefused(number, "$", "is a second header")
    if header is None:
        raise ImportRefused(number, "$", "the file is empty")
    if ended is None:
        raise ImportRefused(number, "$", "the file ends before its end line: it is incomplete")
    if ended.entries != len(seen):
        raise ImportRefused(number, "$.entries", f"says {ended.entries}, the file has {len(seen)}")
    return header, len(seen)


def _check_entry(number: int, line: EntryLine) -> None:
    if _ENTRY_ID.match(line.id) is None:
        raise ImportRefused(number, "$.id", "is not an entry id (16 lower-case letters, digits)")
    if line.entry is None and not line.revisions:
        raise ImportRefused(number, "$.revisions", "a deleted entry needs its history")
    if line.entry is not None:
        _check_content(number, "$.entry", line.id, line.entry)
    previous = 0
    for i, revision in enumerate(line.revisions):
        if revision.version <= previous:
            raise ImportRefused(number, f"$.revisions[{i}].version", "must be in rising order")
        previous = revision.version
        if revision.entry is not None:
            _check_content(number, f"$.revisions[{i}].entry", line.id, revision.entry)
    if line.entry is not None and previous > line.entry.version:
        raise ImportRefused(number, "$.revisions", "has a version newer than the entry's")
    if line.entry is None and line.revisions[-1].entry is not None:
        raise ImportRefused(number, "$.revisions", "a deleted entry's history ends with its delete")


def _check_content(number: int, path: str, entry_id: str, entry: Entry) -> None:
    """What the API would accept of an entry's content, and a sane id, version and time."""
    if entry.id != entry_id:
        raise ImportRefused(number, f"{path}.id", "is not the line's id")
    if entry.version < 1:
        raise ImportRefused(number, f"{path}.version", "must be at least 1")
    if entry.published_at.tzinfo is None:
        raise ImportRefused(number, f"{path}.published_at", "must have a UTC offset")
    if not EARLIEST_PUBLISHED <= entry.published_at < LATEST_PUBLISHED:
        raise ImportRefused(number, f"{path}.published_at", "must be between 1970 and 2999")
    if len(clean_html(entry.body).encode()) > MAX_BODY_BYTES:
        raise ImportRefused(number, f"{path}.body", f"is over {MAX_BODY_BYTES} bytes")
    content = {
        "body": entry.body, "headline": entry.headline, "author": entry.author,
        "labels": entry.labels, "pinned": entry.pinned, "media": entry.media,
        "authors": entry.authors,
    }  # fmt: skip
    try:
        msgspec.convert(msgspec.to_builtins(content), EntryCreate)
    except msgspec.ValidationError as exc:
        message, _, at = str(exc).rpartition(" - at `")
        where = path + at.rstrip("`").removeprefix("$")
        raise ImportRefused(number, where, message or str(exc)) from None
