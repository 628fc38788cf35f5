"""The Jinja2 environment shared by every server-rendered page (reader, embed, newsroom).

Autoescaping is on for every template; the only HTML marked safe is entry bodies, which the core
sanitised on the way in (``liveblog.sanitize``).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import lru_cache

import jinja2
from starlette.templating import Jinja2Templates

from liveblog.pages.assets import STATIC_DIR, TEMPLATES_DIR
from liveblog.pages.text import entry_title


@lru_cache(maxsize=256)
def _file_version(path: str, mtime_ns: int, size: int) -> str:
    # mtime and size are part of the cache key, so an edited file gets a new version.
    return hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:12]


def static_url(path: str) -> str:
    """``/static/<path>?v=<content hash>``: browsers revalidate nothing until the file changes."""
    try:
        stat = (STATIC_DIR / path).stat()
    except OSError:
        return f"/static/{path}"
    return f"/static/{path}?v={_file_version(path, stat.st_mtime_ns, stat.st_size)}"


def iso(value: datetime | None) -> str:
    """RFC 3339 in UTC with a Z, as the API writes it."""
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def clock(value: datetime | None) -> str:
    """HH:MM in UTC; the page's script rewrites it in the reader's own time zone."""
    return "" if value is None else value.astimezone(UTC).strftime("%H:%M")


def long_date(value: datetime | None) -> str:
    """``25 June 2024, 14:05 UTC``: the full time in a tooltip and for readers without JS."""
    if value is None:
        return ""
    utc = value.astimezone(UTC)
    return f"{utc.day} {utc:%B %Y, %H:%M} UTC"


def label_text(label: str) -> str:
    return {"key": "Key event"}.get(label, label.replace("-", " ").capitalize())


def make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,  # a typo in a template fails loudly in tests
    )
    env.filters.update(
        iso=iso, clock=clock, long_date=long_date, label_text=label_text, entry_title=entry_title
    )
    env.globals["static_url"] = static_url
    return env


templates = Jinja2Templates(env=make_environment())
