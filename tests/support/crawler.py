"""What a social network's or a search engine's crawler reads of a page: it fetches the HTML
without running a script and parses the head (Open Graph and Twitter meta tags, links, the
title, JSON-LD), the way such crawlers do (an HTML parser, not a browser)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import httpx

CRAWLER_AGENT = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"


@dataclass
class Card:
    status: int
    title: str = ""
    meta: dict[str, list[str]] = field(default_factory=dict)  # property or name -> contents
    links: list[dict[str, str]] = field(default_factory=list)
    jsonld: list[Any] = field(default_factory=list)
    tags: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    text: str = ""  # the page's visible text, spaces folded

    def one(self, name: str) -> str:
        (value,) = self.meta[name]
        return value

    def link(self, rel: str, **attrs: str) -> list[dict[str, str]]:
        return [
            link
            for link in self.links
            if rel in link.get("rel", "").split()
            and all(link.get(k) == v for k, v in attrs.items())
        ]


class _Parser(HTMLParser):
    def __init__(self, card: Card) -> None:
        super().__init__(convert_charrefs=True)
        self.card = card
        self._in: list[str] = []
        self._script: dict[str, str] | None = None
        self._buffer: list[str] = []
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.card.tags.append((tag, values))
        if tag == "meta" and ("property" in values or "name" in values):
            key = values.get("property") or values["name"]
            self.card.meta.setdefault(key, []).append(values.get("content", ""))
        elif tag == "link":
            self.card.links.append(values)
        elif tag in ("title", "script", "style"):
            self._in.append(tag)
            self._script = values if tag == "script" else None
            self._buffer = []

    def handle_endtag(self, tag: str) -> None:
        if self._in and self._in[-1] == tag:
            self._in.pop()
            text = "".join(self._buffer)
            if tag == "title":
                self.card.title = text
            elif self._script is not None and self._script.get("type") == "application/ld+json":
                self.card.jsonld.append(json.loads(text))

    def handle_data(self, data: str) -> None:
        if self._in:
            self._buffer.append(data)
        else:
            self._text.append(data)

    def close(self) -> None:
        super().close()
        self.card.text = " ".join("".join(self._text).split())


async def crawl(client: httpx.AsyncClient, url: str) -> Card:
    response = await client.get(url, headers={"User-Agent": CRAWLER_AGENT, "Accept": "text/html"})
    card = Card(response.status_code)
    parser = _Parser(card)
    parser.feed(response.text)
    parser.close()
    return card
