"""``/static/`` from memory (liveblog/pages/static.py, static_files.py): every file's URL carries
a version that covers what it imports, so a returning reader asks for nothing; versioned URLs
are immutable, others revalidate; ranges, HEAD, 404 and 405 as HTTP says; nothing read from
disk once the files are held. Codings and minifying: tests/test_http_compression.py."""

from __future__ import annotations

import posixpath
import re
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from liveblog.app import create_app
from liveblog.config import Settings
from liveblog.pages.assets import STATIC_DIR
from liveblog.pages.static_files import StaticFiles, static_files
from liveblog.pages.templating import static_url
from tests.support.servers import ADMIN_TOKEN, serve_app

IMMUTABLE = "public, max-age=31536000, immutable"
# Any string a script could import a sibling by: quoted, relative, ending in .js, a query or not.
RELATIVE_JS = re.compile(r"""["'](\.{1,2}/[^"'\s]+?\.js)(\?[^"']*)?["']""")


@pytest.fixture
async def served() -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app = create_app(Settings(demo=False, admin_token=ADMIN_TOKEN))
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
        yield app, client


def _tree(root: Path, files: dict[str, str]) -> StaticFiles:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return StaticFiles.load(root)


async def test_every_script_imports_its_siblings_by_their_version(
    served: tuple[Any, httpx.AsyncClient],
) -> None:
    _, client = served
    scripts = sorted(p.relative_to(STATIC_DIR).as_posix() for p in STATIC_DIR.rglob("*.js"))
    imported = set()
    for name in scripts:
        # The code a browser runs (minified and compressed: no comments left to confuse).
        code = await client.get(static_url(name), headers={"Accept-Encoding": "br"})
        assert code.status_code == 200 and code.headers["content-encoding"] == "br", name
        for specifier, query in RELATIVE_JS.findall(code.text):
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), specifier))
            # ./reader/i18n.js?v=<i18n.js's version>: the URL the page preloads.
            url = f"/static/{target}{query}"
            assert url == static_url(target), (name, specifier, query)
            imported.add(url)
        # The file as written: the same but for those versions.
        plain = await client.get(static_url(name), headers={"Accept-Encoding": "identity"})
        source = (STATIC_DIR / name).read_text()
        assert re.sub(r"\?v=[0-9a-f]{12}", "", plain.text) == source, name
        # Every version the plain file carries, the minified one carries too (comments may
        # speak of "?v=" without a version; only real versions count).
        versioned = re.compile(r"\?v=[0-9a-f]{12}")
        assert len(versioned.findall(plain.text)) == len(versioned.findall(code.text)), name
    assert len(imported) >= 10  # the reader's and the console's modules
    for url in imported:
        response = await client.get(url)
        assert response.headers["cache-control"] == IMMUTABLE, url


def test_a_version_covers_every_module_a_file_reaches(tmp_path: Path) -> None:
    files = {
        "page.js": 'import { b } from "./lib/b.js";\n// import { e } from "./e.js";\n',
        "lib/b.js": 'export { c } from "../c.js";\nexport const b = 1;\n',
        "c.js": "export const c = 1;\n",
        "later.js": 'export const load = () => import("./c.js");\n',
        "e.js": "export const e = 1;\n",
        "x.js": 'import "./y.js";\n',  # a cycle: legal in JavaScript
        "y.js": 'import "./x.js";\n',
        "style.css": "a { color: red; }\n",
    }
    before = _tree(tmp_path / "one", files)
    assert before.preloads("page.js") == [before.url("page.js"), before.url("lib/b.js"),
                                          before.url("c.js")]  # fmt: skip
    assert before.preloads("later.js") == [before.url("later.js")]  # import(): on demand
    assert b'import("./c.js?v=' in before.files["later.js"].plain.body

    deep = _tree(tmp_path / "two", {**files, "c.js": "export const c = 2;\n"})
    changed = {name for name in files if before.url(name) != deep.url(name)}
    # A commented-out import is no import: e.js's edits do not touch page.js.
    assert changed == {"page.js", "lib/b.js", "c.js", "later.js"}
    aside = _tree(tmp_path / "three", {**files, "e.js": "export const e = 2;\n"})
    assert {name for name in files if before.url(name) != aside.url(name)} == {"e.js"}
    assert aside.files["page.js"].plain.body == before.files["page.js"].plain.body
    cycle = _tree(tmp_path / "four", {**files, "y.js": 'import "./x.js";\nexport const y = 1;\n'})
    assert {name for name in files if before.url(name) != cycle.url(name)} == {"x.js", "y.js"}
    assert b'import "./y.js?v=' + cycle.files["y.js"].version.encode() in (
        cycle.files["x.js"].plain.body
    )


async def test_a_versioned_url_is_immutable_and_any_other_revalidates(
    served: tuple[Any, httpx.AsyncClient],
) -> None:
    _, client = served
    current = await client.get(static_url("reader.css"))
    assert current.headers["cache-control"] == IMMUTABLE
    assert current.headers["x-request-id"]  # answered from memory, and still logged
    # No version, or one this process does not have (a page from before a deploy): the
    # same file, kept only until it is asked again.
    for url in ("/static/reader.css", "/static/reader.css?v=000000000000"):
        other = await client.get(url)
        assert other.headers["cache-control"] == "no-cache", url
        assert (other.content, other.headers["etag"]) == (current.content, current.headers["etag"])
        again = await client.get(url, headers={"If-None-Match": other.headers["etag"]})
        assert (again.status_code, again.content) == (304, b"")


async def test_files_are_answered_from_memory(
    served: tuple[Any, httpx.AsyncClient], tmp_path: Path
) -> None:
    app, client = served
    copy = tmp_path / "static"
    shutil.copytree(STATIC_DIR, copy)
    app.static.files = StaticFiles.load(copy)
    shutil.rmtree(copy)  # nothing on disk any more: every answer comes from the table
    for coding in ("br", "gzip", "identity"):
        response = await client.get("/static/reader.js", headers={"Accept-Encoding": coding})
        assert response.status_code == 200 and b"class LiveBlog" in response.content, coding
    head = await client.head("/static/favicon.svg", headers={"Accept-Encoding": "identity"})
    svg = (STATIC_DIR / "favicon.svg").read_bytes()
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == str(len(svg))
    assert head.headers["content-type"] == "image/svg+xml"
    # The package's table stays small: ~240 KB as written, ~350 KB with every form made.
    assert static_files().size() < 1_000_000


@pytest.mark.parametrize(
    ("ranges", "status", "part"),
    [
        ("bytes=0-99", 206, slice(0, 100)),
        ("bytes=100-", 206, slice(100, None)),
        ("bytes=-10", 206, slice(-10, None)),
        ("bytes=10-999999999", 206, slice(10, None)),
        ("bytes=999999-", 416, slice(0, 0)),
        ("bytes=0-9, 20-29", 200, slice(None)),  # several: the whole file, as HTTP allows
        ("bytes=9-0", 200, slice(None)),  # invalid: ignored
        ("lines=1-2", 200, slice(None)),
        ("bytes=" + "9" * 40 + "-", 200, slice(None)),
    ],
)
async def test_a_range_is_a_range_of_the_file_as_written(
    served: tuple[Any, httpx.AsyncClient], ranges: str, status: int, part: slice
) -> None:
    _, client = served
    url = static_url("reader.js")
    whole = (await client.get(url, headers={"Accept-Encoding": "identity"})).content
    response = await client.get(url, headers={"Accept-Encoding": "br", "Range": ranges})
    assert response.status_code == status
    assert "content-encoding" not in response.headers
    assert response.content == whole[part]
    if status == 206:
        first = part.start % len(whole) if part.start else 0
        last = first + len(response.content) - 1
        assert response.headers["content-range"] == f"bytes {first}-{last}/{len(whole)}"
    if status == 416:
        assert response.headers["content-range"] == f"bytes */{len(whole)}"


async def test_if_range_with_another_tag_gets_the_whole_file(
    served: tuple[Any, httpx.AsyncClient],
) -> None:
    _, client = served
    url = static_url("reader.js")
    plain = await client.get(url, headers={"Accept-Encoding": "identity"})
    same = {"Range": "bytes=0-9", "If-Range": plain.headers["etag"]}
    assert (await client.get(url, headers=same)).status_code == 206
    other = {"Range": "bytes=0-9", "If-Range": '"another"'}
    response = await client.get(url, headers={"Accept-Encoding": "identity", **other})
    assert (response.status_code, response.content) == (200, plain.content)


async def test_a_path_with_no_file_is_not_found_and_a_file_is_only_read(
    served: tuple[Any, httpx.AsyncClient],
) -> None:
    _, client = served
    for path in ("/static/nope.js", "/static/reader", "/static/", "/static/reader.js/"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html"), path  # the 404 page
    refused = await client.post("/static/reader.js")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD"


async def test_a_file_is_refused_to_a_host_the_server_does_not_serve(
    settings_factory: Callable[..., Settings],
) -> None:
    app = create_app(settings_factory(allowed_hosts="news.example"))
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
        ours = await client.get("/static/reader.css", headers={"Host": "news.example"})
        theirs = await client.get("/static/reader.css", headers={"Host": "evil.example"})
    assert ours.status_code == 200
    assert theirs.status_code == 400
