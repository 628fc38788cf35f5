"""Entry HTML is cleaned on the way in, so a reader's page never runs an editor's script."""

from __future__ import annotations

import nh3

from liveblog.models import CONTROL_OR_BIDI

# What a live-blog entry needs: text structure, links, quotes, figures and embeds' fallbacks.
_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "cite", "code", "del", "em", "figcaption", "figure",
    "h2", "h3", "h4", "hr", "i", "img", "ins", "li", "mark", "ol", "p", "pre", "q", "s", "small",
    "span", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "time", "tr", "u", "ul",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "time": {"datetime"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "blockquote": {"cite"},
    "q": {"cite"},
}
_URL_SCHEMES = {"https", "http", "mailto"}


def clean_html(html: str) -> str:
    """Allowlist sanitising: unknown tags are dropped, scripts and styles with their content.

    Control characters (but tab, newline and CR) and bidi embedding, override and isolate
    characters are removed, as other unsafe markup is (plain-text fields refuse them instead).
    nh3 drops NUL but keeps the rest, and decodes ``&#1;`` or ``&#x202e;`` into the character.
    They go before cleaning, so that nh3 judges the URL that is left (``java<U+0001>script:``
    is ``javascript:``), and again in a second pass if character references brought any back.
    """
    cleaned = _clean(CONTROL_OR_BIDI.sub("", html))
    if CONTROL_OR_BIDI.search(cleaned):
        cleaned = _clean(CONTROL_OR_BIDI.sub("", cleaned))
    return cleaned


def _clean(html: str) -> str:
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
