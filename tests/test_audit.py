"""The audit log: who did what and when, for admins; entry actions written in the same atomic
step as the change; kept LIVEBLOG_AUDIT_DAYS and bounded in memory and in Redis."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import redis.asyncio as aioredis
from PIL import Image

from liveblog.config import Settings
from liveblog.editorial import editing, record
from liveblog.engine import make_engine
from liveblog.engine.base import Engine
from liveblog.models import AuditEvent, BlogCreate, EntryCreate, Token
from tests.conftest import ALL_ENGINES
from tests.support.clients import Editor
from tests.support.servers import ADMIN_TOKEN

ANN = Token("Ann Editor", "editor", None, id="a1a1a1a1a1a1")


@pytest.fixture
async def engine(
    engine_name: str, settings_factory: Callable[..., Settings]
) -> AsyncIterator[Engine]:
    engine = make_engine(settings_factory(audit_max_events=10))
    await engine.start()
    yield engine
    await engine.close()


def actions(records: list[Any]) -> list[tuple[str, str]]:
    events = [msgspec.json.decode(r.event, type=AuditEvent) for r in records]
    return [(e.action, e.blog or "") for e in events]


@pytest.mark.parametrize("engine_name", ALL_ENGINES)
async def test_the_log_reads_newest_first_across_blogs_and_pages_exactly(engine: Engine) -> None:
    # Each log orders its own events; across logs, by the millisecond they were written in.
    by = record.actor(ANN)
    for slug in ("alpha", "beta"):
        await editing.create_blog(engine, BlogCreate(slug=slug, title=slug), by=by)
        await asyncio.sleep(0.002)
    await engine.store_token("f" * 64, Token("Cy", "editor", None, id="f" * 12),
                             record.audit_event("token.created", by))  # fmt: skip
    await asyncio.sleep(0.002)
    for n in range(3):
        await editing.create_entry(
            engine, "alpha" if n % 2 else "beta", EntryCreate(body="<p>x</p>"), token=ANN
        )
        await asyncio.sleep(0.002)

    everything = await engine.audit_log(None, None, 100)
    assert actions(everything) == [
        ("entry.created", "beta"), ("entry.created", "alpha"), ("entry.created", "beta"),
        ("token.created", ""), ("blog.created", "beta"), ("blog.created", "alpha"),
    ]  # fmt: skip
    # Pages of two, each strictly after the last one's cursor: the same events, once each.
    pages, before = [], None
    while page := await engine.audit_log(None, before, 2):
        pages += page
        before = page[-1].key
    assert pages == everything
    assert actions(await engine.audit_log("alpha", None, 100)) == [
        ("entry.created", "alpha"), ("blog.created", "alpha"),
    ]  # fmt: skip


@pytest.mark.parametrize("engine_name", ALL_ENGINES)
async def test_the_log_keeps_its_days_and_its_cap(
    engine: Engine, engine_name: str, settings_factory: Callable[..., Settings]
) -> None:
    await editing.create_blog(engine, BlogCreate(slug="busy", title="Busy"))
    for _ in range(300):
        await engine.record_audit(
            "busy", record.audit_event("media.uploaded", record.SYSTEM, blog="busy")
        )
    # audit_max_events (10); Redis trims whole stream nodes (XTRIM ~), so it stays near it.
    slack = 0 if engine_name == "memory" else 100
    assert 10 <= len(await engine.audit_log("busy", None, 300)) <= 10 + slack
    if engine_name != "memory":
        url = settings_factory().redis_url
        client = (aioredis.RedisCluster if engine_name == "cluster" else aioredis.Redis).from_url(
            url
        )
        try:
            assert await client.xlen("lb:{busy}:audit") <= 10 + slack
        finally:
            await client.aclose()
    # Past LIVEBLOG_AUDIT_DAYS nothing is shown, whatever the log still holds.
    await asyncio.sleep(0.005)
    engine.audit_days = 0
    assert await engine.audit_log("busy", None, 200) == []
    assert await engine.audit_log(None, None, 200) == []


# --- through the API -------------------------------------------------------------------------


async def person(editor: Editor, name: str, role: str, **fields: Any) -> tuple[Editor, str]:
    response = await editor.http.post("/api/tokens", json={"name": name, "role": role, **fields})
    assert response.status_code == 201, response.text
    return Editor(editor.base_url, response.json()["token"]), response.json()["id"]


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 80, 40)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def settings_factory(
    settings_factory: Callable[..., Settings], tmp_path: Path
) -> Callable[..., Settings]:
    return lambda **overrides: settings_factory(media_dir=str(tmp_path), **overrides)


async def test_who_did_what_is_in_the_log_for_admins(server: str, editor: Editor) -> None:
    admin_id = (await editor.http.get("/api/me")).json()["id"]
    await editor.create_blog("desk", "Desk")
    await editor.create_blog("other", "Other")
    ed, _ = await person(editor, "Ed Itor", "editor", blogs=["desk"])
    ann, ann_id = await person(editor, "Ann Contrib", "contributor", blogs=["desk"])
    try:
        await editor.http.patch(f"/api/tokens/{ann_id}", json={"name": "Ann Contributor"})
        await ed.patch_blog("desk", title="The desk")
        sent = await ann.post("desk", headline="From the scene")
        returned = await ed.edit("desk", sent["id"], status="draft", note="Name your source.")
        await ann.edit("desk", sent["id"], status="submitted", body="<p>Sourced.</p>")
        await ed.edit("desk", sent["id"], status="published")
        await ed.delete("desk", sent["id"])
        restore = f"/api/blogs/desk/entries/{sent['id']}/revisions/{returned['version']}/restore"
        assert (await ed.http.post(restore)).status_code == 200
        upload = await ann.http.post("/api/blogs/desk/media", content=png(),
                                     headers={"Content-Type": "image/png"})  # fmt: skip
        assert upload.status_code == 201
        await editor.http.delete(f"/api/tokens/{ann_id}")
        await editor.post("other", headline="Elsewhere")

        log = await editor.http.get("/api/audit", params={"blog": "desk"})
        assert log.status_code == 200 and log.headers["cache-control"] == "no-store"
        events = log.json()["events"]
        assert [(e["action"], e["by"]["name"]) for e in events] == [
            ("media.uploaded", "Ann Contributor"),
            ("entry.restored", "Ed Itor"),
            ("entry.deleted", "Ed Itor"),
            ("entry.published", "Ed Itor"),
            ("entry.updated", "Ann Contributor"),
            ("entry.returned", "Ed Itor"),
            ("entry.created", "Ann Contributor"),
            ("blog.updated", "Ed Itor"),
            ("blog.created", "admin (LIVEBLOG_ADMIN_TOKEN)"),
        ]
        assert events[5]["detail"]["note"] == "Name your source."
        assert events[5]["entry"] == sent["id"] and events[5]["blog"] == "desk"
        assert events[7]["detail"] == {"title": "The desk"}
        assert events[0]["detail"]["url"] == upload.json()["url"]
        assert all(set(e["by"]) == {"token_id", "name"} for e in events)

        people = await editor.http.get("/api/audit", params={"by": admin_id})
        assert [
            (e["action"], e.get("blog"), e.get("detail", {}).get("name"))
            for e in people.json()["events"]
        ] == [
            ("entry.created", "other", None),
            ("token.revoked", None, "Ann Contributor"),
            ("token.updated", None, "Ann Contributor"),
            ("token.created", None, "Ann Contrib"),
            ("token.created", None, "Ed Itor"),
            ("blog.created", "other", None),
            ("blog.created", "desk", None),
        ]
        changed = people.json()["events"][2]["detail"]
        assert changed["changes"] == {"name": "Ann Contributor"} and changed["token_id"] == ann_id

        # Paged: the same events, newest first, then no `next`.
        seen: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 4}
        while True:
            page = (await editor.http.get("/api/audit", params=params)).json()
            seen += page["events"]
            if page["next"] is None:
                break
            params["before"] = page["next"]
        whole = (await editor.http.get("/api/audit", params={"limit": 200})).json()
        assert seen == whole["events"] and whole["next"] is None
        assert len(seen) == 15

        assert (await ed.http.get("/api/audit")).status_code == 403
        async with httpx.AsyncClient(base_url=server) as anonymous:
            assert (await anonymous.get("/api/audit")).status_code == 401
        huge = base64.urlsafe_b64encode(f"{2**64}-0:desk".encode()).decode()
        for bad in ({"limit": "0"}, {"blog": "Not A Slug"}, {"by": "zz"}, {"before": "!"},
                    {"before": huge}):  # fmt: skip
            answer = await editor.http.get("/api/audit", params=bad)
            assert answer.status_code == 422, bad
            assert answer.headers["content-type"] == "application/problem+json"
    finally:
        await ed.close()
        await ann.close()


async def test_a_token_event_names_who_issued_it_never_its_secret(
    server: str, editor: Editor
) -> None:
    await editor.http.post("/api/tokens", json={"name": "Zoe", "role": "admin"})
    events = (await editor.http.get("/api/audit")).json()["events"]
    assert events[0]["action"] == "token.created"
    assert events[0]["by"]["token_id"] == (await editor.http.get("/api/me")).json()["id"]
    assert ADMIN_TOKEN not in str(events)  # never a secret
