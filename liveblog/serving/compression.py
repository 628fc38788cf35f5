"""Content coding of HTTP responses: which coding a request accepts, and compressing bodies.

Three users, each compressing as rarely as it can:
- live streams (``liveblog.streams``) take the codings of their events from
  ``liveblog.delivery.frames``, compressed once per event for every reader; they only ask
  ``negotiate`` here, and never pass through the middleware;
- shared pages (``liveblog.pages.cache``) and static files (``liveblog.pages.static``) keep each
  coding of a body once, made the first time a reader asks for it (``encode`` with ``STORED``
  effort: the best the codec has, since it is paid once);
- every other response (API answers, feeds, the newsroom's pages) passes
  :class:`CompressionMiddleware`, which compresses it per response at a cheap level.

Brotli (Google's ``brotli`` bindings) goes first when a client accepts it, gzip second.
"""

from __future__ import annotations

import gzip
from typing import Literal

import brotli
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CODINGS = ("br", "gzip")  # the server's order of preference
# Below this many bytes a compressed body saves less than its headers cost.
MINIMUM_BYTES = 1024
Effort = Literal["stored", "per_response"]
STORED: Effort = "stored"
PER_RESPONSE: Effort = "per_response"
# brotli quality and gzip level: the best for bytes kept and served many times; for a body
# compressed on each request, levels that cost well under a millisecond for a page.
_LEVELS: dict[Effort, tuple[int, int]] = {"stored": (11, 9), "per_response": (5, 6)}
_COMPRESSIBLE = (
    "text/",
    "application/json",
    "application/problem+json",
    "application/javascript",
    "application/atom+xml",
    "application/xml",
    "application/manifest+json",
    "image/svg+xml",
)


def negotiate(accept_encoding: str | None, offered: tuple[str, ...] = CODINGS) -> str | None:
    """The coding of ``offered`` that ``Accept-Encoding`` prefers (RFC 9110 12.5.3): the
    highest ``q``, ties to the earlier in ``offered``; ``*`` stands for any coding not named;
    ``q=0`` refuses one. None: send the body as it is (also when the header is absent)."""
    if not accept_encoding:
        return None
    weights: dict[str, float] = {}
    for item in accept_encoding.split(",")[:64]:  # a real client names a handful
        name, _, params = item.partition(";")
        name = name.strip().lower()
        name = "gzip" if name == "x-gzip" else name
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    weight = 0.0
        weights.setdefault(name, weight)
    best, best_weight = None, 0.0
    for coding in offered:
        weight = weights.get(coding, weights.get("*", 0.0))
        if weight > best_weight:
            best, best_weight = coding, weight
    return best


def request_coding(scope: Scope, offered: tuple[str, ...] = CODINGS) -> str | None:
    return negotiate(Headers(scope=scope).get("accept-encoding"), offered)


def compressible(content_type: str | None) -> bool:
    return content_type is not None and content_type.lower().startswith(_COMPRESSIBLE)


def encode(body: bytes, coding: str, effort: Effort) -> bytes:
    quality, level = _LEVELS[effort]
    if coding == "br":
        compressed: bytes = brotli.compress(body, mode=brotli.MODE_TEXT, quality=quality)
        return compressed
    if coding == "gzip":
        return gzip.compress(body, compresslevel=level, mtime=0)
    raise ValueError(f"unknown content coding {coding!r}")


def coded_etag(etag: str | None) -> str | None:
    """The ETag of a compressed response whose body the application tagged: weak, as the bytes
    are not those the tag was made for, while what they stand for is (nginx does the same). A
    weak tag still validates ``If-None-Match``; ``If-Match`` on entries accepts ``W/"3"``."""
    if etag is None or etag.startswith("W/"):
        return etag
    return "W/" + etag


def vary_on_coding(headers: MutableHeaders) -> None:
    """``Vary: Accept-Encoding`` (once): caches keep each coding's answer apart."""
    if "accept-encoding" not in headers.get("vary", "").lower():
        headers.add_vary_header("Accept-Encoding")


def mark_coded(headers: MutableHeaders, coding: str | None, length: int) -> None:
    """Headers of a response whose body was compressed with ``coding`` (None: was not, but could
    have been): the coding, the new length and a weak ETag, and Vary for caches either way."""
    vary_on_coding(headers)
    if coding is None:
        return
    headers["Content-Encoding"] = coding
    headers["Content-Length"] = str(length)
    etag = coded_etag(headers.get("etag"))
    if etag is not None:
        headers["ETag"] = etag


class CompressionMiddleware:
    """Compresses whole response bodies the client accepts a coding for.

    Left as they are: WebSockets, responses that stream (their first body message says more is
    coming: the newsroom's event stream, files sent in parts), bodies already coded (shared
    pages and static files bring their own), ``Cache-Control: no-transform``, types that do not
    compress (images, media), and bodies under ``MINIMUM_BYTES``. The readers' live streams
    never come here: the app hands them to their endpoints before the middleware stack."""

    def __init__(self, app: ASGIApp, *, enabled: bool = True) -> None:
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.enabled:
            await self.app(scope, receive, send)
            return
        coding = request_coding(scope)
        start: Message | None = None

        async def send_coded(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message  # held until the first body says what the response is
                return
            if start is not None:
                held, start = start, None
                if message["type"] == "http.response.body" and not message.get("more_body"):
                    message = _coded(held, message, coding)
                await send(held)
            await send(message)

        await self.app(scope, receive, send_coded)


def _coded(start: Message, message: Message, coding: str | None) -> Message:
    """Compress a whole body (``start``'s headers are updated in place); or leave it."""
    headers = MutableHeaders(scope=start)
    status = start["status"]
    if (
        not compressible(headers.get("content-type"))
        or "content-encoding" in headers
        or status < 200
        or status in (204, 206, 304)
        or "no-transform" in headers.get("cache-control", "").lower()
        or "text/event-stream" in headers.get("content-type", "")
    ):
        return message
    body: bytes = message.get("body", b"")
    if coding is None or len(body) < MINIMUM_BYTES:
        mark_coded(headers, None, len(body))
        return message
    coded = encode(body, coding, PER_RESPONSE)
    mark_coded(headers, coding, len(coded))
    return {**message, "body": coded}
