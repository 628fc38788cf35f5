"""Who may open a live stream: a cap per process, a cap per client address, and the WebSocket
origins allowed. Checked before a stream takes anything from the hub or the engine.

The cap per process keeps a crowd (or two clients opening 10,000 streams each) from using up
every file descriptor: past it a new stream gets 503 with ``Retry-After`` and open streams are
untouched, and the server still answers ``/metrics``, ``/readyz`` and the editor API.

Connections in the middle of a request body are not streams and are not counted here: the HTTP
layer caps them per process on its own (``LIVEBLOG_MAX_REQUEST_BODIES``, 256, in
``liveblog.delivery.guard``) out of the ``RESERVED_FILES`` this cap leaves aside, and cuts each
that does not keep up the minimum rate, so streams and bodies together stay under the limit.
"""

from __future__ import annotations

import collections
import random

from starlette.datastructures import Headers
from starlette.types import Scope

from liveblog.config import Settings
from liveblog.problems import Problem

RESERVED_FILES = 1024  # the engine's pool, the API (request bodies: 256 of these), pages, logs


class Admission:
    def __init__(self, max_streams: int, per_client: int, origins: frozenset[str] | None) -> None:
        self.max_streams = max_streams
        self.per_client = per_client
        self.origins = origins
        self.streams = 0
        self._per_client: collections.Counter[str] = collections.Counter()

    @classmethod
    def from_settings(cls, settings: Settings, open_files: int) -> Admission:
        max_streams = settings.max_connections or max(open_files - RESERVED_FILES, 1)
        origins = None
        if settings.allowed_origins:
            origins = frozenset(
                o.strip().rstrip("/") for o in settings.allowed_origins.split(",") if o.strip()
            )
        return cls(max_streams, settings.max_streams_per_client, origins)

    def enter(self, scope: Scope) -> Problem | None:
        """Admit one stream (then ``leave`` it exactly once), or say why not."""
        if self.origins is not None and scope["type"] == "websocket":
            # Browsers always send Origin on a WebSocket; scripts without one are not the
            # cross-site attack this guards against.
            origin = Headers(scope=scope).get("origin")
            if origin is not None and origin.rstrip("/") not in self.origins:
                return Problem(403, "This origin may not open a WebSocket here.")
        if self.streams >= self.max_streams:
            return _busy(f"This server holds its most live streams ({self.max_streams}).")
        client = _client(scope)
        if self.per_client and self._per_client[client] >= self.per_client:
            return _busy(f"At most {self.per_client} live streams per client address.")
        self.streams += 1
        self._per_client[client] += 1
        return None

    def leave(self, scope: Scope) -> None:
        self.streams -= 1
        client = _client(scope)
        self._per_client[client] -= 1
        if self._per_client[client] <= 0:
            del self._per_client[client]


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else ""


def _busy(detail: str) -> Problem:
    # Spread the retries: a crowd turned away together should not come back together.
    return Problem(503, detail, headers={"Retry-After": str(random.randint(2, 10))})
