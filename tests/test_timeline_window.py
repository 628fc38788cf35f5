"""The timeline read from its middle (docs/api.md, Entries): ``?around=<id>`` is the page that
holds one entry however old, ``?after=<cursor>`` the entries just newer than a cursor. A reader
page opened at ``#entry-<id>`` uses both; neither ever shows what readers may not see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.clients import Editor


def _at(minutes: int) -> str:
    return (datetime(2026, 3, 1, 8, 0, tzinfo=UTC) + timedelta(minutes=minutes)).isoformat()


async def _fill(editor: Editor, count: int) -> list[dict[str, Any]]:
    await editor.blog("window")
    return [
        await editor.post("window", headline=f"n{n}", published_at=_at(n)) for n in range(count)
    ]


def _names(page: dict[str, Any]) -> list[str]:
    return [entry["headline"] for entry in page["entries"]]


async def test_around_an_old_entry_and_up_to_the_newest(editor: Editor) -> None:
    made = await _fill(editor, 60)
    url = "/api/blogs/window/entries"
    around = (await editor.http.get(url, params={"around": made[10]["id"], "limit": 8})).json()
    # The page that starts with the entry, and how many are newer.
    assert _names(around) == ["n10", "n9", "n8", "n7", "n6", "n5", "n4", "n3"]
    assert around["newer_count"] == 49  # n11 to n59
    assert around["last_event_id"] == (await editor.http.get(url)).json()["last_event_id"]
    older = (await editor.http.get(url, params={"before": around["next"], "limit": 5})).json()
    assert _names(older) == ["n2", "n1", "n0"] and older["next"] is None

    # Upwards, a page at a time, until nothing is newer.
    seen, cursor = _names(around), around["newer"]
    while cursor is not None:
        page = (await editor.http.get(url, params={"after": cursor, "limit": 20})).json()
        assert page["entries"], page
        seen = _names(page) + seen
        cursor = page["newer"]
        assert page["newer_count"] == 59 - int(page["entries"][0]["headline"][1:])
    assert seen == [f"n{n}" for n in range(59, 2, -1)]

    newest = (await editor.http.get(url, params={"around": made[59]["id"]})).json()
    assert _names(newest)[0] == "n59" and newest["newer"] is None and newest["newer_count"] == 0


async def test_around_shows_only_what_readers_may_see(editor: Editor) -> None:
    made = await _fill(editor, 3)
    url = "/api/blogs/window/entries"
    draft = await editor.post("window", headline="secret draft", status="draft")
    await editor.delete("window", made[0]["id"])
    for hidden in (draft["id"], made[0]["id"], "0" * 16):
        response = await editor.http.get(url, params={"around": hidden})
        assert response.status_code == 404, hidden
        assert response.headers["content-type"] == "application/problem+json"
    # With a token, a draft is still not on the readers' timeline.
    around = (await editor.http.get(url, params={"around": made[1]["id"]})).json()
    assert "secret draft" not in str(around)
    assert (
        await editor.http.get("/api/blogs/nope/entries", params={"around": "0" * 16})
    ).status_code == 404


async def test_bad_windows_are_refused_with_their_parameter(editor: Editor) -> None:
    made = await _fill(editor, 2)
    url = "/api/blogs/window/entries"
    first = (await editor.http.get(url, params={"limit": 1})).json()
    cases = [
        ({"around": "../etc/passwd"}, "around"),
        ({"around": made[0]["id"], "before": first["next"]}, "around"),
        ({"after": "not-a-cursor"}, "after"),
        ({"after": first["next"], "before": first["next"]}, "after"),
        ({"around": made[0]["id"], "status": "draft"}, "status"),
    ]
    for params, path in cases:
        response = await editor.http.get(url, params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["errors"][0]["path"] == path, params
