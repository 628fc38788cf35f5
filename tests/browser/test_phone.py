"""The newsroom on a phone: 360 px wide, fingers rather than a mouse, a network that comes and
goes, and the console opened from the home screen as an installed web app.

Each page is measured as a phone holds it (a mobile viewport, which zooms out when a page is
too wide, and touch). The offline tests cut the browser's network with Playwright, as a train
tunnel would: entries written meanwhile wait in the outbox and are published once, after.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from liveblog.app import create_app
from tests.browser.kit import DESKTOP, PHONE, Newsroom, Pages
from tests.browser.test_newsroom import Console, entries
from tests.browser.test_rich import axe_violations
from tests.browser.test_screenshots import _save, _settle
from tests.conftest import make_settings
from tests.support.servers import ADMIN_TOKEN, serve_app

SLOW = 20_000  # ms: retries with backoff
# What a thumb can press: links, buttons and fields, 44 px high at least (WCAG 2.5.5).
CONTROLS = (
    "button, select, input:not([type=checkbox]):not([type=file]), summary, .nr-nav a, .nr-chip"
)


TITLE = "Harbour race: the final day of the regatta, live from the quay"


async def _scene(newsroom: Newsroom) -> None:
    await newsroom.blog("harbour", TITLE, description="The regatta, as it happens")
    await newsroom.post(
        "harbour", headline="Boats leave the harbour", body="<p>Crews are on their way.</p>"
    )
    await newsroom.post(
        "harbour", headline="Wind picks up", labels=["breaking"], body="<p>25 knots.</p>"
    )
    await newsroom.http.post(
        "/api/tokens", json={"name": "Maya Okafor", "role": "editor", "blogs": ["harbour"]}
    )


async def open_page(pages: Pages, server: str, path: str, **options: Any) -> Page:
    """A newsroom page, signed in as the admin (the console keeps the token for every page)."""
    console = await Console.open(pages, server, blog="harbour", **options)
    if path != "/editor":
        await console.page.goto(f"{server}{path}")
    return console.page


_LAYOUT_PROBLEMS = """([controls, width]) => {
  const problems = [];
  const name = (node) => `${node.tagName}.${node.className}`;
  const doc = document.documentElement.scrollWidth;
  if (doc !== width || window.innerWidth !== width) {
    problems.push(`document ${doc} px, layout viewport ${window.innerWidth} px, screen ${width}`);
  }
  for (const node of document.querySelectorAll('body *')) {
    const box = node.getBoundingClientRect();
    if (!box.width || getComputedStyle(node).visibility === 'hidden') continue;
    if (node.closest('.visually-hidden, [hidden], dialog:not([open])')) continue;
    if (box.right > width + 0.5 || box.left < -0.5) {
      problems.push(`${name(node)} spans ${box.left}..${box.right}`);
    }
  }
  for (const node of document.querySelectorAll(controls)) {
    const box = node.getBoundingClientRect();
    if (!box.width || node.closest('[hidden], dialog:not([open])')) continue;
    const text = node.textContent.trim().slice(0, 20);
    if (box.height < 43.5) problems.push(`${name(node)} "${text}" is ${box.height} px high`);
  }
  return problems.slice(0, 20);
}"""


async def layout_problems(page: Page, width: int = PHONE["width"]) -> list[str]:
    """What a phone ``width`` px wide would show wrongly: sideways scrolling (a phone's browser
    zooms out to fit what is wider, so the layout viewport grows too), something past the
    right edge, a control too small for a finger."""
    return list(await page.evaluate(_LAYOUT_PROBLEMS, [CONTROLS, width]))


PAGES = ["/editor", "/dashboard", "/people", "/audit"]
# Light and dark in English, and the right-to-left console (Arabic, light).
LOOKS = {"light": ("light", "en-GB"), "dark": ("dark", "en-GB"), "ar": ("light", "ar")}


@pytest.mark.parametrize("look", list(LOOKS))
@pytest.mark.parametrize("path", PAGES)
async def test_each_newsroom_page_fits_a_phone(
    server: str, newsroom: Newsroom, pages: Pages, path: str, look: str
) -> None:
    scheme, locale = LOOKS[look]
    await _scene(newsroom)
    page = await open_page(
        pages, server, path, viewport=PHONE, touch=True, color_scheme=scheme,
        reduced_motion="reduce", locale=locale,
    )  # fmt: skip
    if path == "/people":
        await expect(page.locator("#people-list tr")).to_have_count(1)
    if path == "/dashboard":
        await expect(page.locator(".nr-blogcard")).to_have_count(1)
    if path == "/audit":
        await expect(page.locator("#audit-list .nr-audit__event").first).to_be_visible()
    # The brand's words are folded away at 360 px, but it still says where it leads.
    await expect(page.locator(".nr-brand")).to_have_accessible_name(re.compile(r"\S"))
    if path == "/editor":
        # Every part of the console unfolded, as a reporter would open them.
        await page.locator("#blogs-toggle").click()
        for summary in await page.locator("#composer details > summary").all():
            await summary.click()
    await _settle(page)
    width = await page.evaluate("document.documentElement.scrollWidth")
    print(f"document width of {path} at 360 px ({look}): {width} px")
    _save(f"newsroom-phone{path.replace('/', '-')}-{look}.png", await page.screenshot())
    assert await layout_problems(page) == []
    assert await axe_violations(page) == []


@pytest.mark.parametrize("look", list(LOOKS))
async def test_an_entrys_history_fits_a_phone(
    server: str, newsroom: Newsroom, pages: Pages, look: str
) -> None:
    """The record's dialog at 360 px: the versions, what changed word by word, the restore
    form, with nothing past the screen's edge, in both directions."""
    scheme, locale = LOOKS[look]
    await _scene(newsroom)
    [first, *_] = await entries(newsroom, "harbour")
    await newsroom.edit("harbour", first["id"], headline="Wind picks up to a full gale")
    console = await Console.open(
        pages, server, blog="harbour", viewport=PHONE, touch=True, color_scheme=scheme,
        reduced_motion="reduce", locale=locale,
    )  # fmt: skip
    page = console.page
    await console.entry(first["id"]).locator("[data-action=history]").click()
    dialog = page.locator("#history-dialog")
    await expect(dialog.locator(".nr-history__version")).to_have_count(2)
    # Who saved it, set apart from the sentence around it: a Latin name in an Arabic sentence
    # keeps its brackets where they belong.
    what = await dialog.locator(".nr-history__what").first.text_content() or ""
    assert "\u2068admin (LIVEBLOG_ADMIN_TOKEN)\u2069" in what, what
    await dialog.locator(".nr-history__version").nth(1).click()  # the first version
    await dialog.locator("[data-history=ask]").click()
    await expect(dialog.locator("[data-role=restore]")).to_be_visible()
    await _settle(page)
    _save(f"newsroom-phone-history-{look}.png", await page.screenshot())
    assert await layout_problems(page) == []
    assert await axe_violations(page) == []


@pytest.mark.parametrize("path", PAGES)
async def test_each_newsroom_page_fits_a_desktop(
    server: str, newsroom: Newsroom, pages: Pages, path: str
) -> None:
    await _scene(newsroom)
    page = await open_page(pages, server, path, viewport=DESKTOP)
    await _settle(page)
    assert await page.evaluate("document.documentElement.scrollWidth") == DESKTOP["width"]


async def test_on_a_phone_the_composer_comes_first_and_the_blogs_fold_away(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await _scene(newsroom)
    await newsroom.blog("count", "Election count")
    console = await Console.open(pages, server, blog="harbour", viewport=PHONE, touch=True)
    page = console.page
    # The composer starts on the first screen; the blog list is one folded line above it.
    composer = await console.composer.bounding_box()
    assert composer is not None and composer["y"] < PHONE["height"] / 2
    await expect(page.locator("#blog-list")).to_be_hidden()
    await expect(page.locator("#blogs-current")).to_have_text(TITLE)
    for section in ("#workflow", "#entry-list"):
        box = await page.locator(section).bounding_box()
        assert box is not None and box["y"] > composer["y"]
    # The pages' tabs are at the bottom of the screen, under the thumb.
    nav = await page.locator(".nr-nav").bounding_box()
    assert nav is not None and nav["y"] + nav["height"] == pytest.approx(PHONE["height"], abs=1)

    await page.locator("#blogs-toggle").click()
    await page.locator("#blog-list a", has_text="Election count").click()
    await expect(page.locator("#blog-title")).to_have_text("Election count")
    await expect(page.locator("#blog-list")).to_be_hidden()  # folded again
    await expect(page.locator("#blogs-current")).to_have_text("Election count")


async def test_a_photo_straight_from_the_phones_camera(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await _scene(newsroom)
    console = await Console.open(pages, server, blog="harbour", viewport=PHONE, touch=True)
    composer = console.composer
    await composer.locator("[data-role=photo] summary").click()
    camera = composer.locator("[name=photo_camera]")
    # The camera opens at once: an image input with capture (the file chooser is the other one).
    assert await camera.get_attribute("accept") == "image/*"
    assert await camera.get_attribute("capture") == "environment"
    await expect(composer.locator(".nr-drop__choose-camera")).to_be_visible()
    png = _png()
    await camera.set_input_files({"name": "IMG_0001.png", "mimeType": "image/png", "buffer": png})
    await expect(composer.locator("[name=photo_url]")).to_have_value(
        re.compile(r"^/media/"), timeout=SLOW
    )
    await composer.locator("[name=alt]").fill("The start line from the quay")
    await console.write(headline="From the quay")
    await console.publish()
    await expect(console.entry_titled("From the quay").locator("img")).to_have_count(1)
    [entry] = [e for e in await entries(newsroom, "harbour") if e["headline"] == "From the quay"]
    assert entry["media"][0]["url"].startswith("/media/")


async def test_a_busy_server_is_told_and_the_photo_sent_again(
    redis_url: str, pages: Pages, tmp_path: Path
) -> None:
    """Every upload slot of the host is busy: the server answers 503 with Retry-After; the
    console says so, waits what it was told and sends the photo again, which then goes."""
    slots = tmp_path / "slots"
    settings = make_settings(
        redis_url, media_dir=str(tmp_path / "media"), media_slots_dir=str(slots),
        media_uploads_at_once=1, media_slot_wait_seconds=0.2,
    )  # fmt: skip
    async with serve_app(create_app(settings)) as server:
        newsroom = Newsroom(server, ADMIN_TOKEN)
        try:
            await _scene(newsroom)
            slots.mkdir(parents=True, exist_ok=True)
            held = os.open(slots / "upload-0.lock", os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(held, fcntl.LOCK_EX)  # another upload of the host holds the only slot
            try:
                console = await Console.open(
                    pages, server, blog="harbour", viewport=PHONE, touch=True,
                    allow_network_errors=True,
                )  # fmt: skip
                composer = console.composer
                await composer.locator("[data-role=photo] summary").click()
                photo = {"name": "IMG_0002.png", "mimeType": "image/png", "buffer": _png()}
                await composer.locator("[name=photo_camera]").set_input_files(photo)
                status = composer.locator("[data-role=upload-status]")
                await expect(status).to_contain_text(
                    "Too many photos are being uploaded right now: trying again in 5 s",
                    timeout=SLOW,
                )
                await expect(composer.locator("[name=photo_url]")).to_have_value("")
            finally:
                os.close(held)  # the other upload is done: the slot is free
            await expect(composer.locator("[name=photo_url]")).to_have_value(
                re.compile(r"^/media/"), timeout=SLOW
            )
            await expect(status).to_contain_text("Uploaded (320 \u00d7 240)")
        finally:
            await newsroom.close()


async def test_on_a_desktop_the_camera_button_stays_away(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await _scene(newsroom)
    console = await Console.open(pages, server, blog="harbour")
    await console.composer.locator("[data-role=photo] summary").click()
    await expect(console.composer.locator(".nr-drop__choose-camera")).to_be_hidden()
    await expect(console.composer.locator(".nr-drop__choose")).to_be_visible()


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (40, 90, 160)).save(buffer, "PNG")
    return buffer.getvalue()


# --- an installed web app, and a network that comes and goes ---------------------------------


async def test_the_console_is_an_installable_web_app(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await _scene(newsroom)
    manifest = (await newsroom.http.get("/newsroom.webmanifest")).json()
    assert manifest["start_url"] == "/editor" and manifest["display"] == "standalone"
    sizes = {icon["sizes"] for icon in manifest["icons"] if icon["type"] == "image/png"}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        response = await newsroom.http.get(icon["src"])
        assert response.status_code == 200 and response.headers["content-type"] == icon["type"]
    worker = await newsroom.http.get("/newsroom-sw.js")
    assert worker.status_code == 200 and "javascript" in worker.headers["content-type"]

    console = await Console.open(
        pages, server, blog="harbour", viewport=PHONE, touch=True, allow_network_errors=True
    )
    page = console.page
    assert await page.locator("link[rel=manifest]").get_attribute("href") == "/newsroom.webmanifest"
    scope = await page.evaluate(
        "navigator.serviceWorker.ready.then(r => new URL(r.scope).pathname)"
    )
    assert scope == "/editor"
    # Opened again from the home screen without a network: the worker has the console.
    await _wait_until_kept(page)
    # What it keeps: the page, and its files by their versioned addresses (every module the
    # page loaded names its content, ?v=), one version each; never an answer of the API or a
    # stream, which the console read meanwhile (its blogs, its entries, the newsroom stream).
    kept = await page.evaluate(
        "caches.open('liveblog-newsroom').then(c => c.keys()).then(k => k.map(r => r.url))"
    )
    paths = [url.removeprefix(server) for url in kept]
    assert "/editor" in paths
    files = [p for p in paths if p != "/editor"]
    assert files and all(re.fullmatch(r"/static/[\w./-]+\?v=[0-9a-f]{12}", p) for p in files), files
    assert len({p.partition("?")[0] for p in files}) == len(files)  # one version of each
    loaded = await page.evaluate(
        "performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(n => n.includes('/static/') && n.split('?')[0].endsWith('.js'))"
    )
    assert len(loaded) > 10 and all("?v=" in url for url in loaded), loaded
    await page.context.set_offline(True)
    await page.reload()
    await expect(page.locator("#composer")).to_be_visible()
    await expect(page.locator("#blog-title")).to_have_text(TITLE)
    await expect(page.locator("#stream-status")).to_have_attribute("data-state", "offline")
    await page.context.set_offline(False)
    await expect(page.locator("#stream-status")).to_have_attribute(
        "data-state", "live", timeout=SLOW
    )


async def _wait_until_kept(page: Page) -> None:
    """The worker has the page and every file it loaded (it keeps them in the background)."""
    await page.wait_for_function(
        """async () => {
          const files = performance.getEntriesByType('resource').map(e => e.name)
            .filter(n => n.startsWith(location.origin + '/static/'));
          const cache = await caches.open('liveblog-newsroom');
          const kept = await Promise.all([location.pathname, ...files].map(u => cache.match(u)));
          return kept.every(Boolean);
        }""",
        timeout=SLOW,
    )


async def test_an_entry_written_offline_is_published_once_back_online(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await _scene(newsroom)
    console = await Console.open(
        pages, server, blog="harbour", viewport=PHONE, touch=True, allow_network_errors=True
    )
    page = console.page
    await _wait_until_kept(page)
    before = len(await entries(newsroom, "harbour"))

    await page.context.set_offline(True)
    await expect(page.locator("#stream-status")).to_have_attribute("data-state", "offline")
    await console.write(headline="Written in the tunnel", text="Filed without a signal.")
    await console.publish()
    pending = page.locator("#pending-list .nr-pending")
    await expect(pending).to_have_attribute("data-state", "waiting", timeout=SLOW)
    # The phone is put away and taken out again, still without a network: nothing is lost.
    await page.reload()
    await expect(pending).to_have_count(1)
    await expect(pending).to_contain_text("Written in the tunnel")
    assert len(await entries(newsroom, "harbour")) == before
    [item] = await console.outbox()

    loop = asyncio.get_running_loop()
    back = loop.time()
    await page.context.set_offline(False)
    await expect(console.entry_titled("Written in the tunnel")).to_have_count(1, timeout=SLOW)
    await expect(pending).to_have_count(0)
    print(f"offline entry published {loop.time() - back:.2f} s after the network came back")
    # Exactly once, also after every retry timer has had its turn.
    await page.wait_for_timeout(3000)
    found = [
        e for e in await entries(newsroom, "harbour") if e["headline"] == "Written in the tunnel"
    ]
    assert len(found) == 1
    assert await console.outbox() == []
    # Sent with its Idempotency-Key: a replay of that key gets the same entry, not a copy.
    replay = await newsroom.http.post(
        "/api/blogs/harbour/entries",
        content=item["body"],
        headers={"Idempotency-Key": item["key"], "Content-Type": "application/json"},
    )
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert json.loads(replay.text)["id"] == found[0]["id"]


async def test_a_new_tab_and_the_home_screen_app_are_signed_in_too(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await _scene(newsroom)
    console = await Console.open(pages, server, blog="harbour")
    second = await console.page.context.new_page()
    await second.goto(f"{server}/editor")
    await expect(second.locator("#me-role")).to_have_text("Admin")
    assert await second.evaluate("localStorage.getItem('liveblog.token')") == ADMIN_TOKEN
    await second.close()
