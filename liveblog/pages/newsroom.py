"""The newsroom's pages: the editor console (``/editor``), the live dashboard (``/dashboard``),
the People screen (``/people``) and the audit log (``/audit``), and what makes them an
installable web app: the manifest (``/newsroom.webmanifest``) and the service worker
(``/newsroom-sw.js``).

The pages are static shells rendered once; their modules under ``web/static/newsroom/`` do the
work on the public API and streams. ``GET /api/me`` tells the console who a token belongs to, so
it can list the blogs that token may edit.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from babel import Locale
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from liveblog import i18n
from liveblog.config import Settings
from liveblog.editorial import embeds
from liveblog.pages import newsroom_words
from liveblog.pages.assets import STATIC_DIR
from liveblog.pages.reader import render
from liveblog.pages.security import COMMON_HEADERS
from liveblog.pages.templating import json_script, static_url

# Offered for a blog's pages, with the right to left ones; the API takes any language Babel
# knows (the settings dialog keeps a blog's other language as it is).
BLOG_LANGUAGES = (
    *i18n.LANGUAGES, "he", "fa", "ur", "it", "pt", "pl", "nl", "ro", "cs", "sv", "ru", "tr",
    "el", "hi", "ja", "ko", "zh",
)  # fmt: skip


def newsroom_page(request: Request, name: str, context: dict[str, Any]) -> Response:
    """A newsroom page in the person's language, with the scripts' words."""
    language = newsroom_words.language_of(request)
    context = {
        "newsroom_catalogue": newsroom_words.script_catalogue(language),
        "newsroom_languages": _own_names(),
        **context,
    }
    response = render(request, name, context, language=language, domain="newsroom")
    response.headers["Vary"] = "Accept-Language, Cookie"
    return response


@lru_cache(maxsize=1)
def _own_names() -> tuple[tuple[str, str], ...]:
    """The newsroom's languages, each named in itself ("Deutsch", "العربية")."""
    return tuple(
        (code, _capital(i18n.locale(code).get_display_name(code) or code))
        for code in i18n.LANGUAGES
    )


@lru_cache(maxsize=16)
def _blog_languages(language: str, default: str) -> tuple[tuple[str, str], ...]:
    """Languages for a blog, named in the console's language and in their own."""
    codes = list(dict.fromkeys([*BLOG_LANGUAGES, default]))
    names = []
    for code in codes:
        own = _capital(i18n.locale(code).get_display_name(code) or code)
        local = _capital(Locale.parse(code.replace("-", "_")).get_display_name(language) or code)
        names.append((code, own if own == local else f"{local} ({own})"))
    return tuple(sorted(names, key=lambda pair: pair[1].casefold()))


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


async def editor(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    providers = embeds.client_providers(embeds.mastodon_hosts(settings.mastodon_hosts))
    language = newsroom_words.language_of(request)
    context = {
        "embed_providers": json_script(providers),
        "embed_names": embeds.PROVIDER_NAMES,
        "blog_languages": _blog_languages(language, settings.default_language),
        "help_url": "/newsroom/guide",
    }
    response = newsroom_page(request, "newsroom/editor.html", context)
    # Tokens and drafts live on this page: keep it out of shared caches and other sites' frames.
    response.headers["Cache-Control"] = "no-store"
    return response


async def people(request: Request) -> Response:
    """The People screen (admins): add a person, change role and blogs, revoke."""
    response = newsroom_page(request, "newsroom/people.html", {})
    response.headers["Cache-Control"] = "no-store"  # it shows new tokens once
    return response


async def audit(request: Request) -> Response:
    """The audit log (admins): who did what, filtered by blog and person."""
    response = newsroom_page(request, "newsroom/audit.html", {})
    response.headers["Cache-Control"] = "no-store"
    return response


async def dashboard(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    context = {
        "amber_minutes": _minutes(settings.quiet_amber_minutes),
        "red_minutes": _minutes(settings.quiet_red_minutes),
    }
    return newsroom_page(request, "newsroom/dashboard.html", context)


def _minutes(value: float) -> str:
    return f"{value:g}"  # 10.0 -> "10", 2.5 -> "2.5"


async def manifest(request: Request) -> Response:
    """The web app manifest: a reporter adds the console to the home screen and it opens as an
    app of its own, on the console."""
    settings: Settings = request.app.state.settings
    icons = [
        {"src": static_url("newsroom/icon-192.png"), "sizes": "192x192", "type": "image/png"},
        {"src": static_url("newsroom/icon-512.png"), "sizes": "512x512", "type": "image/png"},
        {"src": static_url("newsroom/icon-maskable-512.png"), "sizes": "512x512",
         "type": "image/png", "purpose": "maskable"},
        {"src": static_url("favicon.svg"), "sizes": "any", "type": "image/svg+xml"},
    ]  # fmt: skip
    body = {
        "id": "/editor",
        "name": f"{settings.publisher_name} newsroom",
        "short_name": "Newsroom",
        "description": "Write, approve and publish live blog entries, from the desk or a phone.",
        "start_url": "/editor",
        "scope": "/",
        "display": "standalone",
        "background_color": "#f3f4f6",
        "theme_color": "#c4001d",
        "icons": icons,
    }
    headers = {**COMMON_HEADERS, "Cache-Control": "no-cache"}
    return JSONResponse(body, headers=headers, media_type="application/manifest+json")


async def service_worker(request: Request) -> Response:
    """The service worker, at the root so that it may serve /editor, /dashboard, /people and /audit
    (a worker's scope is at most its own directory)."""
    headers = {**COMMON_HEADERS, "Cache-Control": "no-cache"}
    body = (STATIC_DIR / "newsroom" / "sw.js").read_bytes()
    return Response(body, headers=headers, media_type="text/javascript")
