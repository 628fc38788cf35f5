"""A blog that can leave and come back: export (API and CLI), import into another server under
its own name or another, never over an existing blog; the round trip gives the same bytes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from liveblog.config import Settings
from liveblog.editorial import editing, transfer
from liveblog.engine import make_engine
from liveblog.engine.base import BlogExists, Engine, ImportInProgress, ImportLost
from liveblog.models import Blog, BlogCreate, EntryCreate, EntryPatch, utcnow
from tests.conftest import ALL_ENGINES, make_settings
from tests.support.clients import Editor, SSEReader
from tests.support.redis_server import RedisServer
from tests.support.servers import ADMIN_TOKEN, serve_in_process

NDJSON = {"Content-Type": "application/x-ndjson"}


async def person(editor: Editor, name: str, role: str, **fields: Any) -> Editor:
    response = await editor.http.post("/api/tokens", json={"name": name, "role": role, **fields})
    assert response.status_code == 201, response.text
    return Editor(editor.base_url, response.json()["token"])


async def coverage(editor: Editor, slug: str = "desk") -> dict[str, str]:
    """A blog with a bit of everything: published, edited, corrected, pinned, a photo, a
    draft, a contribution, a scheduled entry, a deleted one and a restored one."""
    await editor.create_blog(slug, "Election night", description="Results as they come",
                             language="de", time_zone="Europe/Berlin")  # fmt: skip
    ann = await person(editor, "Ann Contrib", "contributor", blogs=[slug])
    try:
        first = await editor.post(slug, headline="Polls close", body="<p>Counting starts.</p>",
                                  labels=["key"], pinned=True)  # fmt: skip
        await editor.edit(slug, first["id"], body="<p>Counting has started.</p>")
        await editor.edit(
            slug, first["id"], correction="An earlier version said polls closed late."
        )
        photo = {"url": "https://images.example/count.jpg", "alt": "Ballots", "caption": "Counting"}
        await editor.post(slug, headline="The count", media=[photo], author="Ed Itor")
        await editor.post(slug, headline="A draft", status="draft")
        await ann.post(slug, headline="From the scene")
        later = datetime_in(3600)
        await editor.post(slug, headline="At midnight", status="scheduled", publish_at=later)
        gone = await editor.post(slug, headline="A mistake")
        await editor.delete(slug, gone["id"])
        back = await editor.post(slug, headline="Back again")
        await editor.delete(slug, back["id"])
        restore = f"/api/blogs/{slug}/entries/{back['id']}/revisions/1/restore"
        assert (await editor.http.post(restore)).status_code == 200
    finally:
        await ann.close()
    return {"first": first["id"], "gone": gone["id"], "back": back["id"]}


def datetime_in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def export(client: Editor, slug: str = "desk") -> bytes:
    answer = await client.http.get(f"/api/blogs/{slug}/export")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/x-ndjson"
    assert answer.headers["content-disposition"] == f'attachment; filename="{slug}.ndjson"'
    return answer.content


async def test_the_export_holds_every_entry_its_history_and_photos(
    server: str, editor: Editor
) -> None:
    ids = await coverage(editor)
    lines = [json.loads(line) for line in (await export(editor)).splitlines()]
    assert lines[0]["type"] == "blog" and lines[0]["format"] == "liveblog-export"
    assert lines[0]["blog"]["title"] == "Election night" and lines[0]["blog"]["language"] == "de"
    entries = [line for line in lines if line["type"] == "entry"]
    assert [e["id"] for e in entries] == sorted(e["id"] for e in entries)
    statuses = sorted(e["entry"]["status"] if e["entry"] else "deleted" for e in entries)
    assert statuses == ["deleted", "draft", "published", "published", "published", "scheduled",
                        "submitted"]  # fmt: skip
    by_id = {e["id"]: e for e in entries}
    first = by_id[ids["first"]]
    assert [r["version"] for r in first["revisions"]] == [1, 2, 3]
    assert first["entry"]["corrections"][0]["text"].startswith("An earlier version")
    assert by_id[ids["gone"]]["entry"] is None
    assert [r["entry"] is None for r in by_id[ids["gone"]]["revisions"]] == [False, True]
    assert [line for line in lines if line["type"] == "media"] == [
        {"type": "media", "url": "https://images.example/count.jpg", "variants": []}
    ]
    assert lines[-1] == {"type": "end", "entries": 7}

    contributor = await person(editor, "Cy", "contributor", blogs=["desk"])
    outsider = await person(editor, "Oz", "editor", blogs=[])
    try:
        assert (await contributor.http.get("/api/blogs/desk/export")).status_code == 403
        assert (await outsider.http.get("/api/blogs/desk/export")).status_code == 403
    finally:
        await contributor.close()
        await outsider.close()
    assert (await editor.http.get("/api/blogs/nowhere/export")).status_code == 404


@pytest.fixture
async def second_redis(tmp_path: Path) -> AsyncIterator[str]:
    """Another redis-server of the suite's own: the other newsroom's server."""
    other = RedisServer(tmp_path / "other")
    (tmp_path / "other").mkdir()
    other.start()
    yield other.url
    other.stop()


@pytest.mark.parametrize("engine_name", ["redis"])
async def test_a_round_trip_to_another_server_gives_the_same_blog(
    server: str, editor: Editor, second_redis: str
) -> None:
    ids = await coverage(editor)
    exported = await export(editor)
    source = (await editor.http.get("/api/blogs/desk")).json()
    async with serve_in_process(make_settings(second_redis)) as elsewhere:
        there = Editor(elsewhere)
        try:
            reader = await SSEReader(elsewhere, "/blogs/desk/events").connect()
            assert reader.status == 404
            answer = await there.http.post("/api/blogs/import", content=exported, headers=NDJSON)
            assert answer.status_code == 201, answer.text
            assert answer.headers["location"] == "/api/blogs/desk"
            imported = answer.json()
            # The same blog; a stream of its own, that starts clean on this server.
            assert {k: v for k, v in imported.items() if k != "last_event_id"} == {
                k: v for k, v in source.items() if k != "last_event_id"
            }
            assert (
                imported["last_event_id"].rpartition("-")[0]
                != source["last_event_id"].rpartition("-")[0]
            )
            assert await export(there) == exported  # ids, times, versions, revisions: identical

            # It works there like any blog: the timeline, history, and a restore.
            timeline = (await there.http.get("/api/blogs/desk/entries")).json()["entries"]
            assert [e["headline"] for e in timeline] == ["Back again", "The count", "Polls close"]
            history = (
                await there.http.get(f"/api/blogs/desk/entries/{ids['first']}/revisions")
            ).json()
            assert [r["by"]["name"] for r in history["revisions"]] == [
                "admin (LIVEBLOG_ADMIN_TOKEN)"
            ] * 3
            restore = f"/api/blogs/desk/entries/{ids['gone']}/revisions/1/restore"
            assert (await there.http.post(restore)).status_code == 200
            due = (await there.http.get("/api/blogs/desk/entries?status=scheduled")).json()
            assert [e["headline"] for e in due["entries"]] == ["At midnight"]

            # Never over an existing blog; under another name it is a blog of its own.
            again = await there.http.post("/api/blogs/import", content=exported, headers=NDJSON)
            assert again.status_code == 409
            copy = await there.http.post("/api/blogs/import?slug=desk-copy", content=exported,
                                         headers=NDJSON)  # fmt: skip
            assert copy.status_code == 201 and copy.json()["slug"] == "desk-copy"
            copied = (await there.http.get("/api/blogs/desk-copy/entries")).json()["entries"]
            assert {e["blog"] for e in copied} == {"desk-copy"}
            assert [e["id"] for e in copied] == [e["id"] for e in timeline]
            log = (await there.http.get("/api/audit", params={"blog": "desk-copy"})).json()
            assert log["events"][0]["action"] == "blog.created"
            detail = {"imported": True, "entries": 7, "title": "Election night", "from": "desk"}
            assert log["events"][0]["detail"] == detail
        finally:
            await there.close()


async def test_a_bad_export_is_refused_and_writes_nothing(server: str, editor: Editor) -> None:
    await coverage(editor)
    exported = await export(editor)
    lines = exported.splitlines(keepends=True)

    async def refused(body: bytes, status: int, **options: Any) -> dict[str, Any]:
        answer = await editor.http.post("/api/blogs/import?slug=copy", content=body,
                                        headers=options.get("headers", NDJSON))  # fmt: skip
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert (await editor.http.get("/api/blogs/copy")).status_code == 404
        return answer.json()

    truncated = await refused(b"".join(lines[:-1]), 422)
    assert "incomplete" in truncated["detail"]
    await refused(b"".join(lines[:3] + lines[4:]), 422)  # an entry missing: the end says 7
    broken = json.loads(lines[2])
    broken["entry"]["headline"] = "x" * 301
    problem = await refused(b"".join([lines[0], lines[1], json.dumps(broken).encode() + b"\n",
                                      *lines[3:]]), 422)  # fmt: skip
    assert problem["errors"][0]["path"] == "line 3: $.entry.headline"
    await refused(b'{"type": "blog"}\n', 422)
    await refused(b"not json\n", 422)
    await refused(exported, 415, headers={"Content-Type": "application/json"})
    contributor = await person(editor, "Cy", "contributor", blogs=["desk"])
    try:
        answer = await contributor.http.post("/api/blogs/import", content=exported, headers=NDJSON)
        assert answer.status_code == 403
    finally:
        await contributor.close()
    # Script in a body is cleaned on the way in, as in any entry.
    hostile = json.loads(lines[1])
    hostile["entry"]["body"] = "<p>Hi<script>alert(1)</script></p>"
    body = b"".join([lines[0], json.dumps(hostile).encode() + b"\n", *lines[2:]])
    answer = await editor.http.post("/api/blogs/import?slug=clean", content=body, headers=NDJSON)
    assert answer.status_code == 201, answer.text
    stored = (await editor.http.get(f"/api/blogs/clean/entries/{hostile['id']}")).json()
    assert stored["body"] == "<p>Hi</p>"


@pytest.fixture
def settings_factory(settings_factory: Callable[..., Settings]) -> Callable[..., Settings]:
    return lambda **overrides: settings_factory(**{"max_import_bytes": 64 * 1024, **overrides})


async def test_an_export_over_the_limit_is_refused_before_it_is_read(
    server: str, editor: Editor
) -> None:
    body = b"x" * (64 * 1024 + 1)
    answer = await editor.http.post("/api/blogs/import", content=body, headers=NDJSON)
    assert answer.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
        for _ in range(65):
            yield b"y" * 1024

    answer = await editor.http.post("/api/blogs/import", content=chunks(), headers=NDJSON)
    assert answer.status_code == 413


@pytest.mark.parametrize("engine_name", ALL_ENGINES)
async def test_an_unfinished_import_is_taken_over_once_its_lease_is_over(
    engine_name: str, settings_factory: Callable[..., Settings]
) -> None:
    engine: Engine = make_engine(settings_factory())
    await engine.start()
    try:
        now = utcnow()
        blog = Blog("moved", "Moved", "", "ended", now, now)
        await engine.begin_import(blog, "e1", "first", time.time() + 60)
        with pytest.raises(ImportInProgress):
            await engine.begin_import(blog, "e2", "second", time.time() + 60)
        assert [b.slug for b in await engine.list_blogs()] == []  # not listed while it fills
        await engine.renew_import("moved", "first", time.time() - 1)  # as if it died
        await engine.begin_import(blog, "e3", "third", time.time() + 60)
        with pytest.raises(ImportLost):
            await engine.renew_import("moved", "first", time.time() + 60)
        finished = await engine.finish_import("moved", "third", None)
        assert finished.last_event_id.rpartition("-")[0] not in ("e1", "e3")  # a fresh epoch
        assert [b.slug for b in await engine.list_blogs()] == ["moved"]
        with pytest.raises(BlogExists):
            await engine.begin_import(blog, "e4", "fourth", time.time() + 60)
        with pytest.raises(BlogExists):
            await editing.create_blog(engine, BlogCreate(slug="moved", title="Again"))
    finally:
        await engine.close()


async def test_the_command_line_exports_and_imports(
    redis_url: str, second_redis: str, tmp_path: Path
) -> None:
    env = {**os.environ, "LIVEBLOG_REDIS_URL": redis_url, "LIVEBLOG_ADMIN_TOKEN": ADMIN_TOKEN}
    env.pop("LIVEBLOG_URL", None)
    async with serve_in_process(make_settings(redis_url)) as url:
        client = Editor(url)
        try:
            await coverage(client)
        finally:
            await client.close()

    def liveblog(*args: str, **extra: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-m", "liveblog", *args], env={**env, **extra},
                              capture_output=True, timeout=60, check=False)  # fmt: skip

    exported = liveblog("export", "desk")
    assert exported.returncode == 0, exported.stderr
    file = tmp_path / "desk.ndjson"
    file.write_bytes(exported.stdout)
    assert exported.stdout.splitlines()[-1] == b'{"type":"end","entries":7}'

    there = {"LIVEBLOG_REDIS_URL": second_redis}
    done = liveblog("import", str(file), **there)
    assert done.returncode == 0, done.stderr
    assert b"imported 'desk': 7 entries" in done.stdout
    again = liveblog("import", str(file), **there)
    assert again.returncode != 0 and b"exists already" in again.stderr
    renamed = liveblog("import", str(file), "--slug", "desk-2024", **there)
    assert renamed.returncode == 0, renamed.stderr
    assert liveblog("export", "desk", **there).stdout == exported.stdout
    missing = liveblog("export", "nowhere")
    assert missing.returncode != 0 and b"no blog" in missing.stderr

    settings = make_settings(second_redis)
    engine = make_engine(settings)
    try:
        log = await engine.audit_log("desk-2024", None, 10)
        assert b'"name":"command line"' in log[0].event
    finally:
        await engine.close()


@pytest.mark.parametrize("engine_name", ALL_ENGINES)
async def test_an_export_comes_back_under_another_name_on_every_engine(
    engine_name: str, settings_factory: Callable[..., Settings], tmp_path: Path
) -> None:
    engine: Engine = make_engine(settings_factory())
    await engine.start()
    try:
        await editing.create_blog(engine, BlogCreate(slug="desk", title="Desk"))
        ids = []
        for n in range(5):
            raw, *_ = await editing.create_entry(
                engine, "desk", EntryCreate(headline=f"Entry {n}", body="<p>Text.</p>")
            )
            ids.append(json.loads(raw)["id"])
        await editing.update_entry(engine, "desk", ids[0], EntryPatch(pinned=True), None)
        await editing.delete_entry(engine, "desk", ids[1])
        file = tmp_path / "desk.ndjson"
        file.write_bytes(
            b"".join([line async for line in await transfer.export_blog(engine, "desk")])
        )
        with file.open("rb") as opened:
            imported = await transfer.import_blog(engine, transfer.file_lines(opened), slug="copy")
        assert (imported.entries, imported.blog.slug, imported.blog.title) == (5, "copy", "Desk")
        copied = b"".join([line async for line in await transfer.export_blog(engine, "copy")])
        renamed = file.read_bytes().replace(b'"blog":"desk"', b'"blog":"copy"')
        renamed = renamed.replace(b'"slug":"desk"', b'"slug":"copy"')
        assert copied == renamed
        page = await engine.timeline("copy", 10, None)
        assert [e.id for e in page.entries] == [i for i in reversed(ids) if i != ids[1]]
        assert [e.id for e in (await engine.highlights("copy")).pinned] == [ids[0]]
    finally:
        await engine.close()


async def test_a_line_past_its_bound_is_refused_before_it_is_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer, "MAX_LINE_BYTES", 1000)
    file = tmp_path / "big.ndjson"
    file.write_bytes(b'{"type":"blog"}\n' + b"x" * 5000 + b"\n")
    with file.open("rb") as opened, pytest.raises(transfer.ImportRefused) as refused:
        async for _ in transfer.file_lines(opened)():
            pass
    assert refused.value.line == 2
