"""Logs a pipeline can read: with LIVEBLOG_LOG_FORMAT=json, ``liveblog serve`` writes one JSON
object per line (uvicorn's records too); each request gets an id, the proxy's when it sends a
sane one, which the response carries in X-Request-ID and the access record logs. Live streams
are not logged per reader."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.clients import Editor, SSEReader
from tests.support.servers import ADMIN_TOKEN, ServerProcess

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def json_server(redis_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    app = ServerProcess(
        {"LIVEBLOG_REDIS_URL": redis_url, "LIVEBLOG_LOG_FORMAT": "json"},
        log=tmp_path / "liveblog.log",
    )
    app.start()
    yield app
    app.stop()


def records(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text().splitlines()
    assert lines
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    for record in parsed:
        assert isinstance(record, dict)
        assert {"ts", "level", "logger", "msg"} <= record.keys(), record
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", record["ts"])
    return parsed


async def test_json_lines_with_request_ids(json_server: ServerProcess, tmp_path: Path) -> None:
    url = json_server.url
    editor = Editor(url)
    await editor.create_blog("logged")
    reader = await SSEReader(url, "/blogs/logged/events").connect()
    await editor.post("logged", headline="one")
    await reader.wait_for(1)
    async with httpx.AsyncClient(base_url=url, headers=AUTH) as client:
        from_proxy = await client.get("/api/blogs/logged", headers={"X-Request-ID": "a1b2c3-proxy"})
        made = await client.get("/api/blogs/logged/entries")
        insane = await client.get("/api/blogs/nope", headers={"X-Request-ID": "no spaces\tplease"})
        too_long = await client.get("/healthz", headers={"X-Request-ID": "x" * 200})
    assert from_proxy.headers["x-request-id"] == "a1b2c3-proxy"  # the proxy's own id
    for response in (made, insane, too_long):
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
    assert insane.status_code == 404
    await reader.close()
    await editor.close()
    json_server.stop()

    logged = records(tmp_path / "liveblog.log")
    access = [r for r in logged if r["logger"] == "liveblog.access"]
    by_id = {r["request_id"]: r for r in access}
    for response, path in (
        (from_proxy, "/api/blogs/logged"),
        (made, "/api/blogs/logged/entries"),
        (insane, "/api/blogs/nope"),
        (too_long, "/healthz"),
    ):
        record = by_id[response.headers["x-request-id"]]
        assert record["method"] == "GET" and record["path"] == path
        assert record["status"] == response.status_code
        assert isinstance(record["duration_ms"], float) and record["duration_ms"] >= 0
        assert record["level"] == "info"
    posted = [r for r in access if r["method"] == "POST"]
    assert [r["status"] for r in posted] == [201, 201]
    # The live stream is not in the access log: readers cost it nothing.
    assert not any(r["path"].endswith("/events") for r in access)
    # uvicorn's own records are JSON lines too.
    assert any(r["logger"].startswith("uvicorn") and "Started server process" in r["msg"]
               for r in logged)  # fmt: skip


def test_text_logs_by_default(redis_url: str, tmp_path: Path) -> None:
    app = ServerProcess({"LIVEBLOG_REDIS_URL": redis_url}, log=tmp_path / "liveblog.log")
    app.start()
    response = httpx.get(f"{app.url}/healthz")
    app.stop()
    text = (tmp_path / "liveblog.log").read_text()
    rid = response.headers["x-request-id"]
    assert re.search(rf'INFO liveblog.access: "GET /healthz" 200 [\d.]+ ms id={rid}$', text, re.M)
    assert not text.lstrip().startswith("{")


def test_the_access_log_can_be_turned_off(redis_url: str, tmp_path: Path) -> None:
    app = ServerProcess(
        {"LIVEBLOG_REDIS_URL": redis_url, "LIVEBLOG_LOG_FORMAT": "json",
         "LIVEBLOG_ACCESS_LOG": "0"},
        log=tmp_path / "liveblog.log",
    )  # fmt: skip
    app.start()
    assert "x-request-id" in httpx.get(f"{app.url}/healthz").headers
    app.stop()
    assert not [r for r in records(tmp_path / "liveblog.log") if r["logger"] == "liveblog.access"]


def test_ids_made_here_are_32_hex_digits_and_never_repeat() -> None:
    from liveblog.ops.access import new_id

    ids = [new_id() for _ in range(10_000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in ids)
    assert len(set(ids)) == len(ids)


# A process that imports the app, then forks (as gunicorn's preload does): each side's ids.
FORKED = """
import os
from liveblog.ops.access import new_id
read, write = os.pipe()
if os.fork() == 0:
    os.write(write, new_id().encode())
    os._exit(0)
os.close(write)
os.wait()
print(os.read(read, 64).decode(), new_id())
"""


def test_a_forked_process_makes_ids_of_its_own() -> None:
    out = subprocess.run([sys.executable, "-c", FORKED], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    child, parent = out.stdout.split()
    assert child[:16] != parent[:16]  # two prefixes: no id is handed out twice
