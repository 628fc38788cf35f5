"""Every language, both directions: the composer, headline and preview follow the blog's
direction; a blog's language and time zone are chosen when it is created and changed in its
settings; the newsroom speaks the person's language (the browser's, or a choice)."""

from __future__ import annotations

import pytest
from playwright.async_api import Locator, Page, expect

from tests.browser.kit import PHONE, Newsroom, Pages, Watch
from tests.browser.test_newsroom import Console
from tests.browser.test_phone import layout_problems
from tests.browser.test_rich import axe_violations
from tests.browser.test_screenshots import _save, _settle
from tests.support.servers import ADMIN_TOKEN

ARABIC_TITLE = "تغطية مباشرة: قمة المناخ في يومها الأخير"


async def direction(node: Locator) -> str:
    found: str = await node.evaluate("node => getComputedStyle(node).direction")
    return found


async def _arabic_blog(newsroom: Newsroom) -> None:
    await newsroom.blog(
        "summit-ar", ARABIC_TITLE, description="آخر المستجدات من قاعة المفاوضات.",
        language="ar", time_zone="Asia/Beirut",
    )  # fmt: skip
    await newsroom.post("summit-ar", headline="بدء الجلسة الختامية.",
                        body="<p>افتتح الرئيس الجلسة. قال: \"We are close\".</p>")  # fmt: skip


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
async def test_the_composer_headline_and_preview_follow_an_arabic_blog(
    server: str, newsroom: Newsroom, pages: Pages, phone: bool
) -> None:
    await newsroom.blog("harbour", "Harbour race")
    await _arabic_blog(newsroom)
    options = {"viewport": PHONE, "touch": True} if phone else {}
    console = await Console.open(pages, server, blog="summit-ar", **options)
    page, composer = console.page, console.composer
    headline = composer.locator("[name=headline]")
    body = composer.locator("[data-role=body]")
    # Empty, the fields start where Arabic starts: on the right.
    assert await direction(headline) == "rtl"
    assert await direction(body) == "rtl"
    assert await body.get_attribute("lang") == "ar"
    await headline.fill("وصل الوفد إلى القاعة.")
    assert await direction(headline) == "rtl"  # the full stop ends the sentence on the left
    await body.click()
    await page.keyboard.type("The chair said: we are close.")  # a quote in English
    await page.keyboard.press("Enter")
    await page.keyboard.type("قال المتحدث إن الاتفاق قريب.")
    # Each line reads in its own direction: the English quote from the left, the Arabic one
    # from the right (where each line's text starts and ends).
    english, arabic = await body.evaluate(
        """(node) => {
            const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
            const edge = node.getBoundingClientRect();
            const gaps = [];
            while (walker.nextNode()) {
              const range = document.createRange();
              range.selectNodeContents(walker.currentNode);
              const box = range.getBoundingClientRect();
              gaps.push({left: box.left - edge.left, right: edge.right - box.right});
            }
            return gaps;
        }"""
    )
    assert arabic["right"] < arabic["left"] and english["left"] < english["right"]
    await composer.locator("[data-action=preview]").click()
    preview = composer.locator("[data-role=preview-entry]")
    assert await direction(preview.locator(".entry__headline")) == "rtl"
    # Mixed text: a Latin headline in the Arabic blog reads left to right (dir=auto).
    await headline.fill("COP29: the final text")
    assert await direction(headline) == "ltr"

    # The blog's own text: its title (not cut at its start) and its entries.
    assert await direction(page.locator("#blog-title")) == "rtl"
    title = page.locator("#blog-list .nr-blogs__title", has_text="تغطية")
    assert await direction(title) == "rtl"
    entry = page.locator("#entry-list .nr-entry__view").first
    assert await direction(entry) == "rtl"
    assert await entry.get_attribute("lang") == "ar"
    # The console's own words stay in the console's direction.
    assert await direction(page.locator("#compose-heading")) == "ltr"
    # An English blog: left to right again.
    await page.goto(f"{server}/editor?blog=harbour")
    await expect(page.locator("#blog-title")).to_have_text("Harbour race")
    assert await direction(composer.locator("[data-role=body]")) == "ltr"
    if phone:
        assert await layout_problems(page) == []


async def test_a_blogs_language_and_zone_are_chosen_when_it_is_created_and_in_its_settings(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    console = await Console.open(pages, server)
    page = console.page
    await page.click("#new-blog")
    dialog = page.locator("#blog-dialog")
    await dialog.locator("[name=title]").fill("Wahlabend in Berlin")
    await dialog.locator("[name=slug]").fill("wahl")
    await dialog.locator("[name=language]").select_option("de")
    await dialog.locator("[name=time_zone]").select_option("Europe/Berlin")
    await dialog.locator("[type=submit]").click()
    await expect(page.locator("#blog-title")).to_have_text("Wahlabend in Berlin")
    blog = (await newsroom.http.get("/api/blogs/wahl")).json()
    assert (blog["language"], blog["time_zone"]) == ("de", "Europe/Berlin")
    reader = (await newsroom.http.get("/blogs/wahl")).text
    assert '<html lang="de" dir="ltr" data-time-zone="Europe/Berlin"' in reader

    await page.click("#blog-settings")
    settings = page.locator("#settings-dialog")
    await expect(settings.locator("[name=language]")).to_have_value("de")
    await expect(settings.locator("[name=time_zone]")).to_have_value("Europe/Berlin")
    await settings.locator("[name=title]").fill("انتخابات برلين")
    await settings.locator("[name=language]").select_option("ar")
    await settings.locator("[name=time_zone]").select_option("Asia/Beirut")
    await settings.locator("[type=submit]").click()
    await expect(settings).to_be_hidden()
    await expect(page.locator("#blog-title")).to_have_text("انتخابات برلين")
    blog = (await newsroom.http.get("/api/blogs/wahl")).json()
    assert (blog["title"], blog["language"], blog["time_zone"]) == (
        "انتخابات برلين", "ar", "Asia/Beirut",
    )  # fmt: skip
    # The composer turned with the blog.
    assert await direction(console.composer.locator("[data-role=body]")) == "rtl"
    reader = (await newsroom.http.get("/blogs/wahl")).text
    assert '<html lang="ar" dir="rtl" data-time-zone="Asia/Beirut"' in reader


async def test_a_language_the_list_lacks_is_kept_by_the_settings(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("basque", "Korrika", language="eu", time_zone="Europe/Madrid")
    console = await Console.open(pages, server, blog="basque")
    await console.page.click("#blog-settings")
    settings = console.page.locator("#settings-dialog")
    await expect(settings.locator("[name=language]")).to_have_value("eu")
    await settings.locator("[name=description]").fill("Zuzenean")
    await settings.locator("[type=submit]").click()
    await expect(settings).to_be_hidden()
    blog = (await newsroom.http.get("/api/blogs/basque")).json()
    assert (blog["description"], blog["language"]) == ("Zuzenean", "eu")


# The console's words: (locale, html dir, sign-in title, "Publish", "Queue", the stream pill)
WORDS = {
    "en-GB": ("ltr", "Sign in to the newsroom", "Publish", "Queue", "Live"),
    "uk-UA": ("ltr", "Вхід до редакції", "Опублікувати", "Черга", "Наживо"),
    "de-DE": ("ltr", "Bei der Redaktion anmelden", "Veröffentlichen", "Warteschlange", "Live"),
    "fr-FR": ("ltr", "Se connecter à la rédaction", "Publier", "File", "En direct"),
    "es-ES": ("ltr", "Entrar en la redacción", "Publicar", "Cola", "En directo"),
    "ar": ("rtl", "تسجيل الدخول إلى غرفة الأخبار", "نشر", "الطابور", "مباشر"),
}


@pytest.mark.parametrize("locale", list(WORDS))
async def test_the_newsroom_speaks_the_browsers_language(
    server: str, newsroom: Newsroom, pages: Pages, locale: str
) -> None:
    await newsroom.blog("harbour", "Harbour race")
    direction_, title, publish, queue, live = WORDS[locale]
    page, _ = await pages.open(f"{server}/editor", wait_live=False, locale=locale)
    language = locale.split("-")[0]
    assert await page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [
        language, direction_,
    ]  # fmt: skip
    await expect(page.locator(".nr-signin__title")).to_have_text(title)
    console = Console(page, Watch())
    await console.sign_in(ADMIN_TOKEN)
    await expect(console.composer.locator("[data-role=submit]")).to_have_text(publish)
    await expect(page.locator("[data-tab=submitted]")).to_contain_text(queue)
    # Written by the script: from the page's catalogue.
    await expect(page.locator("#stream-status [data-role=text]")).to_have_text(live)
    await page.goto(f"{server}/dashboard")
    await expect(page.locator("html")).to_have_attribute("lang", language)


async def test_a_chosen_language_is_kept_by_this_browser(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("harbour", "Harbour race")
    console = await Console.open(pages, server, blog="harbour", locale="en-GB")
    page = console.page
    await page.click("#me-button")
    await page.locator("#me-language").select_option("uk")
    await expect(page.locator("html")).to_have_attribute("lang", "uk")
    await expect(console.composer.locator("[data-role=submit]")).to_have_text("Опублікувати")
    other = await page.context.new_page()
    await other.goto(f"{server}/people")
    await expect(other.locator("html")).to_have_attribute("lang", "uk")
    await expect(other.locator("#people-app h1")).to_have_text("Люди")
    await other.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_the_arabic_newsroom_on_a_phone(
    server: str, newsroom: Newsroom, pages: Pages, scheme: str
) -> None:
    await _arabic_blog(newsroom)
    console = await Console.open(
        pages, server, blog="summit-ar", viewport=PHONE, touch=True, locale="ar",
        color_scheme=scheme, reduced_motion="reduce",
    )  # fmt: skip
    page: Page = console.page
    await expect(page.locator("#me-role")).to_have_text("مدير")
    await _settle(page)
    assert await layout_problems(page) == []
    assert await axe_violations(page) == []
    _save(f"newsroom-rtl-phone-{scheme}.png", await page.screenshot())
