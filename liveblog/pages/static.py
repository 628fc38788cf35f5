"""``/static/``: the pages' scripts, styles and icons, compressed once per process.

A crowd arriving at a breaking story asks for the same few files thousands of times. Each file's
Brotli and gzip forms are made the first time a reader asks for that coding (at the codecs' best,
in a worker thread, one computation however many ask at once), then served from memory: one
form per file and coding, replaced when the file changes. Each form has its own ETag (the file's,
with the coding appended), so a cache never mistakes one for another, and ``If-None-Match`` on it
answers 304. A ``Range`` request, or a client that accepts no coding, gets the file itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import FileResponse, Response
from starlette.types import Scope

from liveblog.pages.security import SecureStaticFiles
from liveblog.serving.compression import (
    STORED,
    compressible,
    encode,
    request_coding,
    vary_on_coding,
)


@dataclasses.dataclass(frozen=True, slots=True)
class _Form:
    stamp: tuple[int, int]  # the file's mtime and size when it was compressed
    body: bytes


class CompressedForms:
    """Each file's compressed forms, by (path, coding): one form each, bounded by the files."""

    def __init__(self) -> None:
        self._forms: dict[tuple[str, str], _Form] = {}
        self._flights: dict[tuple[str, str, tuple[int, int]], asyncio.Future[_Form]] = {}
        self.made = 0  # compressions run (tests count them)

    async def get(self, path: str, stat: os.stat_result, coding: str) -> bytes:
        stamp = (stat.st_mtime_ns, stat.st_size)
        form = self._forms.get((path, coding))
        if form is not None and form.stamp == stamp:
            return form.body
        key = (path, coding, stamp)
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(asyncio.to_thread(self._make, path, coding, stamp))
            self._flights[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        return (await asyncio.shield(flight)).body

    def _make(self, path: str, coding: str, stamp: tuple[int, int]) -> _Form:
        with open(path, "rb") as file:
            body = encode(file.read(), coding, STORED)
        self.made += 1
        return _Form(stamp, body)

    def _landed(self, key: tuple[str, str, tuple[int, int]], done: asyncio.Future[_Form]) -> None:
        self._flights.pop(key, None)
        if done.cancelled() or done.exception() is not None:
            return
        path, coding, _ = key
        self._forms[path, coding] = done.result()


FORMS = CompressedForms()  # per process: the files are the package's, the same for every app


class StaticAssets(SecureStaticFiles):
    def __init__(
        self, *args: object, forms: CompressedForms | None = None, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.forms = forms or FORMS

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if not compressible(response.headers.get("content-type")):
            return response
        if not scope["app"].state.settings.compression:
            return response
        vary_on_coding(response.headers)  # 304s too: they name a form
        request = Headers(scope=scope)
        coding = request_coding(scope)
        if not isinstance(response, FileResponse) or coding is None or "range" in request:
            return response
        stat = response.stat_result
        if stat is None:
            return response
        try:
            body = await self.forms.get(str(response.path), stat, coding)
        except OSError:  # the file went away since it was found: say so as the file would
            return response
        if len(body) >= stat.st_size:
            return response
        return _coded(response, body, coding, request)


def _coded(file: FileResponse, body: bytes, coding: str, request: Headers) -> Response:
    headers = MutableHeaders(raw=[(k, v) for k, v in file.raw_headers if k != b"content-length"])
    etag = headers["etag"].removesuffix('"') + f'-{coding}"'
    headers["ETag"] = etag
    headers["Content-Encoding"] = coding
    if _matches(request.get("if-none-match"), etag):
        del headers["content-type"]
        del headers["content-encoding"]  # a 304 has no body to decode
        response = Response(status_code=304)
        response.raw_headers = headers.raw
        return response
    response = Response(body, 200)
    response.raw_headers = [*headers.raw, (b"content-length", str(len(body)).encode())]
    return response


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags
