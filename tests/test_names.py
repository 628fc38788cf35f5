"""One name space: where a route takes a blog's slug, a name that is not one (an internal name
such as ``<slug>~newsroom``, capitals, a name too long, a trailing newline) is 404 on every route
of the route table, on both engines, before any endpoint sees it: problem+json for the API and
the streams, the not-found page for pages, close code 4404 for a WebSocket."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import websockets
from starlette.routing import Mount, Route, WebSocketRoute

from liveblog import routes
from tests.support.clients import Editor
from tests.support.servers import ADMIN_TOKEN

PROBLEM = "application/problem+json"
# "desk" exists (with a draft on its newsroom stream): each of these names something else.
NOT_SLUGS = [
    "desk~newsroom",
    "desk%7Enewsroom",
    "desk%7enewsroom",
    "Desk",
    "-desk",
    "desk%0A",
    "desk%20",
    "d" * 65,
    "%64esk~newsroom",
]
BODIES = {"POST": {"body": "<p>Hello</p>"}, "PATCH": {"headline": "Renamed"}}


def slug_routes() -> list[Route | WebSocketRoute]:
    found = [
        route
        for route in routes.table()
        if isinstance(route, Route | WebSocketRoute) and "slug" in route.param_convertors
    ]
    assert len(found) >= 10, "the walk must see the table"
    return found


def test_every_route_that_takes_a_blog_takes_only_a_slug() -> None:
    """The one place: the table's slug convertor. A new route that forgets it fails here."""
    for route in slug_routes():
        assert isinstance(route.param_convertors["slug"], routes.SlugConvertor), route.path
    for route in routes.table():
        assert not isinstance(route, Mount) or "slug" not in route.param_convertors


async def test_a_name_that_is_not_a_slug_is_404_on_every_route(editor: Editor) -> None:
    await editor.create_blog("desk", "Desk")
    draft = await editor.post("desk", status="draft", headline="Hidden")
    published = await editor.post("desk", headline="Shown")
    values = {"entry_id": published["id"], "version": 1}
    walked = 0
    async with httpx.AsyncClient(
        base_url=editor.base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10
    ) as http:
        for route in slug_routes():
            for name in NOT_SLUGS:
                path = route.path_format.format(**values, slug=name)
                if isinstance(route, WebSocketRoute):
                    await check_socket(editor.base_url, path)
                    walked += 1
                    continue
                for method in sorted(route.methods or ()):
                    response = await http.request(method, path, json=BODIES.get(method))
                    check_not_found(response, path, method)
                    walked += 1
            # The same route with the blog's own name is served: 404 came from the name.
            good = route.path_format.format(**values, slug="desk")
            if isinstance(route, Route) and "GET" in (route.methods or ()) and "events" not in good:
                assert (await http.get(good)).status_code == 200, good
        # Nothing was written under another name, nothing leaked: the draft is still hidden.
        timeline = (await http.get("/api/blogs/desk/entries")).json()["entries"]
        assert [e["id"] for e in timeline] == [published["id"]]
        assert (await http.get(f"/api/blogs/desk/entries/{draft['id']}")).json()["headline"] == (
            "Hidden"
        )
        blogs = (await http.get("/api/blogs")).json()["blogs"]
        assert [b["slug"] for b in blogs] == ["desk"] and blogs[0]["title"] == "Desk"
    assert walked > 100


def check_not_found(response: httpx.Response, path: str, method: str) -> None:
    where = f"{method} {path}"
    assert response.status_code == 404, where
    if path.startswith("/api/") or routes.is_stream_path(path):
        assert response.headers["content-type"] == PROBLEM, where
        if method != "HEAD":
            body: dict[str, Any] = response.json()
            assert body["status"] == 404, where
    elif method == "GET":
        assert response.headers["content-type"].startswith("text/html"), where
        assert "could not be found" in response.text, where  # the not-found page


async def check_socket(base_url: str, path: str) -> None:
    url = "ws" + base_url.removeprefix("http") + path
    async with websockets.connect(url) as socket:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404, path
