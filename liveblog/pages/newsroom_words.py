"""The newsroom's own words: which language its pages speak, and the catalogue its scripts read.

The console, the dashboard and the People screen speak the language the person chose (a cookie
the console sets) or else their browser's (``Accept-Language``), among the languages with a
catalogue; their words are in the ``newsroom`` catalogue (``liveblog/i18n``). The scripts
under ``web/static/newsroom/`` write their text through ``t("…")`` and ``tn("…", "…", n)``
(``i18n.js``): the messages are found in the scripts themselves, so the page carries exactly
the translations its scripts use, and a new message needs no list kept by hand.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from markupsafe import Markup
from starlette.requests import Request

from liveblog import i18n
from liveblog.pages.assets import STATIC_DIR
from liveblog.pages.templating import json_script

COOKIE = "liveblog-newsroom-language"
_STRING = r'"((?:[^"\\]|\\.)*)"'
_T = re.compile(r"\bt\(\s*" + _STRING)
_TN = re.compile(r"\btn\(\s*" + _STRING + r"\s*,\s*" + _STRING)


def language_of(request: Request) -> str:
    """The person's choice if it is one of the catalogues' languages, else the browser's."""
    chosen = request.cookies.get(COOKIE, "")
    if chosen in i18n.LANGUAGES:
        return chosen
    return i18n.negotiate(request.headers.get("accept-language", ""))


@lru_cache(maxsize=1)
def script_messages() -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Every ``t("…")`` message and ``tn("…", "…")`` pair of the newsroom's scripts."""
    singles: set[str] = set()
    plurals: set[tuple[str, str]] = set()
    for path in sorted((STATIC_DIR / "newsroom").glob("*.js")):
        source = path.read_text(encoding="utf-8")
        singles.update(json.loads(f'"{m}"') for m in _T.findall(source))
        plurals.update((json.loads(f'"{a}"'), json.loads(f'"{b}"')) for a, b in _TN.findall(source))
    return tuple(sorted(singles)), tuple(sorted(plurals))


@lru_cache(maxsize=16)
def _catalogue(language: str) -> str:
    singles, plurals = script_messages()
    words = i18n.catalogue(language, "newsroom")
    with i18n.rendering(language, "UTC", "newsroom"):
        forms = {one: i18n.plural_forms(one, many, domain="newsroom") for one, many in plurals}
    data = {
        "language": language,
        "messages": {message: words.gettext(message) for message in singles},
        "plurals": forms,
    }
    return str(json_script(data))


def script_catalogue(language: str) -> Markup:
    """The JSON ``<script id="newsroom-i18n">`` carries for the newsroom's scripts."""
    return Markup(_catalogue(language))
