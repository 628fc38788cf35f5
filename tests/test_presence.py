"""Presence (docs/api.md, The newsroom): `PUT /api/blogs/{slug}/presence` and the `presence`
events of the newsroom stream. Who has the blog open in a console, and what each edits; a
console that closes drops out (at once, or within 30 s when its process dies); across
processes; never on a reader's stream, never in any history."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.support.clients import Editor, SSEReader, WSReader
from tests.support.servers import ADMIN_TOKEN, ServerProcess


@pytest.fixture
async def desk(editor: Editor) -> AsyncIterator[dict[str, str]]:
    """A blog and its people's tokens: two editors and a contributor."""
    await editor.blog("desk", "Desk")
    await editor.blog("other", "Other")
    tokens = {}
    for name, role in (("Ann", "editor"), ("Bob", "editor"), ("Cat", "contributor")):
        response = await editor.http.post(
            "/api/tokens",
            json={"name": name, "role": role, "blogs": ["desk"],
                  "avatar_url": f"https://img.example/{name}.png"},
        )  # fmt: skip
        tokens[name] = response.json()["token"]
    yield tokens


async def console(base: str, token: str, slug: str = "desk") -> SSEReader:
    """A console: the blog's newsroom stream, held open."""
    headers = {"Authorization": f"Bearer {token}"}
    reader = SSEReader(base, f"/api/blogs/{slug}/newsroom/events", extra_headers=headers)
    await reader.connect()
    assert reader.status == 200
    return reader


def people_seen(reader: SSEReader) -> list[dict[str, Any]]:
    """The people of the last `presence` event the console got."""
    presence = [notice for notice in reader.notices if notice["type"] == "presence"]
    assert presence, "no presence event yet"
    event = presence[-1]
    assert set(event) == {"type", "blog", "data"} and event["type"] == "presence"
    people: list[dict[str, Any]] = event["data"]["people"]
    return people


async def until(check: Callable[[], bool], timeout: float = 10) -> float:
    """Wait until ``check()`` holds (polling); the seconds it took."""
    start = time.monotonic()
    async with asyncio.timeout(timeout):
        while True:
            try:
                if check():
                    return time.monotonic() - start
            except AssertionError:
                pass
            await asyncio.sleep(0.01)


def names(reader: SSEReader) -> list[str]:
    return [person["name"] for person in people_seen(reader)]


async def put(base: str, token: str, body: object, slug: str = "desk") -> httpx.Response:
    async with httpx.AsyncClient(base_url=base) as http:
        return await http.put(
            f"/api/blogs/{slug}/presence", json=body, headers={"Authorization": f"Bearer {token}"}
        )


async def test_consoles_see_each_other_and_what_each_edits(
    server: str, editor: Editor, desk: dict[str, str]
) -> None:
    reader = await SSEReader(server, "/blogs/desk/events").connect()
    socket = await WSReader(server, "/blogs/desk/ws").connect()
    ann = await console(server, desk["Ann"])
    await until(lambda: names(ann) == ["Ann"])
    [me] = people_seen(ann)
    assert me["avatar_url"] == "https://img.example/Ann.png" and me["editing"] is None
    assert me["token_id"] and me["since"].endswith("Z")

    bob = await console(server, desk["Bob"])
    await until(lambda: names(bob) == ["Ann", "Bob"])
    await until(lambda: names(ann) == ["Ann", "Bob"])

    entry = await editor.post("desk", headline="The count")
    answer = await put(server, desk["Bob"], {"editing": entry["id"]})
    assert answer.status_code == 200, answer.text
    assert [(p["name"], p["editing"]) for p in answer.json()["people"]] == [
        ("Ann", None), ("Bob", entry["id"]),
    ]  # fmt: skip
    await until(lambda: [p["editing"] for p in people_seen(ann)] == [None, entry["id"]])
    bobs = people_seen(ann)[1]
    # Bob again on the same entry: editing since the first time.
    await put(server, desk["Bob"], {"editing": entry["id"]})
    assert (await put(server, desk["Bob"], {"editing": entry["id"]})).json()["people"][1][
        "since"
    ] == bobs["since"]
    await put(server, desk["Bob"], {"editing": None})
    await until(lambda: [p["editing"] for p in people_seen(ann)] == [None, None])

    # A second console of Ann's: still one Ann.
    ann_again = await console(server, desk["Ann"])
    await until(lambda: names(ann_again) == ["Ann", "Bob"])

    # Bob closes his console: gone at once, and with him what he edits.
    await put(server, desk["Bob"], {"editing": entry["id"]})
    await until(lambda: people_seen(ann)[1]["editing"] == entry["id"])
    await bob.close()
    took = await until(lambda: names(ann) == ["Ann"])
    assert took < 30  # generous: it is at once (the deadline is the contract's)
    # Nothing of this ever reaches a reader, nor the history of the newsroom stream.
    await editor.post("desk", headline="After")
    await reader.wait_for(2)
    await socket.wait_for(2)
    for event in [*reader.events, *socket.events]:
        assert event.type != "presence"
    assert b"presence" not in b"".join(e.raw.encode() for e in reader.events + socket.events)
    assert reader.notices == []
    for stream in (reader, socket, ann, ann_again):
        await stream.close()


async def test_presence_is_for_the_blogs_staff_and_names_real_entries(
    server: str, editor: Editor, desk: dict[str, str]
) -> None:
    entry = await editor.post("desk", headline="Published")
    assert (await put(server, "lb_wrong", {"editing": None})).status_code == 401
    async with httpx.AsyncClient(base_url=server) as http:
        assert (
            await http.put("/api/blogs/desk/presence", json={"editing": None})
        ).status_code == 401
    assert (await put(server, desk["Ann"], {"editing": None}, slug="other")).status_code == 403
    assert (await put(server, desk["Ann"], {"editing": None}, slug="nope")).status_code == 404
    refused = [({"editing": "no-such-entry"}, "$.editing"), ({}, "$"),
               ({"editing": 3}, "$.editing"), ({"editing": None, "x": 1}, "$")]  # fmt: skip
    for body, path in refused:
        answer = await put(server, desk["Ann"], body)
        assert answer.status_code == 422, body
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["errors"][0]["path"].startswith(path), answer.json()
    # A contributor edits only its own entries, until they are published.
    assert (await put(server, desk["Cat"], {"editing": entry["id"]})).status_code == 403
    cat = Editor(server, desk["Cat"])
    mine = await cat.post("desk", headline="From the scene")
    await cat.close()
    assert (await put(server, desk["Cat"], {"editing": mine["id"]})).status_code == 200
    assert (await put(server, desk["Ann"], {"editing": mine["id"]})).status_code == 200


async def test_a_console_is_in_the_openapi_document(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        document = (await http.get("/api/openapi.json")).json()
    operation = document["paths"]["/api/blogs/{slug}/presence"]["put"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PresenceUpdate"
    }


@pytest.fixture
def two_processes(
    server_process: Callable[..., ServerProcess],
) -> tuple[ServerProcess, ServerProcess]:
    return server_process(), server_process()


async def test_across_processes_and_a_process_that_dies(
    two_processes: tuple[ServerProcess, ServerProcess],
) -> None:
    first, second = two_processes
    admin = Editor(first.url, ADMIN_TOKEN)
    await admin.blog("desk", "Desk")
    tokens = {}
    for name in ("Ann", "Bob"):
        response = await admin.http.post(
            "/api/tokens", json={"name": name, "role": "editor", "blogs": ["desk"]}
        )
        tokens[name] = response.json()["token"]
    entry = await admin.post("desk", headline="The count")
    ann = await console(first.url, tokens["Ann"])
    bob = await console(second.url, tokens["Bob"])
    took = await until(lambda: names(ann) == ["Ann", "Bob"] and names(bob) == ["Ann", "Bob"])
    print(f"a console on another process seen after {took * 1000:.0f} ms")
    # Bob's process says what he edits; Ann's console, on the other process, hears it.
    await put(second.url, tokens["Bob"], {"editing": entry["id"]})
    took = await until(lambda: people_seen(ann)[1]["editing"] == entry["id"])
    print(f"an edit on another process seen after {took * 1000:.0f} ms")
    # Bob's process dies on the spot: no goodbye. His record expires; Ann's console hears.
    await asyncio.to_thread(second.kill)
    took = await until(lambda: names(ann) == ["Ann"], timeout=30)
    print(f"a dead process's console dropped after {took:.1f} s")
    await ann.close()
    await bob.close()
    await admin.close()
