"""The reader's language and time zone: message catalogues, locale data, and the two settings
of the page being rendered.

Catalogues are gettext ``.po`` files under ``locales/<language>/LC_MESSAGES/messages.po``,
extracted from the templates with Babel (see the README) and read once per process. A blog's
``language`` is a BCP 47 tag; its base language picks the catalogue (``de-AT`` reads ``de``),
English (the source text) when there is none. Templates call ``_()`` (a Jinja global), which
reads the language of the page being rendered from a context variable that ``render`` sets, so
imported macros translate too.
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
_language: contextvars.ContextVar[str] = contextvars.ContextVar("language", default="en")
_zone: contextvars.ContextVar[str] = contextvars.ContextVar("time_zone", default="UTC")


@functools.lru_cache(maxsize=32)
def catalogue(language: str) -> NullTranslations:
    base = language.split("-", 1)[0].lower()
    if base == "en" or base not in LANGUAGES:
        return NullTranslations()
    path = resources.files("liveblog.i18n").joinpath("locales", base, "LC_MESSAGES", "messages.po")
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


@contextlib.contextmanager
def rendering(language: str, time_zone: str) -> Iterator[None]:
    """The language and zone of the page rendered inside."""
    tokens = _language.set(language), _zone.set(time_zone)
    try:
        yield
    finally:
        _language.reset(tokens[0])
        _zone.reset(tokens[1])


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
    text = catalogue(_language.get()).gettext(message)
    return text % values if values else text


def ngettext(singular: str, plural: str, count: int, **values: object) -> str:
    text = catalogue(_language.get()).ngettext(singular, plural, count)
    return text % {"count": count, **values}


def plural_forms(singular: str, plural: str) -> dict[str, str]:
    """A plural message for the browser: its text per CLDR category (one, few, many...), which
    ``Intl.PluralRules`` picks on the page. Each category's text is the catalogue's for a
    number in that category."""
    rules = locale(_language.get()).plural_form
    forms: dict[str, str] = {}
    for n in range(0, 1000):
        category = rules(n)
        if category not in forms:
            forms[category] = catalogue(_language.get()).ngettext(singular, plural, n)
    return forms
