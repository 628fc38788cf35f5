"""A blog's rules, for the API, the command line and the demo alike: what a new blog takes from
the settings when it does not say (``Defaults``), what its language and time zone must be
(``checked``). Who may change it: ``roles``."""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from liveblog import i18n
from liveblog.config import Settings
from liveblog.editorial.refusals import InvalidField
from liveblog.models import BlogCreate, BlogPatch

T = TypeVar("T", BlogCreate, BlogPatch)


@dataclasses.dataclass(frozen=True, slots=True)
class Defaults:
    """A new blog's language and time zone when it names none."""

    language: str = "en"
    time_zone: str = "UTC"

    @classmethod
    def of(cls, settings: Settings) -> Defaults:
        """LIVEBLOG_DEFAULT_LANGUAGE and LIVEBLOG_DEFAULT_TIME_ZONE."""
        return cls(settings.default_language, settings.default_time_zone)


ENGLISH_UTC = Defaults()  # the settings' own defaults


def checked(data: T) -> T:
    """A language Babel knows (so the page has its locale data) and a zone that exists."""
    if isinstance(data.language, str) and not i18n.is_language(data.language):
        raise InvalidField("$.language", "must be a BCP 47 language tag such as uk, de-AT or ar")
    if isinstance(data.time_zone, str) and not i18n.is_time_zone(data.time_zone):
        raise InvalidField("$.time_zone", "must be an IANA time zone such as Europe/Kyiv or UTC")
    return data
