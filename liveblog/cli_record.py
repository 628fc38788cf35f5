"""``liveblog export``, ``import`` and ``archive``: a blog that leaves, comes back, or stays
behind as a static site.

With ``LIVEBLOG_REDIS_URL`` set they work on the store directly; with ``--url`` (or
``LIVEBLOG_URL``, or on the memory engine, which lives inside a running server) they go
through that server's API with ``LIVEBLOG_ADMIN_TOKEN``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, Any

import msgspec

from liveblog.config import Settings
from liveblog.editorial import record, transfer
from liveblog.engine import make_engine
from liveblog.engine.base import BlogExists, BlogNotFound, EngineError, ImportInProgress
from liveblog.pages import archive

_BLOCK = 1024 * 1024


def add_record_commands(commands: Any) -> None:
    url_help = (
        "work through this running server's API, with LIVEBLOG_ADMIN_TOKEN (default:"
        " $LIVEBLOG_URL; on the memory engine, http://127.0.0.1:8000)"
    )
    p_export = commands.add_parser("export", help="write a blog as NDJSON to standard output")
    p_export.add_argument("slug")
    p_export.add_argument("--url", default=os.environ.get("LIVEBLOG_URL"), help=url_help)

    p_import = commands.add_parser(
        "import", help="create a blog from an export (never over an existing one)"
    )
    p_import.add_argument("file", type=Path, help="an export; - reads standard input")
    p_import.add_argument("--slug", help="import it under this name instead of its own")
    p_import.add_argument("--url", default=os.environ.get("LIVEBLOG_URL"), help=url_help)

    p_archive = commands.add_parser(
        "archive", help="write a blog as a static site (HTML, its photos, no script)"
    )
    p_archive.add_argument("slug")
    p_archive.add_argument("directory", type=Path)
    p_archive.add_argument("--from", dest="source", type=Path, help="an export file to read")
    p_archive.add_argument("--per-page", type=int, default=archive.PER_PAGE)
    p_archive.add_argument("--url", default=os.environ.get("LIVEBLOG_URL"), help=url_help)


def run_record_command(args: argparse.Namespace, settings: Settings) -> None:
    url = args.url or ("http://127.0.0.1:8000" if settings.engine_name == "memory" else None)
    try:
        if args.command == "export":
            if url:
                _export_through(url, settings.admin_token, args.slug)
            else:
                asyncio.run(_export(settings, args.slug))
        elif args.command == "import":
            if url:
                _import_through(url, settings.admin_token, args.file, args.slug)
            else:
                asyncio.run(_import(settings, args.file, args.slug))
        else:
            asyncio.run(_archive(settings, args, None if args.source else url))
    except BlogNotFound as exc:
        sys.exit(f"liveblog: no blog {exc} exists.")
    except BlogExists as exc:
        sys.exit(
            f"liveblog: a blog {exc} exists already; an import never overwrites one (--slug NEW"
            " imports it under another name)."
        )
    except ImportInProgress as exc:
        sys.exit(f"liveblog: another import of {exc} is writing it now.")
    except transfer.ImportRefused as exc:
        sys.exit(f"liveblog: not an export this server can import: {exc}")
    except (EngineError, OSError, ValueError) as exc:
        sys.exit(f"liveblog: {exc}")


# --- on the store --------------------------------------------------------------------------


async def _export(settings: Settings, slug: str) -> None:
    engine = make_engine(settings)
    try:
        out = sys.stdout.buffer
        async for line in await transfer.export_blog(engine, slug):
            out.write(line)
        out.flush()
    finally:
        await engine.close()


async def _import(settings: Settings, path: Path, slug: str | None) -> None:
    engine = make_engine(settings)
    try:
        with _open(path) as file:
            imported = await transfer.import_blog(
                engine, transfer.file_lines(file), slug=slug, by=record.COMMAND_LINE
            )
    finally:
        await engine.close()
    blog = imported.blog
    print(f"imported {blog.slug!r}: {imported.entries} entries, {blog.last_event_id}")


async def _archive(settings: Settings, args: argparse.Namespace, url: str | None) -> None:
    if args.source is not None:
        with _open(args.source) as file:
            done = await archive.write_archive(
                transfer.file_lines(file)(), args.directory, settings, per_page=args.per_page
            )
    elif url:
        lines = _lines_of(_export_response(url, settings.admin_token, args.slug))
        done = await archive.write_archive(
            _async(lines), args.directory, settings, per_page=args.per_page
        )
    else:
        engine = make_engine(settings)
        try:
            exported = await transfer.export_blog(engine, args.slug)
            done = await archive.write_archive(
                exported, args.directory, settings, per_page=args.per_page
            )
        finally:
            await engine.close()
    print(
        f"archived {done.entries} entries on {done.pages} pages and {done.photos} photos"
        f" in {done.directory}"
    )
    for missing in done.missing:
        print(f"  photo not copied (its address is kept): {missing}", file=sys.stderr)


def _open(path: Path) -> IO[bytes]:
    """The file, or for ``-`` standard input copied to a temporary file (an import reads
    its file twice; a pipe can be read once)."""
    if str(path) != "-":
        return path.open("rb")
    spool = tempfile.TemporaryFile(prefix="liveblog-import-")  # noqa: SIM115 - the caller's
    while block := sys.stdin.buffer.read(_BLOCK):
        spool.write(block)
    spool.seek(0)
    return spool


async def _async(lines: Iterator[bytes]) -> AsyncIterator[bytes]:
    for line in lines:
        yield line


# --- through a running server --------------------------------------------------------------


def _call(url: str, admin_token: str | None, **options: Any) -> Any:
    if not admin_token:
        sys.exit("liveblog: set LIVEBLOG_ADMIN_TOKEN to the server's admin token.")
    headers = {"Authorization": f"Bearer {admin_token}", **options.pop("headers", {})}
    request = urllib.request.Request(url, headers=headers, **options)
    try:
        return urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as exc:
        sys.exit(f"liveblog: {url} answered {exc.code}: {exc.read().decode(errors='replace')}")
    except OSError as exc:
        sys.exit(f"liveblog: cannot reach the server at {url} ({exc}); is `liveblog serve` on?")


def _export_response(url: str, admin_token: str | None, slug: str) -> Any:
    path = f"/api/blogs/{urllib.parse.quote(slug, safe='')}/export"
    return _call(url.rstrip("/") + path, admin_token)


def _lines_of(response: Any) -> Iterator[bytes]:
    with response:
        for line in response:
            if line.strip():
                yield line.rstrip(b"\r\n")


def _export_through(url: str, admin_token: str | None, slug: str) -> None:
    out = sys.stdout.buffer
    with _export_response(url, admin_token, slug) as response:
        while block := response.read(_BLOCK):
            out.write(block)
    out.flush()


def _import_through(url: str, admin_token: str | None, path: Path, slug: str | None) -> None:
    query = f"?slug={urllib.parse.quote(slug, safe='')}" if slug else ""
    with _open(path) as file:
        size = os.fstat(file.fileno()).st_size
        headers = {"Content-Type": transfer.MEDIA_TYPE, "Content-Length": str(size)}
        with _call(
            url.rstrip("/") + "/api/blogs/import" + query, admin_token,
            data=file, method="POST", headers=headers,
        ) as response:  # fmt: skip
            blog = msgspec.json.decode(response.read())
    print(f"imported {blog['slug']!r}: {blog['last_event_id']}")
