"""The reader's language and time zone: message catalogues, locale data, and the two settings
of the page being rendered.

Catalogues are gettext ``.po`` files under ``locales/<language>/LC_MESSAGES/<domain>.po``,
extracted with Babel (see the README) and read once per process: ``messages`` holds the
readers' words (pages, feed, embed), ``newsroom`` the console's, dashboard's and People
screen's (their templates and scripts; ``newsroom.cfg``). A blog's
``language`` is a BCP 47 tag; its base language picks the catalogue (``de-AT`` reads ``de``),
English (the source text) when there is none. Templates call ``_()`` (a Jinja global), which
reads the language of the page being rendered from a context variable that ``render`` sets, so
imported macros translate too.

May import: nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import io
from collections.abc import Iterator
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LANGUAGES = ("en", "uk", "de", "fr", "es", "ar")  # with a catalogue (English: the source)
DOMAINS = ("messages", "newsroom")
_language: contextvars.ContextVar[str] = contextvars.ContextVar("language", default="en")
_zone: contextvars.ContextVar[str] = contextvars.ContextVar("time_zone", default="UTC")
_domain: contextvars.ContextVar[str] = contextvars.ContextVar("domain", default="messages")


@functools.lru_cache(maxsize=32)
def catalogue(language: str, domain: str = "messages") -> NullTranslations:
    base = language.split("-", 1)[0].lower()
    if base == "en" or base not in LANGUAGES or domain not in DOMAINS:
        return NullTranslations()
    path = resources.files("liveblog.i18n").joinpath("locales", base, "LC_MESSAGES", f"{domain}.po")
    with path.open("rb") as file:
        catalog = read_po(file, locale=base)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


@functools.lru_cache(maxsize=64)
def locale(language: str) -> Locale:
    try:
        return Locale.parse(language.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale("en")


def is_language(tag: str) -> bool:
    try:
        Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return False
    return True


def is_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def direction(language: str) -> str:
    return "rtl" if locale(language).text_direction == "rtl" else "ltr"


def negotiate(accept_language: str) -> str:
    """The first of LANGUAGES an ``Accept-Language`` header asks for (by its q values), else
    English: the newsroom speaks the browser's language when it has a catalogue for it."""
    wanted: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            wanted.append((-quality, index, tag.strip().lower()))
    for _, _, tag in sorted(wanted):
        base = tag.split("-", 1)[0]
        if base in LANGUAGES:
            return base
    return "en"


@contextlib.contextmanager
def rendering(language: str, time_zone: str, domain: str = "messages") -> Iterator[None]:
    """The language, zone and catalogue of the page rendered inside."""
    tokens = _language.set(language), _zone.set(time_zone), _domain.set(domain)
    try:
        yield
    finally:
        _language.reset(tokens[0])
        _zone.reset(tokens[1])
        _domain.reset(tokens[2])


def current_language() -> str:
    return _language.get()


def current_zone() -> ZoneInfo:
    return zone(_zone.get())


def zone(name: str) -> ZoneInfo:
    """A zone by its IANA name; UTC for one that does not exist (any more)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def gettext(message: str, **values: object) -> str:
    text = catalogue(_language.get(), _domain.get()).gettext(message)
    return text % values if values else text


def ngettext(singular: str, plural: str, count: int, **values: object) -> str:
    text = catalogue(_language.get(), _domain.get()).ngettext(singular, plural, count)
    return text % {"count": count, **values}


def plural_forms(singular: str, plural: str, *, domain: str = "messages") -> dict[str, str]:
    """A plural message for the browser: its text per CLDR category (one, few, many...), which
    ``Intl.PluralRules`` picks on the page. Each category's text is the catalogue's for a
    number in that category."""
    rules = locale(_language.get()).plural_form
    translations = catalogue(_language.get(), domain)
    forms: dict[str, str] = {}
    for n in range(0, 1000):
        category = rules(n)
        if category not in forms:
            forms[category] = translations.ngettext(singular, plural, n)
    return forms
