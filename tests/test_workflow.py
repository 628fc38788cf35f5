"""The newsroom's workflow through the API, on both engines: people and roles, drafts,
contributions, scheduling, corrections, and what readers (never) see of them."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from liveblog.config import Settings
from tests.conftest import make_settings
from tests.support.clients import Editor, SSEReader
from tests.support.redis_server import RedisServer
from tests.support.servers import ADMIN_TOKEN, ServerProcess, serve_in_process

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def person(editor: Editor, name: str, role: str, **fields: Any) -> Editor:
    response = await editor.http.post("/api/tokens", json={"name": name, "role": role, **fields})
    assert response.status_code == 201, response.text
    return Editor(editor.base_url, response.json()["token"])


@pytest.fixture
async def staff(editor: Editor) -> AsyncIterator[dict[str, Editor]]:
    await editor.create_blog("desk", "Desk")
    await editor.create_blog("other", "Other")
    people = {
        "editor": await person(editor, "Ed Itor", "editor", blogs=["desk"]),
        "ann": await person(
            editor, "Ann Contrib", "contributor", blogs=["desk"],
            avatar_url="https://avatars.example/ann.png",
        ),
        "bob": await person(editor, "Bob Contrib", "contributor", blogs=["desk"]),
        "outsider": await person(editor, "Out Sider", "editor", blogs=["other"]),
    }  # fmt: skip
    yield people
    for client in people.values():
        await client.close()


async def reader_stream(server: str, slug: str = "desk") -> SSEReader:
    return await SSEReader(server, f"/blogs/{slug}/events").connect()


async def newsroom_stream(server: str, token: str, slug: str = "desk") -> SSEReader:
    headers = {"Authorization": f"Bearer {token}"}
    return await SSEReader(
        server, f"/api/blogs/{slug}/newsroom/events", extra_headers=headers
    ).connect()


async def public_ids(server: str, slug: str = "desk") -> list[str]:
    async with httpx.AsyncClient(base_url=server) as http:
        page = (await http.get(f"/api/blogs/{slug}/entries")).json()
    return [e["id"] for e in page["entries"]]


async def listed(client: Editor, status: str, slug: str = "desk") -> list[dict[str, Any]]:
    response = await client.http.get(f"/api/blogs/{slug}/entries", params={"status": status})
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


# --- people and roles -----------------------------------------------------------------------


async def test_people_have_roles_avatars_and_blogs_an_admin_changes(
    editor: Editor, staff: dict[str, Editor]
) -> None:
    me = (await staff["ann"].http.get("/api/me")).json()
    assert me["role"] == "contributor" and me["avatar_url"] == "https://avatars.example/ann.png"
    ann_id = me["id"]
    response = await editor.http.patch(
        f"/api/tokens/{ann_id}", json={"role": "editor", "blogs": ["desk", "other"]}
    )
    assert response.status_code == 200, response.text
    me = (await staff["ann"].http.get("/api/me")).json()  # the same secret, a new role
    assert me["role"] == "editor" and me["blogs"] == ["desk", "other"]
    assert me["name"] == "Ann Contrib"

    # Only admins manage people; bad input changes nothing.
    response = await staff["editor"].http.patch(f"/api/tokens/{ann_id}", json={"role": "admin"})
    assert response.status_code == 403
    response = await editor.http.patch(f"/api/tokens/{ann_id}", json={"role": "boss"})
    assert response.status_code == 422
    response = await editor.http.patch(f"/api/tokens/{ann_id}", json={"avatar_url": "http://x"})
    assert response.status_code == 422
    response = await editor.http.patch("/api/tokens/000000000000", json={"name": "X"})
    assert response.status_code == 404
    assert (await staff["ann"].http.get("/api/me")).json()["role"] == "editor"


async def test_several_authors_with_avatars_reach_page_feed_and_json_ld(
    server: str, editor: Editor, staff: dict[str, Editor]
) -> None:
    authors = [
        {"name": "Ed Itor"},
        {"name": "Ann Contrib", "avatar_url": "https://avatars.example/ann.png"},
    ]
    entry = await staff["editor"].post("desk", headline="Two bylines", authors=authors)
    assert entry["author"] == "Ed Itor, Ann Contrib"
    assert entry["authors"] == [authors[0] | {"avatar_url": None}, authors[1]]
    async with httpx.AsyncClient(base_url=server) as http:
        page = (await http.get("/blogs/desk")).text
        feed = (await http.get("/blogs/desk/feed.atom")).text
    assert 'class="entry__avatar" src="https://avatars.example/ann.png"' in page
    assert "By Ed Itor, Ann Contrib" in page
    assert "<author><name>Ed Itor</name></author><author><name>Ann Contrib</name></author>" in feed
    assert '"image":"https://avatars.example/ann.png"' in page.replace(" ", "")


# --- drafts ---------------------------------------------------------------------------------


async def test_drafts_are_invisible_to_readers_until_published(
    server: str, editor: Editor, staff: dict[str, Editor]
) -> None:
    readers = await reader_stream(server)
    room = await newsroom_stream(server, ADMIN_TOKEN)
    visible = await staff["editor"].post("desk", headline="Visible")
    draft = await staff["editor"].post("desk", headline="Secret draft", status="draft")
    assert draft["status"] == "draft"
    await staff["editor"].edit("desk", draft["id"], headline="Secret draft, edited")

    assert await public_ids(server) == [visible["id"]]
    async with httpx.AsyncClient(base_url=server) as http:
        assert (await http.get(f"/api/blogs/desk/entries/{draft['id']}")).status_code == 404
        assert (await http.get("/api/blogs/desk/entries?status=draft")).status_code == 401
        for path in ("/blogs/desk", "/blogs/desk/embed", "/blogs/desk/feed.atom"):
            assert "Secret draft" not in (await http.get(path)).text, path
        stats = (await http.get("/api/stats", headers=AUTH)).json()
    desk = next(b for b in stats["blogs"] if b["slug"] == "desk")
    assert desk["entries_last_hour"] == 1
    # Staff see it: the blog's editors list and read it; another blog's editor does not.
    assert [e["id"] for e in await listed(staff["editor"], "draft")] == [draft["id"]]
    got = await staff["editor"].http.get(f"/api/blogs/desk/entries/{draft['id']}")
    assert got.status_code == 200 and got.json()["headline"] == "Secret draft, edited"
    response = await staff["outsider"].http.get("/api/blogs/desk/entries?status=draft")
    assert response.status_code == 403

    published = await staff["editor"].edit("desk", draft["id"], status="published")
    assert published["status"] == "published" and published["updated_at"] is None
    unpublished = await staff["editor"].edit("desk", visible["id"], status="draft")
    assert unpublished["status"] == "draft"
    await staff["editor"].delete("desk", unpublished["id"])
    marker = await staff["editor"].post("desk", headline="marker")

    events = await readers.wait_for(4)
    assert [(e.type, e.data["data"].get("headline", e.data["data"]["id"])) for e in events] == [
        ("entry.created", "Visible"),
        ("entry.created", "Secret draft, edited"),  # one entry.created, at publication
        ("entry.deleted", visible["id"]),  # unpublished: gone for readers
        ("entry.created", "marker"),
    ]
    assert marker["id"] == events[-1].data["data"]["id"]
    # The newsroom heard of every change readers did not.
    newsroom = await room.wait_for(5)
    assert [(e.type, e.data["data"].get("status")) for e in newsroom] == [
        ("entry.created", "draft"),
        ("entry.updated", "draft"),
        ("entry.updated", "published"),
        ("entry.updated", "draft"),
        ("entry.deleted", None),
    ]
    await readers.close()
    await room.close()


async def test_the_newsroom_stream_is_for_the_blogs_staff_only(
    server: str, staff: dict[str, Editor]
) -> None:
    outsider = staff["outsider"].http.headers["authorization"].partition(" ")[2]
    for token, status in ((None, 401), ("lb_wrong", 401), (outsider, 403)):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        reader = await SSEReader(
            server, "/api/blogs/desk/newsroom/events", extra_headers=headers
        ).connect()
        assert reader.status == status
        await reader.close()
    missing = await newsroom_stream(server, ADMIN_TOKEN, slug="nope")
    assert missing.status == 404
    await missing.close()
    # The readers' endpoints never stream a newsroom: the name is no blog.
    for path in ("/blogs/desk~newsroom/events", "/blogs/desk%7Enewsroom/events"):
        reader = await SSEReader(server, path).connect()
        assert reader.status in (404, 400), path
        await reader.close()


# --- contributions --------------------------------------------------------------------------


async def test_contributions_wait_for_an_editor(
    server: str, editor: Editor, staff: dict[str, Editor]
) -> None:
    readers = await reader_stream(server)
    ann, bob, desk = staff["ann"], staff["bob"], staff["editor"]
    room = await newsroom_stream(server, ann.http.headers["authorization"].partition(" ")[2])
    asked = await ann.post("desk", headline="From the scene", status="published")
    assert asked["status"] == "submitted"  # whatever a contributor asks for
    sneaky = await ann.post("desk", headline="Later", status="scheduled", publish_at=_in(3600))
    assert sneaky["status"] == "submitted" and sneaky["publish_at"] is None
    assert {e["id"] for e in await listed(desk, "submitted")} == {asked["id"], sneaky["id"]}

    url = f"/api/blogs/desk/entries/{asked['id']}"
    assert (await ann.http.patch(url, json={"status": "published"})).status_code == 403
    assert (await ann.http.patch(url, json={"status": "scheduled"})).status_code == 403
    assert (await bob.http.patch(url, json={"headline": "mine now"})).status_code == 403
    assert (await bob.http.delete(url)).status_code == 403
    # The blog itself (title, status) is its editors' to change.
    retitle = await ann.http.patch("/api/blogs/desk", json={"title": "Ann's blog"})
    assert retitle.status_code == 403
    assert (await desk.http.get("/api/blogs/desk")).json()["title"] == "Desk"
    edited = await ann.edit("desk", asked["id"], headline="From the scene, 2 dead")
    assert edited["status"] == "submitted"

    # Sent back with a note, edited, submitted again, approved.
    back = await desk.edit("desk", asked["id"], status="draft", note="Source for the toll?")
    assert back["status"] == "draft" and back["note"] == "Source for the toll?"
    again = await ann.edit("desk", asked["id"], body="<p>Police say two dead.</p>")
    assert again["status"] == "submitted"
    approved = await desk.edit("desk", asked["id"], status="published")
    assert approved["status"] == "published" and approved["note"] is None
    assert (await ann.http.patch(url, json={"headline": "x"})).status_code == 403  # published
    assert (await ann.http.delete(url)).status_code == 403
    await ann.delete("desk", sneaky["id"])  # withdrawn
    assert await listed(desk, "submitted") == []

    events = await readers.wait_for(1)
    assert [(e.type, e.data["data"]["headline"]) for e in events] == [
        ("entry.created", "From the scene, 2 dead")
    ]
    # The contributor follows its entries live on the newsroom stream.
    statuses = [(e.type, e.data["data"].get("status")) for e in await room.wait_for(7)]
    assert statuses == [
        ("entry.created", "submitted"),
        ("entry.created", "submitted"),
        ("entry.updated", "submitted"),
        ("entry.updated", "draft"),  # sent back
        ("entry.updated", "submitted"),
        ("entry.updated", "published"),  # approved
        ("entry.deleted", None),  # withdrawn
    ]
    assert await public_ids(server) == [asked["id"]]
    await readers.close()
    await room.close()


# --- scheduling -----------------------------------------------------------------------------


async def test_a_future_published_at_is_refused_and_a_schedule_is_checked(
    editor: Editor, staff: dict[str, Editor]
) -> None:
    url = "/api/blogs/desk/entries"
    http = staff["editor"].http
    response = await http.post(url, json={"body": "x", "published_at": "2030-01-01T10:00:00Z"})
    assert response.status_code == 422 and "scheduled" in response.text
    for bad in ({}, {"publish_at": "2020-01-01T00:00:00Z"}, {"publish_at": "soon"}):
        response = await http.post(url, json={"body": "x", "status": "scheduled", **bad})
        assert response.status_code == 422, bad
    response = await http.post(url, json={"body": "x", "publish_at": _in(600)})
    assert response.status_code == 422  # publish_at is only for scheduled entries
    entry = await staff["editor"].post("desk", headline="now")
    response = await http.patch(f"{url}/{entry['id']}", json={"published_at": _in(3600)})
    assert response.status_code == 422
    assert await listed(staff["editor"], "all") == []


BAD_PUBLISH_AT = [
    "2020-01-01T00:00:00Z",  # past
    "1969-12-31T23:59:59Z",  # before the timeline begins
    "9999-12-31T23:59:59-01:00",  # beyond the timeline, in UTC
    "soon",
    "2030-02-30T10:00:00Z",  # no such day
    "2030-01-01T10:00:00",  # no offset
    "",
    12,
    None,  # a schedule needs a time
]


@pytest.mark.parametrize("publish_at", BAD_PUBLISH_AT, ids=[repr(b) for b in BAD_PUBLISH_AT])
async def test_a_bad_publish_at_is_reported_at_its_path(
    staff: dict[str, Editor], publish_at: object
) -> None:
    url = "/api/blogs/desk/entries"
    http = staff["editor"].http
    draft = await staff["editor"].post("desk", status="draft", headline="Draft")
    later = await staff["editor"].post("desk", status="scheduled", publish_at=_in(3600))
    attempts = [
        http.post(url, json={"body": "x", "status": "scheduled", "publish_at": publish_at}),
        http.patch(f"{url}/{draft['id']}", json={"status": "scheduled", "publish_at": publish_at}),
        http.patch(f"{url}/{later['id']}", json={"publish_at": publish_at}),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["path"] for e in response.json()["errors"]] == ["$.publish_at"], response.text
    assert [e["id"] for e in await listed(staff["editor"], "scheduled")] == [later["id"]]
    assert [e["id"] for e in await listed(staff["editor"], "draft")] == [draft["id"]]


async def test_a_scheduled_entry_is_published_once_at_its_time(
    server: str, editor: Editor, staff: dict[str, Editor]
) -> None:
    readers = await reader_stream(server)
    desk = staff["editor"]
    moved = await desk.post("desk", headline="Moved", status="scheduled", publish_at=_in(3600))
    entry = await desk.post("desk", headline="At noon", status="scheduled", publish_at=_in(3600))
    # Editable and reschedulable until then, silently for readers.
    await desk.edit("desk", entry["id"], headline="At noon sharp")
    await desk.edit("desk", moved["id"], publish_at=_in(7200))
    soon = _in(1.5)
    rescheduled = await desk.edit("desk", entry["id"], publish_at=soon)
    assert rescheduled["status"] == "scheduled" and rescheduled["publish_at"] is not None
    assert [e["id"] for e in await listed(desk, "scheduled")] == [moved["id"], entry["id"]]

    events = await readers.wait_for(1)
    assert [(e.type, e.data["data"]["headline"]) for e in events] == [
        ("entry.created", "At noon sharp")
    ]
    published = events[0].data["data"]
    assert (
        published["status"] == "published"
        and published["published_at"] == rescheduled["published_at"]
    )
    assert await public_ids(server) == [entry["id"]]
    assert [e["id"] for e in await listed(desk, "scheduled")] == [moved["id"]]
    # A draft again: off the schedule.
    await desk.edit("desk", moved["id"], status="draft")
    assert await listed(desk, "scheduled") == []
    await readers.close()


@pytest.mark.parametrize("engine_name", ["redis"])
async def test_several_processes_publish_a_scheduled_entry_exactly_once(
    settings_factory: Callable[..., Settings], engine_name: str
) -> None:
    settings = settings_factory(scheduler_interval_seconds=0.05)
    async with (
        serve_in_process(settings) as first,
        serve_in_process(settings) as second,
        serve_in_process(settings) as third,
    ):
        editor = Editor(first)
        await editor.create_blog("once", "Once")
        readers = [await reader_stream(url, "once") for url in (first, second, third)]
        entries = [
            await editor.post("once", headline=f"n{n}", status="scheduled", publish_at=_in(1))
            for n in range(5)
        ]
        marker_due = _in(2.5)
        await editor.post("once", headline="last", status="scheduled", publish_at=marker_due)
        for reader in readers:
            events = await reader.wait_for(6)
            await asyncio.sleep(0.3)  # anything doubled would have arrived by now
            assert sorted(e.data["data"]["headline"] for e in reader.events) == sorted(
                [f"n{n}" for n in range(5)] + ["last"]
            )
            assert all(e.type == "entry.created" for e in events)
            await reader.close()
        assert set(await public_ids(first, "once")) >= {e["id"] for e in entries}
        await editor.close()


@pytest.mark.parametrize("engine_name", ["redis"])
async def test_the_schedule_survives_a_restart(
    settings_factory: Callable[..., Settings], engine_name: str
) -> None:
    settings = settings_factory()
    async with serve_in_process(settings) as url:
        editor = Editor(url)
        await editor.create_blog("later", "Later")
        await editor.post("later", headline="after restart", status="scheduled", publish_at=_in(2))
        await editor.close()
    async with serve_in_process(settings) as url:  # a new process, nothing in memory
        reader = await reader_stream(url, "later")
        events = await reader.wait_for(1)
        assert events[0].data["data"]["headline"] == "after restart"
        await reader.close()


async def test_a_schedule_due_during_a_redis_outage_is_published_once_after_it(
    redis_url: str, redis_server: RedisServer
) -> None:
    """Redis dies (SIGKILL) just before an entry is due and comes back after: two processes,
    and readers on both, see it published exactly once; the schedulers waited it out."""
    settings = make_settings(redis_url, scheduler_interval_seconds=0.05)
    async with serve_in_process(settings) as first, serve_in_process(settings) as second:
        editor = Editor(first)
        await editor.create_blog("storm", "Storm")
        readers = [await reader_stream(url, "storm") for url in (first, second)]
        due = await editor.post("storm", headline="due", status="scheduled", publish_at=_in(1.5))
        redis_server.kill()
        await asyncio.sleep(2.5)  # it falls due while the store is away
        redis_server.start()
        for reader in readers:
            events = await reader.wait_for(1, timeout=30)
            await asyncio.sleep(0.5)  # a double publication would have arrived by now
            assert [(e.type, e.data["data"]["id"]) for e in reader.events] == [
                ("entry.created", due["id"])
            ]
            assert events[0].data["data"]["status"] == "published"
            await reader.close()
        # The timeline too (a first call on a pooled connection the restart broke is a 503:
        # calls fail fast and are never retried blindly, so the reader asks again).
        async with httpx.AsyncClient(base_url=first) as http, asyncio.timeout(20):
            while (page := await http.get("/api/blogs/storm/entries")).status_code == 503:
                await asyncio.sleep(0.1)
        assert [e["id"] for e in page.json()["entries"]] == [due["id"]]
        await editor.close()


# --- corrections ----------------------------------------------------------------------------


async def test_corrections_are_appended_and_shown_to_readers(
    server: str, editor: Editor, staff: dict[str, Editor]
) -> None:
    desk = staff["editor"]
    entry = await desk.post("desk", headline="Toll", body="<p>Three dead.</p>")
    quiet = await desk.edit("desk", entry["id"], labels=["key"])
    assert quiet["corrections"] == [] and quiet["updated_at"] is not None
    first = await desk.edit(
        "desk", entry["id"], body="<p>Two dead.</p>", correction="An earlier version said three."
    )
    second = await desk.edit(
        "desk", entry["id"], headline="Toll: two", correction="Headline fixed."
    )
    await desk.edit("desk", entry["id"], pinned=True)  # later edits keep every correction
    stored = (await desk.http.get(f"/api/blogs/desk/entries/{entry['id']}")).json()
    assert [c["text"] for c in stored["corrections"]] == [
        "An earlier version said three.",
        "Headline fixed.",
    ]
    assert stored["corrections"][0]["at"] == first["updated_at"]
    assert second["corrections"][1]["at"] == second["updated_at"]
    response = await desk.http.patch(
        f"/api/blogs/desk/entries/{entry['id']}", json={"correction": ""}
    )
    assert response.status_code == 422
    async with httpx.AsyncClient(base_url=server) as http:
        page = (await http.get("/blogs/desk")).text
        feed = (await http.get("/blogs/desk/feed.atom")).text
    assert "Corrected <time" in page and ": An earlier version said three.</p>" in page
    assert ": Headline fixed.</p>" in page
    assert f"<updated>{stored['updated_at']}</updated>" in feed
    assert f'"dateModified":"{stored["updated_at"]}"' in page.replace(" ", "")


# --- the command line -----------------------------------------------------------------------


def test_token_create_works_on_the_memory_engine_through_the_server() -> None:
    server = ServerProcess({"LIVEBLOG_REDIS_URL": ""})
    server.start()
    try:
        env = {**os.environ, "LIVEBLOG_REDIS_URL": "", "LIVEBLOG_ADMIN_TOKEN": ADMIN_TOKEN}
        result = subprocess.run(
            [sys.executable, "-m", "liveblog", "token", "create", "--url", server.url,
             "--name", "Cleo", "--role", "contributor", "--blog", "demo",
             "--avatar-url", "https://avatars.example/cleo.png"],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        created = json.loads(result.stdout)
        assert created["role"] == "contributor" and created["blogs"] == ["demo"]
        me = httpx.get(
            f"{server.url}/api/me", headers={"Authorization": f"Bearer {created['token']}"}
        ).json()
        assert me["name"] == "Cleo" and me["avatar_url"] == "https://avatars.example/cleo.png"
        env["LIVEBLOG_ADMIN_TOKEN"] = "x" * 40  # not this server's
        refused = subprocess.run(
            [sys.executable, "-m", "liveblog", "token", "create", "--url", server.url,
             "--name", "Eve"],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        assert refused.returncode != 0 and "401" in refused.stderr
    finally:
        server.stop()
