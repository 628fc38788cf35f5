"""Entry HTML as plain text, for titles, JSON-LD and feeds."""

from __future__ import annotations

import html

import nh3

from liveblog.models import CONTROL_OR_BIDI, Entry


def plain_text(body: str) -> str:
    """Tags dropped (scripts and styles with their content), entities decoded, spaces folded.

    Control and bidi characters are dropped too: the API refuses or removes them, but entries
    stored before it did may hold some, and one control character makes the Atom feed invalid XML.
    """
    text = html.unescape(nh3.clean(body, tags=set(), strip_comments=True))
    return " ".join(CONTROL_OR_BIDI.sub("", text).split())


def entry_title(entry: Entry, length: int = 90) -> str:
    """The headline, or the start of the text for entries without one."""
    if entry.headline:
        return CONTROL_OR_BIDI.sub("", entry.headline)
    text = plain_text(entry.body)
    if len(text) <= length:
        return text
    return text[: length - 1].rsplit(" ", 1)[0] + "…"
