"""How ``liveblog serve`` runs uvicorn: one set of options, used by the command line and by the test
suite's servers alike, so that tests run what production runs.

The fast path (``liveblog.delivery.fastpath``) and the request-head limits
(``liveblog.delivery.guard``) subclass uvicorn's private protocol classes. At start-up their surface
is checked: a uvicorn that lacks it serves on its own protocols (slower, and without the head
limits), and the log says so loudly. ``hosts`` checks the Host header at the app's entry.

May import: ``config``, ``delivery`` (the protocols), ``problems``.
"""

from __future__ import annotations

import functools
import logging
import resource
from typing import Any

import uvicorn

from liveblog.config import Settings
from liveblog.delivery import fastpath
from liveblog.delivery.guard import GuardedHttpToolsProtocol, HeadLimits

logger = logging.getLogger("liveblog")

PLAIN = ("httptools", "websockets-sansio")
# What a client may send in one WebSocket message: a dashboard's op is under 200 bytes and a
# reader sends nothing, while uvicorn's default (16 MiB) lets anyone park that much per socket.
WS_MAX_MESSAGE_BYTES = 64 * 1024


def protocols(settings: Settings, *, fast_path: bool = True) -> tuple[Any, Any]:
    """uvicorn's ``http`` and ``ws`` protocols: the fast path's when it can run, and the head
    limits of ``settings`` whenever uvicorn offers what they hook."""
    problem = fastpath.unsupported()
    if problem is not None:
        logger.warning(
            "fast path off and request-head limits off (%s); streams take the plain ASGI path",
            problem,
        )
        return PLAIN
    if fastpath.untested():
        first, last = fastpath.TESTED_UVICORN
        logger.warning(
            "uvicorn %s is outside the versions the fast path was tested on (%s to before %s); "
            "its surface checks out, so the fast path is on",
            uvicorn.__version__,
            ".".join(map(str, first)),
            ".".join(map(str, last)),
        )
    limits = HeadLimits(
        max_head_bytes=settings.max_request_head_bytes,
        max_headers=settings.max_request_headers,
        head_timeout=settings.request_head_timeout_seconds,
    )
    if not fast_path:
        return functools.partial(GuardedHttpToolsProtocol, limits=limits), PLAIN[1]
    http = functools.partial(fastpath.DirectHttpToolsProtocol, limits=limits)
    return http, fastpath.DirectWebSocketProtocol


def options(settings: Settings, *, fast_path: bool = True) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` or ``uvicorn.Config``."""
    http, ws = protocols(settings, fast_path=fast_path)
    return {
        "loop": "uvloop",
        "http": http,
        "ws": ws,
        "ws_per_message_deflate": False,  # one frame's bytes serve every reader
        "ws_max_size": WS_MAX_MESSAGE_BYTES,  # over it: close 1009
        "lifespan": "on",
        "timeout_graceful_shutdown": 5,
        "timeout_keep_alive": settings.keepalive_timeout_seconds,
        "proxy_headers": True,
    }


def raise_file_limit() -> int:
    """Raise this process's soft limit of open files to the hard limit (each reader holds one);
    returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:
            logger.warning("cannot raise the open-file limit from %d to %d: %s", soft, hard, exc)
    return soft
