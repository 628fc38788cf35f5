"""``liveblog archive``: the static site of an ended blog, opened as files (file://) in Chromium
with no server at all: every published entry, its photos, the reader page's look, no script."""

from __future__ import annotations

import asyncio
import io
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from playwright.async_api import Browser, expect

from liveblog.config import Settings
from tests.browser.kit import Newsroom
from tests.support.servers import ADMIN_TOKEN


def photo(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1600, 900), colour).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def settings_factory(
    settings_factory: Callable[..., Settings], tmp_path: Path
) -> Callable[..., Settings]:
    media = tmp_path / "media"
    return lambda **overrides: settings_factory(media_dir=str(media), **overrides)


async def test_an_archive_opens_from_files_with_its_entries_and_photos(
    server: str, newsroom: Newsroom, browser: Browser, redis_url: str, tmp_path: Path
) -> None:
    await newsroom.create_blog("vote", "Election night", description="Results as they come")
    uploads = []
    for colour in ((30, 90, 160), (160, 60, 30)):
        answer = await newsroom.http.post("/api/blogs/vote/media", content=photo(colour),
                                          headers={"Content-Type": "image/jpeg"})  # fmt: skip
        assert answer.status_code == 201, answer.text
        uploads.append(answer.json())
    await newsroom.post("vote", headline="Polls close", labels=["key"], pinned=True)
    for n in range(5):
        media = []
        if n in (0, 4):
            up = uploads[n // 4]
            media = [
                {
                    "url": up["url"],
                    "alt": f"Photo {n}",
                    "caption": f"Caption {n}",
                    "width": up["width"],
                    "height": up["height"],
                    "variants": up["variants"],
                }
            ]
        await newsroom.post("vote", headline=f"Update {n}", body=f"<p>Text {n}.</p>", media=media)
    draft = await newsroom.post("vote", headline="Never published", status="draft")
    corrected = await newsroom.post("vote", headline="Turnout")
    await newsroom.edit("vote", corrected["id"], correction="Turnout was 61%, not 16%.")
    await newsroom.patch_blog("vote", status="ended")

    out = tmp_path / "site"
    env = {**os.environ, "LIVEBLOG_REDIS_URL": redis_url, "LIVEBLOG_ADMIN_TOKEN": ADMIN_TOKEN,
           "LIVEBLOG_MEDIA_DIR": str(tmp_path / "media")}  # fmt: skip
    env.pop("LIVEBLOG_URL", None)
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "liveblog", "archive", "vote", str(out), "--per-page", "4"],
        env=env, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.glob("*.html")) == ["index.html", "page-2.html"]
    for page in out.glob("*.html"):
        html = page.read_text()
        assert "<script" not in html and 'href="/' not in html and 'src="/' not in html
        assert draft["id"] not in html

    for width in (360, 1280):
        context = await browser.new_context(viewport={"width": width, "height": 900})
        try:
            page = await context.new_page()
            errors: list[str] = []
            page.on("console", lambda m, seen=errors: m.type == "error" and seen.append(m.text))
            await page.goto((out / "index.html").as_uri())
            await expect(page.locator(".lb-title")).to_have_text("Election night")
            await expect(page.locator("#live-status")).to_have_attribute("data-state", "ended")
            headlines = page.locator("#timeline .entry__headline")
            await expect(headlines).to_have_text(["Turnout", "Update 4", "Update 3", "Update 2"])
            await expect(page.locator("#pinned .entry__headline")).to_have_text(["Polls close"])
            await expect(page.locator(".entry__correction")).to_contain_text("61%, not 16%")
            # The page has the reader's stylesheet: its shapes, not the browser's defaults.
            radius = await page.locator(".live-status").evaluate(
                "n => getComputedStyle(n).borderTopLeftRadius"
            )
            assert radius != "0px"
            photos = page.locator(".entry__media img")
            await expect(photos).to_have_count(1)
            await photos.first.scroll_into_view_if_needed()
            await expect(photos.first).to_have_js_property("complete", True)
            loaded = await photos.first.evaluate("i => [i.naturalWidth, i.currentSrc]")
            assert loaded[0] > 0 and loaded[1].startswith((out / "media").as_uri()), loaded
            key = page.locator(".key-events__item a")
            await expect(key).to_have_text([re.compile("Polls close")])

            await page.locator("#load-older").click()
            await expect(page).to_have_url((out / "page-2.html").as_uri())
            await expect(headlines).to_have_text(["Update 1", "Update 0"])
            old = page.locator(".entry__media img")
            await old.first.scroll_into_view_if_needed()
            await expect(old.first).to_have_js_property("complete", True)
            assert await old.first.evaluate("i => i.naturalWidth") > 0
            await page.locator(".archive-note a").click()
            await expect(page).to_have_url((out / "index.html").as_uri())
            await page.screenshot(path=str(tmp_path / f"archive-{width}.png"), full_page=True)
            assert errors == []
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth > document.documentElement.clientWidth"
            )
            assert not overflow, "no sideways scrolling"
        finally:
            await context.close()
