"""The newsroom's guide, ``docs/newsroom.md``, served as a newsroom page (``/newsroom/guide``)
with its pictures (``/newsroom/guide/<name>.png``): the console's help link works on any
server, whatever it was installed from (a wheel carries the guide: see pyproject)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from liveblog.pages.assets import DOCS_DIR
from liveblog.pages.newsroom import newsroom_page
from liveblog.pages.reader import not_found
from liveblog.pages.security import COMMON_HEADERS

GUIDE = DOCS_DIR / "newsroom.md"
PICTURES = DOCS_DIR / "screenshots" / "guide"
_PICTURE = re.compile(r"[a-z0-9][a-z0-9-]{0,80}\.png\Z")
# The guide is ours, but written as text: no raw HTML in it reaches the page.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


@lru_cache(maxsize=2)
def _rendered(path: Path, mtime_ns: int) -> tuple[str, str]:
    """(its title, its HTML), with the pictures' addresses those of this server."""
    text = path.read_text(encoding="utf-8")
    title = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), "")
    html = _MARKDOWN.render(text).replace('src="screenshots/guide/', 'src="/newsroom/guide/')
    return title, html


async def guide_page(request: Request) -> Response:
    try:
        title, html = _rendered(GUIDE, GUIDE.stat().st_mtime_ns)
    except OSError:
        return not_found(request, "The newsroom's guide")
    context = {"guide_title": title, "guide": Markup(html)}
    return newsroom_page(request, "newsroom/guide.html", context)


async def guide_picture(request: Request) -> Response:
    name: str = request.path_params["name"]
    path = PICTURES / name
    if not _PICTURE.fullmatch(name) or not path.is_file():
        return not_found(request, "This picture")
    headers = {**COMMON_HEADERS, "Cache-Control": "public, max-age=3600"}
    return FileResponse(path, media_type="image/png", headers=headers)
