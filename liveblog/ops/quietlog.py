"""Client garbage must not flood the logs.

Uvicorn logs a WebSocket text frame with invalid UTF-8 as an ERROR with a full traceback, and an
unparsable HTTP request as a WARNING: any anonymous client could write the log full with them.
They say nothing about the server, so each kind is let through at most once a minute, as one
line (no traceback), telling how many were left out since.
"""

from __future__ import annotations

import logging
import time

_CLIENT_GARBAGE = (
    "Invalid UTF-8 sequence received from client.",
    "Invalid HTTP request received.",
)
INTERVAL_SECONDS = 60.0


class ClientGarbageFilter(logging.Filter):
    def __init__(self, interval: float = INTERVAL_SECONDS) -> None:
        super().__init__()
        self.interval = interval
        self._last: dict[str, float] = {}
        self._dropped: dict[str, int] = {}

    def reset(self) -> None:
        self._last.clear()
        self._dropped.clear()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg
        if message not in _CLIENT_GARBAGE:
            return True
        now = time.monotonic()
        if now - self._last.get(message, -self.interval) < self.interval:
            self._dropped[message] = self._dropped.get(message, 0) + 1
            return False
        self._last[message] = now
        dropped = self._dropped.pop(message, 0)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        record.msg = f"{message} (a client's error; {dropped} more not logged in the last minute)"
        return True


def install() -> None:
    """Once per process: on uvicorn's error logger (the one these records come from)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, ClientGarbageFilter) for f in logger.filters):
        logger.addFilter(ClientGarbageFilter())
