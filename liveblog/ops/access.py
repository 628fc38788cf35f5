"""The access log and the request id, for every request but live streams.

Each request gets an id: the proxy's ``X-Request-ID`` when it sends a sane one (nginx sends its
``$request_id``, see deploy/nginx.conf), else one made here. It goes back in the response's
``X-Request-ID`` header, into the access log record, and into every record logged while the
request is answered, so one id ties the proxy's log, the app's log and what a client reports.

Live streams (SSE and WebSocket) never come through here (``LiveblogApp`` dispatches them past
it): a reader's connection costs nothing per event, nor per connection, in logging; the metrics
count them, and the proxy's log has each one when it ends.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import secrets
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from liveblog.ops.logs import request_id

logger = logging.getLogger("liveblog.access")

HEADER = b"x-request-id"
# What an id from the proxy may look like: printable, short, no spaces or quotes (it is echoed
# in a header and logged as is).
_SANE = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:+=/-]{0,127}")


# An id made here: this process's random prefix and a count, 32 hex digits in all. Unique, which
# is all an id must be, without a read of the system's random source per request (a crowd's
# 70,000 requests made that ~2% of the process's time). A forked process draws its own prefix.
_PREFIX = ""
_COUNT = itertools.count(1)


def _draw_prefix() -> None:
    global _PREFIX, _COUNT
    _PREFIX, _COUNT = secrets.token_hex(8), itertools.count(1)


_draw_prefix()
os.register_at_fork(after_in_child=_draw_prefix)


def new_id() -> str:
    return f"{_PREFIX}{next(_COUNT):016x}"


def incoming_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == HEADER:
            return value.decode("ascii") if _SANE.fullmatch(value) else None
    return None


async def logged(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    on_response: Callable[[str, int], None],
    log: bool,
) -> None:
    """Answer one HTTP request with ``app``, with its id, its access record and its count."""
    started = time.perf_counter()
    rid = incoming_id(scope) or new_id()
    status = 500  # until a response starts: what the client gets if none does
    header = (HEADER, rid.encode("ascii"))

    async def send_with_id(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            message["headers"] = [*message.get("headers", ()), header]
        await send(message)

    token = request_id.set(rid)
    try:
        await app(scope, receive, send_with_id)
    finally:
        request_id.reset(token)
        method = scope["method"]
        on_response(method, status)
        if log:
            ms = round((time.perf_counter() - started) * 1000, 2)
            client = scope.get("client")
            logger.info(
                '"%s %s" %d %.2f ms id=%s',
                method,
                scope["path"],
                status,
                ms,
                rid,
                extra={
                    "method": method,
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": ms,
                    "request_id": rid,
                    "client": client[0] if client else None,
                },
            )
