"""An entry's history: every change stores a revision in the same atomic step, on every engine
(memory, Redis, Redis Cluster); the API lists it to the blog's staff and restores any version
as an edit like any other."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import msgspec
import pytest

from liveblog.config import Settings
from liveblog.editorial import editing, record
from liveblog.engine import make_engine
from liveblog.engine.base import Change, Engine, VersionConflict
from liveblog.models import BlogCreate, EntryCreate, EntryPatch, Token
from tests.conftest import ALL_ENGINES
from tests.support.clients import Editor, SSEReader

ANN = Token("Ann Editor", "editor", None, id="a1a1a1a1a1a1")
BOB = Token("Bob Editor", "editor", None, id="b2b2b2b2b2b2")


@pytest.fixture
async def engine(
    engine_name: str, settings_factory: Callable[..., Settings]
) -> AsyncIterator[Engine]:
    engine = make_engine(settings_factory(max_revisions=4))
    await engine.start()
    await editing.create_blog(engine, BlogCreate(slug="desk", title="Desk"))
    yield engine
    await engine.close()


async def create(engine: Engine, token: Token = ANN, **fields: Any) -> str:
    fields.setdefault("body", "<p>First words.</p>")
    raw, *_ = await editing.create_entry(engine, "desk", EntryCreate(**fields), token=token)
    entry_id: str = msgspec.json.decode(raw)["id"]
    return entry_id


async def edit(engine: Engine, entry_id: str, token: Token = ANN, **fields: Any) -> int:
    entry = await editing.update_entry(
        engine, "desk", entry_id, EntryPatch(**fields), None, token=token
    )
    return entry.version


def summary(history: list[Any]) -> list[tuple[int, str, str | None, str | None]]:
    return [(r.version, r.action, r.by.name, r.entry.body if r.entry else None) for r in history]


@pytest.mark.parametrize("engine_name", ALL_ENGINES)
async def test_every_change_of_an_entry_is_a_revision_with_who_and_when(engine: Engine) -> None:
    entry_id = await create(engine, status="draft")
    await edit(engine, entry_id, BOB, body="<p>Second words.</p>")
    await edit(engine, entry_id, status="published")
    await edit(engine, entry_id, BOB, body="<p>Third words.</p>", correction="A name was wrong.")
    await editing.delete_entry(engine, "desk", entry_id, token=BOB)

    history = await editing.entry_history(engine, "desk", entry_id)
    # Four kept (max_revisions=4): the first, then the newest three.
    assert summary(history) == [
        (1, "entry.created", "Ann Editor", "<p>First words.</p>"),
        (3, "entry.published", "Ann Editor", "<p>Second words.</p>"),
        (4, "entry.updated", "Bob Editor", "<p>Third words.</p>"),
        (5, "entry.deleted", "Bob Editor", None),
    ]
    assert [r.by.token_id for r in history] == ["a1a1a1a1a1a1", "a1a1a1a1a1a1"] + [
        "b2b2b2b2b2b2"
    ] * 2
    assert [c.text for c in history[2].entry.corrections] == ["A name was wrong."]
    assert history == sorted(history, key=lambda r: r.at)  # oldest first, as they happened
    assert await engine.deleted_entries("desk", 10) == [
        (entry_id, pytest.approx(history[-1].at.timestamp(), abs=5))
    ]

    # A deleted entry comes back as the version chosen, readers and all.
    restored = await editing.restore_entry(engine, "desk", entry_id, 4, None, token=ANN)
    assert (restored.version, restored.body, restored.status) == (
        6,
        "<p>Third words.</p>",
        "published",
    )
    assert (await engine.get_entry("desk", entry_id)) == restored
    history = await editing.entry_history(engine, "desk", entry_id)
    assert (history[-1].version, history[-1].action, history[-1].restored_from) == (
        6,
        "entry.restored",
        4,
    )
    assert await engine.deleted_entries("desk", 10) == []


@pytest.mark.parametrize("engine_name", ALL_ENGINES)
async def test_a_refused_change_stores_no_revision_and_no_audit_event(engine: Engine) -> None:
    entry_id = await create(engine)
    entry = await engine.get_entry("desk", entry_id)
    assert entry is not None
    before = await engine.audit_log("desk", None, 100)
    stale = Change(
        event=None, entry_id=entry_id, entry=msgspec.json.encode(entry), entry_version=9,
        expect_version=7, **record.entry_record("desk", record.actor(ANN), entry, entry),
    )  # fmt: skip
    with pytest.raises(VersionConflict):
        await engine.apply("desk", stale)
    assert summary(await editing.entry_history(engine, "desk", entry_id)) == [
        (1, "entry.created", "Ann Editor", "<p>First words.</p>")
    ]
    assert await engine.audit_log("desk", None, 100) == before
    # An idempotent replay answers from the first request and records nothing either.
    data = EntryCreate(body="<p>Once.</p>")
    for _ in range(2):
        await editing.create_entry(
            engine, "desk", data, token=ANN, idempotency_key="k", raw_request=b"x"
        )
    assert len(await engine.audit_log("desk", None, 100)) == len(before) + 1


@pytest.mark.parametrize("engine_name", ALL_ENGINES)
async def test_history_keeps_the_first_version_and_the_newest(engine: Engine) -> None:
    entry_id = await create(engine)
    for n in range(2, 12):
        await edit(engine, entry_id, body=f"<p>Version {n}.</p>")
    history = await editing.entry_history(engine, "desk", entry_id)
    assert [r.version for r in history] == [1, 9, 10, 11]
    assert history[0].entry is not None and history[0].entry.body == "<p>First words.</p>"


@pytest.mark.parametrize("engine_name", ALL_ENGINES)
async def test_restore_is_an_edit_with_if_match_and_keeps_place_and_corrections(
    engine: Engine,
) -> None:
    entry_id = await create(engine, headline="Old", labels=["breaking"])
    await edit(engine, entry_id, headline="New", labels=[], pinned=True, correction="Fixed.")
    with pytest.raises(VersionConflict):
        await editing.restore_entry(engine, "desk", entry_id, 1, 1, token=ANN)
    entry = await editing.restore_entry(
        engine, "desk", entry_id, 1, 2, correction="Restored the first text.", token=ANN
    )
    assert (entry.version, entry.headline, entry.labels, entry.pinned) == (
        3,
        "Old",
        ["breaking"],
        True,
    )
    assert [c.text for c in entry.corrections] == ["Fixed.", "Restored the first text."]
    with pytest.raises(editing.RevisionNotFound):
        await editing.restore_entry(engine, "desk", entry_id, 99, None, token=ANN)


# --- through the API -------------------------------------------------------------------------


async def person(editor: Editor, name: str, role: str, **fields: Any) -> Editor:
    response = await editor.http.post("/api/tokens", json={"name": name, "role": role, **fields})
    assert response.status_code == 201, response.text
    return Editor(editor.base_url, response.json()["token"])


@pytest.fixture
async def people(editor: Editor) -> AsyncIterator[dict[str, Editor]]:
    await editor.create_blog("desk", "Desk")
    await editor.create_blog("other", "Other")
    people = {
        "editor": await person(editor, "Ed Itor", "editor", blogs=["desk"]),
        "ann": await person(editor, "Ann Contrib", "contributor", blogs=["desk"]),
        "bob": await person(editor, "Bob Contrib", "contributor", blogs=["desk"]),
        "outsider": await person(editor, "Out Sider", "editor", blogs=["other"]),
    }
    yield people
    for client in people.values():
        await client.close()


def revisions_path(entry_id: str) -> str:
    return f"/api/blogs/desk/entries/{entry_id}/revisions"


async def test_the_history_is_for_the_blogs_staff(
    server: str, editor: Editor, people: dict[str, Editor]
) -> None:
    own = await people["ann"].post("desk", headline="Ann's")
    published = await people["editor"].post("desk", headline="Ed's")
    await people["editor"].edit("desk", published["id"], headline="Ed's, edited")

    answer = await people["editor"].http.get(revisions_path(published["id"]))
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    revisions = answer.json()["revisions"]
    assert [(r["version"], r["by"]["name"], r["entry"]["headline"]) for r in revisions] == [
        (1, "Ed Itor", "Ed's"), (2, "Ed Itor", "Ed's, edited"),
    ]  # fmt: skip
    assert set(revisions[0]) >= {"version", "at", "by", "entry"}
    assert set(revisions[0]["by"]) == {"token_id", "name"}

    async with httpx.AsyncClient(base_url=server) as anonymous:
        assert (await anonymous.get(revisions_path(published["id"]))).status_code == 401
    assert (await people["outsider"].http.get(revisions_path(published["id"]))).status_code == 403
    # A contributor reads its own entries' history, no one else's.
    assert (await people["ann"].http.get(revisions_path(own["id"]))).status_code == 200
    assert (await people["bob"].http.get(revisions_path(own["id"]))).status_code == 403
    assert (await people["ann"].http.get(revisions_path(published["id"]))).status_code == 403
    assert (await editor.http.get(revisions_path("0000000000000000"))).status_code == 404
    assert (await editor.http.get("/api/blogs/nowhere/entries/x/revisions")).status_code == 404

    # Deleted: still listed, ending with entry null, for staff.
    await people["editor"].delete("desk", published["id"])
    revisions = (await editor.http.get(revisions_path(published["id"]))).json()["revisions"]
    assert [(r["version"], r["entry"] is None) for r in revisions] == [
        (1, False), (2, False), (3, True),
    ]  # fmt: skip
    deleted = (await people["editor"].http.get("/api/blogs/desk/deleted")).json()["entries"]
    assert [(d["id"], d["by"]["name"], d["entry"]["version"]) for d in deleted] == [
        (published["id"], "Ed Itor", 2)
    ]


async def test_restore_is_an_edit_readers_see(
    server: str, editor: Editor, people: dict[str, Editor]
) -> None:
    entry = await editor.post("desk", headline="The first headline", body="<p>One.</p>")
    await editor.edit("desk", entry["id"], headline="A wrong headline", body="<p>Two.</p>")
    reader = await SSEReader(server, "/blogs/desk/events").connect()
    try:
        restore = f"{revisions_path(entry['id'])}/1/restore"
        stale = await people["editor"].http.post(restore, headers={"If-Match": '"1"'})
        assert stale.status_code == 412 and stale.headers["etag"] == '"2"'
        refused = await people["ann"].http.post(restore)
        assert refused.status_code == 403
        answer = await people["editor"].http.post(
            restore, json={"correction": "The headline named the wrong town."},
            headers={"If-Match": '"2"'},
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        restored = answer.json()
        assert answer.headers["etag"] == '"3"'
        assert (restored["version"], restored["headline"], restored["body"]) == (
            3, "The first headline", "<p>One.</p>",
        )  # fmt: skip
        assert [c["text"] for c in restored["corrections"]] == [
            "The headline named the wrong town."
        ]
        events = await reader.wait_for(1)
        assert (events[0].type, events[0].data["data"]) == ("entry.updated", restored)
        # The reader's page lists the correction under the entry.
        page = (await editor.http.get("/blogs/desk")).text
        assert "The headline named the wrong town." in page

        missing = await editor.http.post(f"{revisions_path(entry['id'])}/9/restore")
        assert missing.status_code == 404
        bad = await editor.http.post(
            restore, content=b'{"correction": 3}', headers={"Content-Type": "application/json"}
        )
        assert bad.status_code == 422

        # A deleted entry comes back: readers get it as new again.
        await editor.delete("desk", entry["id"])
        back = await editor.http.post(f"{revisions_path(entry['id'])}/2/restore")
        assert back.status_code == 200 and back.json()["version"] == 5
        events = await reader.wait_for(3)
        assert [e.type for e in events[1:]] == ["entry.deleted", "entry.created"]
        assert events[2].data["data"]["headline"] == "A wrong headline"
    finally:
        await reader.close()
