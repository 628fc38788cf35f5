"""The Jinja2 environment shared by every server-rendered page (reader, embed, newsroom).

Autoescaping is on for every template; the only HTML marked safe is entry bodies, which the core
sanitised on the way in (``liveblog.editorial.sanitize``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache

import jinja2
from markupsafe import Markup
from starlette.templating import Jinja2Templates

from liveblog import i18n
from liveblog.editorial import embeds
from liveblog.i18n import times
from liveblog.models import Blog
from liveblog.pages.assets import TEMPLATES_DIR
from liveblog.pages.static_files import static_files
from liveblog.pages.text import entry_title


def static_url(path: str) -> str:
    """``/static/<path>?v=<version>``: browsers keep it for good and ask for nothing again until
    the file, or a module it imports, changes (``liveblog.pages.versions``)."""
    return static_files().url(path)


def module_preloads(entry: str) -> list[str]:
    """The URLs to ``<link rel="modulepreload">`` for the module script ``entry``: the script
    and every module it imports, however deep, each as the script's imports name it (with its
    version: another URL would be another module, fetched twice). A phone then asks for all of
    them at once, not one level of imports after another."""
    return static_files().preloads(entry)


def iso(value: datetime | None) -> str:
    """RFC 3339 in UTC with a Z, as the API writes it."""
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def clock(value: datetime | None) -> str:
    """HH:MM in the blog's zone, with the date when it is not today there (liveblog.i18n.times);
    the page's script draws the same text, or the reader's own zone when they choose it."""
    if value is None:
        return ""
    language = i18n.locale(i18n.current_language())
    return times.clock(value, i18n.current_zone(), language, datetime.now(UTC))


def long_date(value: datetime | None) -> str:
    """``June 25, 2024, 14:05``: the full date and time, in tooltips and accessible names."""
    if value is None:
        return ""
    return times.long_date(value, i18n.current_zone(), i18n.locale(i18n.current_language()))


def day(value: datetime) -> str:
    """The day of a time in the blog's zone, as the timeline's day separators say it."""
    return times.day(value, i18n.current_zone(), i18n.locale(i18n.current_language()))


def day_key(value: datetime) -> str:
    """``2024-06-01``: the day in the blog's zone, for the script to tell separators apart."""
    return value.astimezone(i18n.current_zone()).date().isoformat()


def zone_name() -> str:
    """The blog's zone as its readers know it ("Kyiv Time", "OESZ"), never an IANA id."""
    language = i18n.locale(i18n.current_language())
    return times.zone_name(i18n.current_zone(), language, datetime.now(UTC))


def blog_time(value: datetime, blog: Blog) -> str:
    """A time in a blog's zone on a page of many blogs (the index), with the zone's name."""
    language = i18n.locale(i18n.current_language())
    zone = i18n.zone(blog.time_zone)
    return f"{times.long_date(value, zone, language)} {times.zone_name(zone, language, value)}"


def time_zone() -> str:
    """The IANA id of the page's zone: for the script only, never shown."""
    return i18n.current_zone().key


def numbering() -> str:
    """The digits the page's times are written in (``latn``, ``arab``...), for the script."""
    return times.numbering_system(i18n.locale(i18n.current_language()))


# Interface text the page's script writes (web/static/reader*): it gets the blog's catalogue
# of these in the page (client_messages), so live text speaks the page's language too.
CLIENT_MESSAGES = (
    "Connecting…", "Live", "Reconnecting…", "Offline", "Ended", "Loading…", "Load older updates",
    "Could not load older updates. Try again", "New update: %(title)s",
    "This live blog has ended", "Pinned", "Updated", "By %(author)s", "Key event", "Breaking",
    "Photo: %(credit)s", "Load video", "Load post", "Open on %(provider)s",
    "The %(provider)s content loads only if you choose to, and then %(provider)s may set cookies.",
    "Show all %(count)s key events", "just now", "Corrected", "My time", "Time zone", "Share",
    "Share: %(title)s", "Link copied", "Link to this update", "Copy the selected link",
    "Could not load this update. Try again", "This update is no longer available.", "New",
    "Jump to the first", "Dismiss", "More than %(count)s updates since your last visit",
)  # fmt: skip
CLIENT_PLURALS = {
    "new_updates": ("%(count)s new update", "%(count)s new updates"),
    "newer_updates": ("Show %(count)s newer update", "Show %(count)s newer updates"),
    "since_last_visit": (
        "%(count)s update since your last visit",
        "%(count)s updates since your last visit",
    ),
}


def json_script(data: object) -> Markup:
    """JSON for a ``<script type="application/json">``: no "</script>" or comment can end it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


@lru_cache(maxsize=64)
def _client_messages(language: str) -> str:
    # Only what the script cannot say itself: it writes its English source text for a message
    # left out, and a plural's two English forms by Intl.PluralRules' "one" or not. An English
    # page carries none, every page none of what its catalogue leaves untranslated.
    readers = i18n.catalogue(language)  # the readers' words, whichever page carries them
    messages = {m: text for m in CLIENT_MESSAGES if (text := readers.gettext(m)) != m}
    plurals = {
        name: forms
        for name, (singular, plural) in CLIENT_PLURALS.items()
        if (forms := i18n.plural_forms(singular, plural)) != {"one": singular, "other": plural}
    }
    return str(json_script({"language": language, "messages": messages, "plurals": plurals}))


def client_messages() -> Markup:
    """The JSON the page's script reads its interface text from, in the page's language."""
    return Markup(_client_messages(i18n.current_language()))


def label_text(label: str) -> str:
    names = {"key": i18n.gettext("Key event"), "breaking": i18n.gettext("Breaking")}
    return names.get(label, label.replace("-", " ").capitalize())


def provider_name(key: str | None) -> str:
    provider = embeds.provider_of(key)
    return provider.name if provider else ""


def provider_kind(key: str | None) -> str:
    provider = embeds.provider_of(key)
    return provider.kind if provider else "post"


def make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,  # a typo in a template fails loudly in tests
    )
    env.filters.update(
        iso=iso, clock=clock, long_date=long_date, label_text=label_text, entry_title=entry_title,
        blog_time=blog_time,
        day=day, day_key=day_key, provider_name=provider_name, provider_kind=provider_kind,
    )  # fmt: skip
    env.globals["static_url"] = static_url
    env.globals["module_preloads"] = module_preloads
    env.globals["client_messages"] = client_messages
    env.globals["zone_name"] = zone_name
    env.globals["numbering"] = numbering
    env.globals["time_zone"] = time_zone
    # The language of the page being rendered: i18n.rendering() sets it around each render.
    env.globals["_"] = i18n.gettext
    env.globals["ngettext"] = i18n.ngettext
    return env


templates = Jinja2Templates(env=make_environment())
