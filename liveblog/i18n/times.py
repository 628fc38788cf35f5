"""How a time reads on the pages: in the blog's zone, in the blog's language, in its digits.

One policy for the server's rendering and the page's script (``web/static/reader/times.js``),
which draws the same strings with ``Intl.DateTimeFormat`` in the page's language, the zone and
numbering system the page names (``data-time-zone``, ``data-numbering``). Each format here is
the CLDR skeleton the script asks Intl for, joined the way Intl joins a date and a time (the
locale's date-time pattern of the date's length: medium for "Jun 2", long for "June 2"), so
both write the same characters; tests/browser/test_times.py compares them in every language.

Babel writes dates in ASCII digits whatever the locale; the numbering system is CLDR's default
for the locale (Babel's ``default_numbering_system``), and the digits are swapped here for that
system's. A system whose digits are not known here is written (and told to the script) as
``latn``, so the two still agree.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale, dates

# CLDR's numeric systems that some locale has as its default, by the Unicode name of their zero.
_ZERO_NAMES = {
    "arab": "ARABIC-INDIC DIGIT ZERO",
    "arabext": "EXTENDED ARABIC-INDIC DIGIT ZERO",
    "adlm": "ADLAM DIGIT ZERO",
    "beng": "BENGALI DIGIT ZERO",
    "cakm": "CHAKMA DIGIT ZERO",
    "deva": "DEVANAGARI DIGIT ZERO",
    "hmnp": "NYIAKENG PUACHUE HMONG DIGIT ZERO",
    "mtei": "MEETEI MAYEK DIGIT ZERO",
    "mymr": "MYANMAR DIGIT ZERO",
    "nkoo": "NKO DIGIT ZERO",
    "olck": "OL CHIKI DIGIT ZERO",
    "tibt": "TIBETAN DIGIT ZERO",
}
_SPACES = re.compile(r"[\u00a0\u202f]")
_OFFSET_NAME = re.compile(r"^[+-][0-9]{4}$")  # Babel's fallback when a zone has no short name
# Zones that are a fixed offset from UTC with no place to name (Etc/GMT+3 is UTC-3).
_NO_PLACE = re.compile(r"^(?:Etc/.*|UTC|UCT|GMT.*|Universal|Zulu|Greenwich)$")


@lru_cache(maxsize=64)
def _table(system: str) -> dict[int, str] | None:
    """str.translate table from ASCII digits to ``system``'s; None for ``latn`` or unknown."""
    name = _ZERO_NAMES.get(system)
    if name is None:
        return None
    try:
        zero = ord(unicodedata.lookup(name))
    except KeyError:  # a Unicode version without it
        return None
    return {ord("0") + n: chr(zero + n) for n in range(10)}


@lru_cache(maxsize=64)
def numbering_system(loc: Locale) -> str:
    """The locale's default numbering system, when its digits can be written; else ``latn``."""
    system = str(loc.default_numbering_system or "latn")
    return system if _table(system) is not None else "latn"


def _written(text: str, system: str) -> str:
    """Digits in ``system``; spaces plain (CLDR versions differ in where they put a narrow or
    no-break space, and Babel's CLDR is rarely the browser's)."""
    table = _table(system)
    text = text.translate(table) if table else text
    return _SPACES.sub(" ", text)


def _join(loc: Locale, length: str, time: str, date: str) -> str:
    # The locale's date-time pattern ("{1}, {0}"), quotes dropped the way Babel's own
    # format_datetime drops them.
    pattern = str(loc.datetime_formats[length]).replace("'", "")
    return pattern.replace("{0}", time).replace("{1}", date)


def clock(value: datetime, zone: ZoneInfo, loc: Locale, now: datetime) -> str:
    """``14:05`` today (in the zone), ``Jun 2, 14:05`` this year, ``Jun 2, 2023, 14:05`` before."""
    local, today = value.astimezone(zone), now.astimezone(zone)
    time = dates.format_time(local, "HH:mm", locale=loc)
    if local.date() == today.date():
        text = time
    else:
        skeleton = "MMMd" if local.year == today.year else "yMMMd"
        text = _join(loc, "medium", time, dates.format_skeleton(skeleton, local, locale=loc))
    return _written(text, numbering_system(loc))


def long_date(value: datetime, zone: ZoneInfo, loc: Locale) -> str:
    """``Jun 2, 2024, 14:05``: the date with its year, for tooltips and accessible names.
    (Not "June 2, 2024 at 14:05": Intl joins a long date with CLDR's "at" pattern, which
    Babel does not have.)"""
    local = value.astimezone(zone)
    time = dates.format_time(local, "HH:mm", locale=loc)
    text = _join(loc, "medium", time, dates.format_skeleton("yMMMd", local, locale=loc))
    return _written(text, numbering_system(loc))


def day(value: datetime, zone: ZoneInfo, loc: Locale) -> str:
    """``Sunday, June 2, 2024``: a day heading of the timeline."""
    text = dates.format_date(value.astimezone(zone), "full", locale=loc)
    return _written(text, numbering_system(loc))


def zone_name(zone: ZoneInfo, loc: Locale, at: datetime) -> str:
    """The zone as readers of the language know it, never its IANA id: the short name the
    language commonly uses ("EDT" in English, "OESZ" in German), else the zone's city in the
    language's own words ("Kyiv Time", "час: Київ", "hora de Kiev"); UTC as the language
    writes it; a bare offset as one ("GMT-03:00")."""
    local = at.astimezone(zone)
    if _NO_PLACE.match(zone.key):
        if local.utcoffset() == timedelta(0):
            text = dates.get_timezone_name(local, "short", locale=loc)
        else:
            text = dates.get_timezone_gmt(local, locale=loc)
        return _written(text, numbering_system(loc))
    short = dates.get_timezone_name(local, "short", locale=loc)
    if not _OFFSET_NAME.match(short):
        return _written(short, numbering_system(loc))
    city = dates.get_timezone_location(zone, locale=loc, return_city=True)
    return _written(str(loc.zone_formats["region"]) % city, "latn")
