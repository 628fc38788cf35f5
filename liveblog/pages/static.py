"""``/static/``: the pages' scripts, styles and icons, answered from memory.

A crowd arriving at a breaking story asks for the same few files thousands of times: each answer
is a dict lookup (``liveblog.pages.static_files``) and headers built once, with no thread, no
``stat`` and no path resolution. ``GET`` and ``HEAD``; the coding the client prefers (Brotli,
gzip; the file as written when it accepts neither, or when ``LIVEBLOG_COMPRESSION`` is off);
``If-None-Match`` on the form it would get answers 304; ``Range`` gets a range of the file as
written (one range; a request for several gets the whole file, which HTTP allows).

The URL ``static_url()`` gives (``?v=<version>``, the version the file has) is ``immutable``;
any other URL of the file (none, or a version this process does not serve: a page from before a
deploy) is ``no-cache``, revalidated by its ETag.
"""

from __future__ import annotations

import functools

from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from liveblog.pages.static_files import PREFIX, Form, StaticFile, StaticFiles, static_files
from liveblog.serving.compression import negotiate

_METHODS = ("GET", "HEAD")
_BODY_HEADERS = (b"content-type", b"content-length")


class StaticAssets:
    """The ASGI app of ``/static/`` (mounted there, or called straight by the app for a file it
    has: ``find``)."""

    def __init__(self, files: StaticFiles | None = None) -> None:
        self.files = files or static_files()

    def find(self, scope: Scope) -> StaticFile | None:
        """The file a ``GET`` or ``HEAD`` of ``/static/<path>`` asks for, if there is one."""
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if not path.startswith(PREFIX) or scope["method"] not in _METHODS:
            return None
        return self.files.files.get(path[len(PREFIX) :])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in _METHODS:
            raise HTTPException(status_code=405, headers={"Allow": "GET, HEAD"})
        # Mounted at /static: the path under the mount.
        name = scope["path"][len(scope.get("root_path", "")) :].removeprefix("/")
        file = self.files.files.get(name)
        if file is None:
            raise HTTPException(status_code=404)  # the app's not-found page
        await self.answer(file, scope, send, compression=scope["app"].state.settings.compression)

    async def answer(
        self, file: StaticFile, scope: Scope, send: Send, *, compression: bool
    ) -> None:
        """Send ``file`` as the request asks (``compression``: the app's setting)."""
        accept = if_none_match = ranges = if_range = None
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept = value
            elif name == b"if-none-match":
                if_none_match = value
            elif name == b"range":
                ranges = value
            elif name == b"if-range":
                if_range = value
        immutable = scope.get("query_string") == file.query
        vary = file.compressible and compression
        is_head = scope["method"] == "HEAD"
        form = file.plain
        if ranges is None and vary and accept is not None:
            coding = _coding(accept)
            if coding is not None:
                form = file.coded.get(coding) or await self.files.coded(file, coding)
        if if_none_match is not None and _matches(if_none_match, form.etag):
            headers = file.head(form, immutable=immutable, vary=vary, full=False)
            await _send(send, 304, headers, b"")
            return
        headers = file.head(form, immutable=immutable, vary=vary)
        if ranges is not None and not is_head and (if_range is None or if_range == form.etag):
            span = _range(ranges, len(form.body))
            if span == ():
                await _send(send, 416, _unsatisfiable(form, headers), b"")
                return
            if span:
                await _send(send, 206, *_partial(form, headers, span))
                return
        await _send(send, 200, headers, b"" if is_head else form.body)


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    # A copy of the headers: whoever sends them on may add its own (the request id).
    await send({"type": "http.response.start", "status": status, "headers": list(headers)})
    await send({"type": "http.response.body", "body": body})


@functools.lru_cache(maxsize=64)
def _negotiated(accept: bytes) -> str | None:
    return negotiate(accept.decode("latin-1"))


def _coding(accept: bytes) -> str | None:
    # Browsers send a handful of distinct values: each is parsed once. A long one is not kept.
    return _negotiated(accept) if len(accept) <= 256 else negotiate(accept.decode("latin-1"))


def _matches(if_none_match: bytes, etag: bytes) -> bool:
    """``If-None-Match``'s weak comparison (RFC 9110 13.1.2): any listed tag, or ``*``."""
    if if_none_match == etag:
        return True
    tags = [tag.strip().removeprefix(b"W/") for tag in if_none_match.split(b",")]
    return etag in tags or b"*" in tags


def _range(header: bytes, size: int) -> tuple[int, int] | tuple[()] | None:
    """The one byte range (first, last) ``header`` asks of ``size`` bytes; ``()`` when none of
    it is there (416); None to send the whole file: several ranges, or a header this does not
    understand, which HTTP says to ignore."""
    unit, _, spec = header.partition(b"=")
    if unit.strip().lower() != b"bytes" or b"," in spec:
        return None
    first, dash, last = (part.strip() for part in spec.partition(b"-"))
    if not dash or not (first or last) or len(first) > 15 or len(last) > 15:
        return None  # 15 digits: past any file, and int() of it costs nothing
    if (first and not first.isdigit()) or (last and not last.isdigit()):
        return None
    if not first:  # the last N bytes
        count = int(last)
        return (max(size - count, 0), size - 1) if count and size else ()
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if last and int(last) < start:
        return None  # invalid: ignored
    if start >= size:
        return ()
    return start, end


def _partial(
    form: Form, headers: list[tuple[bytes, bytes]], span: tuple[int, int]
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    start, end = span
    body = form.body[start : end + 1]
    content_range = f"bytes {start}-{end}/{len(form.body)}".encode()
    sized = [
        (b"content-length", str(len(body)).encode()) if name == b"content-length" else (name, value)
        for name, value in headers
    ]
    return [*sized, (b"content-range", content_range)], body


def _unsatisfiable(form: Form, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    kept = [(name, value) for name, value in headers if name not in _BODY_HEADERS]
    size = f"bytes */{len(form.body)}".encode()
    return [(b"content-range", size), (b"content-length", b"0"), *kept]
