"""How ``liveblog serve`` runs uvicorn: one set of options, used by the command line and by the
test suite's servers alike, so that tests run what production runs.

The fast path (``liveblog.fastpath``) needs uvicorn's private protocol classes to be as they
were when it was written. At start-up their surface is checked: a uvicorn that lacks it serves
on its own protocols (the plain ASGI path, slower, same behaviour), and the log says so.
"""

from __future__ import annotations

import logging
from typing import Any

import uvicorn

from liveblog import fastpath

logger = logging.getLogger("liveblog")


def protocols(fast_path: bool = True) -> tuple[Any, Any]:
    """uvicorn's ``http`` and ``ws`` protocols: the fast path's when it can run."""
    plain = ("httptools", "websockets-sansio")
    if not fast_path:
        return plain
    problem = fastpath.unsupported()
    if problem is not None:
        logger.warning("fast path off (%s); streams take the plain ASGI path", problem)
        return plain
    if fastpath.untested():
        first, last = fastpath.TESTED_UVICORN
        logger.warning(
            "uvicorn %s is outside the versions the fast path was tested on (%s to before %s); "
            "its surface checks out, so the fast path is on",
            uvicorn.__version__,
            ".".join(map(str, first)),
            ".".join(map(str, last)),
        )
    return fastpath.DirectHttpToolsProtocol, fastpath.DirectWebSocketProtocol


def options(*, fast_path: bool = True) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` or ``uvicorn.Config``."""
    http, ws = protocols(fast_path)
    return {
        "loop": "uvloop",
        "http": http,
        "ws": ws,
        "ws_per_message_deflate": False,  # one frame's bytes serve every reader
        "lifespan": "on",
        "timeout_graceful_shutdown": 5,
        "proxy_headers": True,
    }
