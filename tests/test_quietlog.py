"""A client sending garbage cannot flood the server's log."""

from __future__ import annotations

import logging

import pytest

from liveblog.ops.quietlog import ClientGarbageFilter
from tests.support import raw_ws
from tests.support.clients import Editor


async def test_invalid_utf8_frames_are_logged_once_without_a_traceback(
    server: str, editor: Editor, caplog: pytest.LogCaptureFixture
) -> None:
    await editor.create_blog("noise")
    for quiet in logging.getLogger("uvicorn.error").filters:
        if isinstance(quiet, ClientGarbageFilter):
            quiet.reset()  # one per process: an earlier test may have used this minute's line
    with caplog.at_level(logging.DEBUG, logger="uvicorn.error"):
        for _ in range(20):
            socket = await raw_ws.RawSocket.connect(server, "/blogs/noise/ws")
            socket.send(raw_ws.frame(raw_ws.TEXT, b"\xff\xfe"))
            assert await socket.close_code() == 1007
            await socket.wait_closed()
    garbage = [r for r in caplog.records if "Invalid UTF-8" in r.getMessage()]
    assert len(garbage) == 1
    assert garbage[0].levelno == logging.WARNING and garbage[0].exc_info is None


def test_the_filter_lets_one_through_per_interval_and_counts_the_rest() -> None:
    quiet = ClientGarbageFilter(interval=0.0)
    record = logging.makeLogRecord({"msg": "Invalid HTTP request received.", "levelno": 30})
    assert quiet.filter(record)
    assert "0 more" in record.getMessage()
    other = logging.makeLogRecord({"msg": "Something about the server.", "levelno": 40})
    assert quiet.filter(other) and other.getMessage() == "Something about the server."
