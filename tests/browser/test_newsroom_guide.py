"""The pictures of the newsroom's guide (docs/newsroom.md), taken of the real thing: a live
blog day run from the console, the desk and a phone. Each test sets a scene, checks that the
screen shows what the guide says it shows, and saves the picture (always under
``test-artifacts/screenshots/guide/``; with ``LIVEBLOG_UPDATE_SCREENSHOTS=1`` also under
``docs/screenshots/guide/``, where the guide finds them). The last test checks the guide
names exactly these pictures, and the page the console's help link opens."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect
from starlette.applications import Starlette

from liveblog.app import create_app
from tests.browser.kit import PHONE, Newsroom, Pages
from tests.browser.test_dashboard_chart import _an_hour_of_readers
from tests.browser.test_newsroom import SCREEN, Console
from tests.browser.test_newsroom_alerts import RECORD
from tests.browser.test_newsroom_embeds import paste
from tests.browser.test_phone import layout_problems
from tests.browser.test_rich import axe_violations
from tests.browser.test_screenshots import SLUG, _storm_blog
from tests.conftest import make_settings
from tests.support.clients import SSEReader
from tests.support.servers import ADMIN_TOKEN, serve_app

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots" / "guide"
DOCS = ROOT / "docs" / "screenshots" / "guide"
GUIDE = ROOT / "docs" / "newsroom.md"
YOUTUBE = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
NARROW_DESK = {"width": 1100, "height": 1000}  # one column: an entry's card pictured alone


def shot(name: str, data: bytes) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / name).write_bytes(data)
    if os.environ.get("LIVEBLOG_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ARTIFACTS / name, DOCS / name)


async def person(newsroom: Newsroom, name: str, role: str, **fields: Any) -> str:
    response = await newsroom.http.post(
        "/api/tokens", json={"name": name, "role": role, "blogs": [SLUG], **fields}
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


async def chief(server: str) -> str:
    """The newsroom's admin in the pictures: a person with a name, not the bootstrap token."""
    admin = Newsroom(server, ADMIN_TOKEN)
    try:
        response = await admin.http.post(
            "/api/tokens", json={"name": "Maya Okafor", "role": "admin", "blogs": None}
        )
        token: str = response.json()["token"]
        return token
    finally:
        await admin.close()


async def desk(pages: Pages, server: str, token: str = "", **options: Any) -> Console:
    options.setdefault("viewport", SCREEN)
    token = token or await chief(server)
    return await Console.open(pages, server, token=token, blog=SLUG, reduced_motion="reduce",
                              **options)  # fmt: skip


async def phone(pages: Pages, server: str, token: str = "", **options: Any) -> Console:
    token = token or await chief(server)
    return await Console.open(pages, server, token=token, blog=SLUG, viewport=PHONE, touch=True,
                              reduced_motion="reduce", **options)  # fmt: skip


async def settle(page: Page) -> None:
    """Fonts and the pictures on screen are in (a lazy picture further down never loads)."""
    await page.wait_for_load_state("load")
    await page.evaluate("document.fonts.ready")
    await page.evaluate(
        """Promise.race([new Promise(r => setTimeout(r, 5000)), Promise.all(
            [...document.images].filter(i => !i.complete && i.getBoundingClientRect().top <
            innerHeight).map(i => new Promise(r => { i.onload = i.onerror = r })))])"""
    )


async def picture(page: Page, name: str, target: Any = None, *, top: bool = True,
                  full: bool = False) -> None:  # fmt: skip
    """The screen (from its top, unless ``top`` is false), the whole page, or one element."""
    if target is None and top:
        await page.evaluate("window.scrollTo(0, 0)")
    if target is not None:  # the bar that stays on top would cover a tall element's picture
        await page.evaluate(
            "document.querySelector('.nr-topbar')?.style.setProperty('position', 'static')"
        )
    await settle(page)
    shot(
        name, await (target.screenshot() if target is not None else page.screenshot(full_page=full))
    )


# --- people and roles ------------------------------------------------------------------------


async def test_people_a_person_added_with_a_sign_in_link(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await _storm_blog(newsroom)
    await person(newsroom, "Ana Reyes", "editor", avatar_url="https://img.example/ana.png")
    console = await desk(pages, server)
    page = console.page
    await page.goto(f"{server}/people")
    form = page.locator("#person-form")
    await form.locator("[name=name]").fill("Tomás Ferreira")
    await form.locator("[name=role]").select_option("contributor")
    await form.locator("[name=expires]").select_option("30")
    await form.locator("[data-role=blogs] [name=all_blogs]").uncheck(force=True)
    await form.locator(f"[name=blogs][value={SLUG}]").check(force=True)
    await form.locator("[type=submit]").click()
    secret = page.locator("#new-secret")
    await expect(secret).to_contain_text("Tomás Ferreira can sign in with this link")
    await expect(secret.locator("[data-role=until]")).to_contain_text("It works until")
    await expect(page.locator("#people-list tr")).to_have_count(3)
    await picture(page, "people.png", full=True)


async def test_people_the_sign_in_link_opened_on_a_phone(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await _storm_blog(newsroom)
    token = await person(newsroom, "Tomás Ferreira", "contributor")
    page, _ = await pages.open(f"{server}/editor#token={token}", wait_live=False,
                               viewport=PHONE, touch=True, reduced_motion="reduce")  # fmt: skip
    await expect(page.locator("#me-avatar")).to_have_text("TF")
    await expect(page.locator("#composer [data-role=submit]")).to_have_text("Submit for review")
    assert token not in page.url
    await picture(page, "sign-in-phone.png")


# --- writing ---------------------------------------------------------------------------------


async def test_writing_on_the_desk(server: str, newsroom: Newsroom, pages: Pages) -> None:
    await _storm_blog(newsroom)
    console = await desk(pages, server)
    await console.write(headline="Ferries to resume at first light",
                        text="The operator says crossings restart at 06:00 if the wind drops "
                             "below 60 km/h. Details: https://ferries.example/storm")  # fmt: skip
    await console.composer.locator(".nr-chip--breaking").click()
    await console.composer.locator("[data-action=preview]").click()
    preview = console.composer.locator("[data-role=preview-entry]")
    await expect(preview.locator(".entry__headline")).to_have_text(
        "Ferries to resume at first light"
    )
    await expect(preview.locator(".entry__body a")).to_have_attribute(
        "href", "https://ferries.example/storm"
    )
    await picture(console.page, "write-desk.png")


async def test_writing_on_a_phone(server: str, newsroom: Newsroom, pages: Pages) -> None:
    await _storm_blog(newsroom)
    console = await phone(pages, server)
    await console.write(headline="Sea wall closed at the pier", text="Police have closed the")
    await expect(console.page.locator("#blogs-current")).to_contain_text("Storm Iris")
    await picture(console.page, "write-phone.png")
    await console.composer.locator("[data-role=photo] summary").click()
    camera = console.composer.locator(".nr-drop__choose-camera")
    await expect(camera).to_be_visible()
    await camera.scroll_into_view_if_needed()
    await picture(console.page, "photo-phone.png", top=False)


# --- photos and embeds -----------------------------------------------------------------------


async def test_a_photo_and_a_video(server: str, newsroom: Newsroom, pages: Pages) -> None:
    await _storm_blog(newsroom)
    console = await desk(pages, server, viewport={"width": 900, "height": 1400})
    composer = console.composer
    await console.write(headline="The breakwater at high tide",
                        text="A reader sent this view of the harbour wall, and the coastguard "
                             "posted its own video of the waves.")  # fmt: skip
    await paste(composer.locator("[data-role=body]"), YOUTUBE)
    await expect(composer.locator("[data-role=embed-status]")).to_contain_text(
        "A YouTube video: readers see a card"
    )
    await composer.locator("[data-role=photo] summary").click()
    await composer.locator("[name=photo_url]").fill("https://img.example/breakwater.jpg")
    await composer.locator("[name=caption]").fill("Waves over the harbour wall")
    await composer.locator("[name=credit]").fill("Reader photo")
    await composer.locator("[name=alt]").fill("Grey waves crashing over a stone harbour wall")
    await composer.locator("[data-action=preview]").click()
    await expect(composer.locator("[data-role=preview-entry] .embed-card--youtube")).to_be_visible()
    await expect(composer.locator("[data-role=preview-entry] img")).to_be_visible()
    await picture(console.page, "photo-and-video.png", composer.locator("[data-role=embed]"))
    await picture(console.page, "photo-and-video-preview.png",
                  composer.locator("[data-role=preview]"))  # fmt: skip
    # A provider's link put where a picture goes is refused, with what to do.
    await composer.locator("[name=photo_url]").fill("https://x.com/stormdesk/status/1789")
    refusal = composer.locator("[data-role=photo-refusal]")
    await expect(refusal).to_contain_text("That is a post on X, not a picture.")
    await picture(console.page, "photo-refused.png", composer.locator("[data-role=photo]"))


# --- contributions ---------------------------------------------------------------------------


async def test_contributions_in_the_queue(server: str, newsroom: Newsroom, pages: Pages) -> None:
    await _storm_blog(newsroom)
    tomas = await person(newsroom, "Tomás Ferreira", "contributor")
    field = Newsroom(server, tomas)
    try:
        await field.post(SLUG, headline="Roof torn off the sailing club",
                         body="<p>Seen from the promenade, five minutes ago.</p>",
                         author="Tomás Ferreira")  # fmt: skip
    finally:
        await field.close()
    console = await desk(pages, server)
    await expect(console.page.locator('[data-count="submitted"]')).to_have_text("1")
    await expect(console.page).to_have_title(re.compile(r"^\(1\) Storm Iris"))
    await expect(console.page.locator("#workflow-list [data-wf=publish]")).to_have_text(
        "Approve and publish"
    )
    await picture(console.page, "contributions.png", console.page.locator("#workflow"))


async def test_sent_back_with_a_note(server: str, newsroom: Newsroom, pages: Pages) -> None:
    await _storm_blog(newsroom)
    tomas = await person(newsroom, "Tomás Ferreira", "contributor")
    field = Newsroom(server, tomas)
    try:
        entry = await field.post(SLUG, headline="Roof torn off the sailing club")
    finally:
        await field.close()
    await newsroom.edit(SLUG, entry["id"], status="draft",
                        note="Which club? Add the street, and who saw it.")  # fmt: skip
    console = await phone(pages, server, token=tomas)
    await console.page.click('[data-tab="draft"]')
    note = console.page.locator("#workflow-list [data-role=note]")
    await expect(note).to_have_text(
        "Note from the desk: Which club? Add the street, and who saw it."
    )
    await console.page.locator("#workflow").scroll_into_view_if_needed()
    await picture(console.page, "sent-back-phone.png", top=False)


# --- scheduling, corrections, pins and key events --------------------------------------------


async def test_a_scheduled_entry(server: str, newsroom: Newsroom, pages: Pages) -> None:
    await _storm_blog(newsroom)
    at = (datetime.now(UTC) + timedelta(minutes=45)).isoformat()
    await newsroom.post(SLUG, headline="Evening briefing from the coastguard",
                        status="scheduled", publish_at=at)  # fmt: skip
    console = await desk(pages, server)
    await console.page.click('[data-tab="scheduled"]')
    countdown = console.page.locator("#workflow-list [data-role=countdown]")
    await expect(countdown).to_contain_text(re.compile(r"Publishes in 4[45]:"))
    await picture(console.page, "scheduled.png", console.page.locator("#workflow"))


async def test_a_correction(server: str, newsroom: Newsroom, pages: Pages) -> None:
    await _storm_blog(newsroom)
    console = await desk(pages, server, viewport=NARROW_DESK)
    card = console.entry_titled("All ferry crossings suspended")
    await card.locator("[data-action=edit]").click()
    editing = console.page.locator(".nr-entry--editing")
    await editing.locator("[data-role=body]").click()
    await console.page.keyboard.press("End")
    await console.page.keyboard.type(" The night ferry to the islands still runs.")
    await editing.locator("[name=correction]").fill(
        "An earlier version said every crossing was cancelled; the night ferry runs."
    )
    await expect(editing.locator("[data-role=correction]")).to_be_visible()
    await picture(console.page, "correction.png", editing)
    await editing.locator("[data-role=submit]").click()
    reader, _ = await pages.open(f"{server}/blogs/{SLUG}", reduced_motion="reduce")
    article = reader.locator("article.entry", has_text="All ferry crossings suspended")
    await expect(article.locator(".entry__correction")).to_contain_text("the night ferry runs")
    await picture(reader, "correction-reader.png", article)


async def test_an_entrys_history(server: str, newsroom: Newsroom, pages: Pages) -> None:
    await _storm_blog(newsroom)
    maya = await chief(server)
    writer = Newsroom(server, maya)
    editor = Newsroom(server, await person(newsroom, "Tomás Ferreira", "editor"))
    try:
        entry = await writer.post(SLUG, headline="Harbour bridge closed to lorries")
        await editor.edit(SLUG, entry["id"], headline="Harbour bridge closed to lorries and vans")
    finally:
        await writer.close()
        await editor.close()
    console = await phone(pages, server, maya)
    await console.entry(entry["id"]).locator("[data-action=history]").click()
    dialog = console.page.locator("#history-dialog")
    await expect(dialog.locator(".nr-diff__ins")).to_have_text([" and vans"])
    await picture(console.page, "history-phone.png")


async def test_pins_and_key_events(server: str, newsroom: Newsroom, pages: Pages) -> None:
    await _storm_blog(newsroom)
    console = await desk(pages, server, viewport=NARROW_DESK)
    card = console.entry_titled("All ferry crossings suspended")
    await card.locator("[data-action=pin]").click()
    await expect(card.locator("[data-action=pin]")).to_have_text("Unpin")
    await expect(card.locator(".label--pinned")).to_be_visible()
    await picture(console.page, "pin.png", card)
    reader, _ = await pages.open(f"{server}/blogs/{SLUG}", reduced_motion="reduce")
    await expect(reader.locator(".key-events")).to_contain_text("Red warning issued")
    await picture(reader, "key-events-reader.png", reader.locator(".key-events"))


# --- the desk's view: presence, alerts, the dashboard ------------------------------------------


async def test_who_else_is_on_the_blog(server: str, newsroom: Newsroom, pages: Pages) -> None:
    await _storm_blog(newsroom)
    maya = await person(newsroom, "Maya Okafor", "editor")
    ana = await person(newsroom, "Ana Reyes", "editor")
    colleague = await desk(pages, server, token=ana)
    card = colleague.entry_titled("Power cuts spread inland")
    await card.locator("[data-action=edit]").click()
    console = await desk(pages, server, token=maya)
    mark = console.entry_titled("Power cuts spread inland").locator("[data-role=editing-mark]")
    await expect(mark).to_contain_text("Ana Reyes is editing this entry")
    await expect(console.page.locator("#presence")).to_contain_text("Ana Reyes is editing")
    await picture(console.page, "presence.png")
    marked = console.entry_titled("Power cuts spread inland")
    await picture(console.page, "presence-mark.png", marked)


async def test_alerts_are_chosen_per_browser(server: str, newsroom: Newsroom, pages: Pages) -> None:
    await _storm_blog(newsroom)

    async def prepare(page: Page) -> None:
        await page.context.grant_permissions(["notifications"])
        await page.add_init_script(RECORD)

    console = await phone(pages, server, before_load=prepare)
    page = console.page
    await page.click("#me-button")
    await page.locator("#me-dialog [name=alert_sound]").check()
    await page.locator("#me-dialog [name=alert_desktop]").check()
    await expect(page.locator("#me-dialog [name=alert_desktop]")).to_be_checked()
    await expect(page.locator("#help-link")).to_have_attribute("href", "/newsroom/guide")
    await picture(page, "alerts-phone.png")


@pytest.fixture
async def app_server(redis_url: str) -> AsyncIterator[tuple[Starlette, str]]:
    app = create_app(make_settings(redis_url))
    async with serve_app(app) as url:
        yield app, url


async def test_the_dashboard(app_server: tuple[Starlette, str], pages: Pages) -> None:
    app, server = app_server
    newsroom = Newsroom(server, ADMIN_TOKEN)
    readers: list[SSEReader] = []
    try:
        await newsroom.blog("election", "Election count: results as they come in")
        await newsroom.post("election", headline="First seat declared in the north-east")
        await newsroom.blog("marathon", "City marathon")
        await newsroom.post("marathon", headline="Course record falls on the embankment")
        peak, _ = await _an_hour_of_readers(app)
        readers = [await SSEReader(server, "/blogs/election/events").connect() for _ in range(6)]
        page, _ = await pages.open(f"{server}/dashboard", wait_live=False, viewport=SCREEN,
                                   reduced_motion="reduce")  # fmt: skip
        chart = page.locator('.nr-blogcard[data-slug="election"] [data-role=chart]')
        await expect(chart).to_have_attribute("data-peak", str(peak), timeout=20_000)
        await picture(page, "dashboard.png")
    finally:
        for reader in readers:
            await reader.close()
        await newsroom.close()


# --- a network that comes and goes, other languages, the end of the day ----------------------


async def test_written_without_a_network(server: str, newsroom: Newsroom, pages: Pages) -> None:
    await _storm_blog(newsroom)
    console = await phone(pages, server, allow_network_errors=True)
    page = console.page
    await page.context.set_offline(True)
    await console.write(headline="Trees down on the coast road", text="Filed from the tunnel.")
    await console.publish()
    pending = page.locator("#pending-list .nr-pending")
    await expect(pending).to_have_attribute("data-state", "waiting", timeout=20_000)
    await expect(page.locator("#stream-status")).to_have_attribute("data-state", "offline")
    # The list, not its card: each retry draws the card anew, detaching the one in hand.
    await page.locator("#pending-list").scroll_into_view_if_needed()
    await picture(page, "offline-phone.png", top=False)
    await page.context.set_offline(False)
    sent = console.entry_titled("Trees down on the coast road")
    await expect(sent).to_have_count(1, timeout=20_000)


async def test_a_blog_in_arabic(server: str, newsroom: Newsroom, pages: Pages) -> None:
    await newsroom.blog(SLUG, "العاصفة إيريس تضرب الساحل: تغطية مباشرة", language="ar",
                        time_zone="Asia/Beirut",
                        description="رياح تتجاوز 120 كم/س وإلغاء العبّارات.")  # fmt: skip
    await newsroom.post(SLUG, headline="إغلاق الكورنيش أمام المارّة.",
                        body="<p>أغلقت الشرطة الكورنيش حتى إشعار آخر.</p>")  # fmt: skip
    console = await phone(pages, server, locale="ar")
    await console.write(headline="عودة العبّارات صباحًا.", text="قالت الشركة إن الرحلات تُستأنف.")
    await expect(console.page.locator("html")).to_have_attribute("dir", "rtl")
    await picture(console.page, "arabic-phone.png")


async def test_ending_the_blog(server: str, newsroom: Newsroom, pages: Pages) -> None:
    await _storm_blog(newsroom)
    console = await desk(pages, server)
    await console.page.click("#blog-toggle")
    dialog = console.page.locator("#confirm-dialog")
    await expect(dialog).to_contain_text("Readers see that the coverage has ended.")
    await picture(console.page, "end-blog.png")


# --- the guide itself ------------------------------------------------------------------------


def test_the_guide_shows_exactly_these_pictures() -> None:
    text = GUIDE.read_text()
    named = set(re.findall(r"\]\(screenshots/guide/([a-z0-9-]+\.png)\)", text))
    saved = set(EXPECTED)
    assert named == saved, (named - saved, saved - named)
    missing = [name for name in saved if not (DOCS / name).is_file()]
    assert missing == [], (
        "run LIVEBLOG_UPDATE_SCREENSHOTS=1 scripts/test tests/browser/test_newsroom_guide.py"
    )


EXPECTED = (
    "people.png", "sign-in-phone.png", "write-desk.png", "write-phone.png", "photo-phone.png",
    "photo-and-video.png", "photo-and-video-preview.png", "photo-refused.png",
    "contributions.png", "sent-back-phone.png", "scheduled.png", "correction.png",
    "correction-reader.png", "history-phone.png", "pin.png", "key-events-reader.png",
    "presence.png", "presence-mark.png",
    "alerts-phone.png", "dashboard.png", "offline-phone.png", "arabic-phone.png",
    "end-blog.png",
)  # fmt: skip


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_the_console_help_opens_the_guide(
    server: str, pages: Pages, size: str, scheme: str
) -> None:
    options: dict[str, Any] = {"viewport": PHONE, "touch": True} if size == "phone" else {}
    page, _ = await pages.open(f"{server}/newsroom/guide", wait_live=False,
                               color_scheme=scheme, **options)  # fmt: skip
    await expect(page.locator("h1")).to_have_text("Running a live blog from the newsroom")
    images = page.locator(".nr-guide img")
    await expect(images).to_have_count(len(EXPECTED))
    for image in await images.all():
        await image.scroll_into_view_if_needed()
        await expect(image).to_have_js_property("complete", True)
        assert await image.evaluate("img => img.naturalWidth") > 0
        assert await image.get_attribute("alt")
    if size == "phone":
        assert await layout_problems(page) == []
    assert await axe_violations(page) == []
