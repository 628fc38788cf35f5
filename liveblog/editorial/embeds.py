"""Posts and videos from other sites: a strict allowlist of URL patterns per provider.

The server recognises the provider from the URL, keeps what the reader's card needs (provider,
the link, the frame to load) and nothing else. The page shows a card and loads the frame only
when the reader asks for it; its CSP ``frame-src`` lists exactly the hosts below.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from typing import TypeVar
from urllib.parse import urlsplit

import msgspec

from liveblog.editorial.refusals import InvalidField
from liveblog.models import EntryCreate, EntryPatch, Media


@dataclasses.dataclass(frozen=True, slots=True)
class Provider:
    key: str  # "youtube"; also the card's CSS modifier
    name: str  # "YouTube", as readers know it
    pattern: re.Pattern[str]
    frame: Callable[[re.Match[str]], str]  # the player or post frame for a match
    frame_host: str | None  # None: the URL's own host (Mastodon)
    kind: str  # "video" | "post": what the card offers to load
    # Hosts of the provider's pages (never a photo file): a photo URL there is refused.
    page_hosts: frozenset[str] = frozenset()


def _p(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern + r"/?(?:[?#][^\s]*)?\Z")


_YT = r"[A-Za-z0-9_-]{11}"
# A Bluesky account: a did:plc, or a handle, which is a domain name (the AT Protocol's handle
# syntax): at most 253 characters, two labels or more of 1-63 letters, digits and inner
# hyphens, the last not starting with a digit. Never "..", "." or "-": the frame's path is
# built from it.
_BSKY_ACTOR = (
    r"did:plc:[a-z2-7]{24}"
    r"|(?=[A-Za-z0-9.-]{1,253}/)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)
PROVIDERS = [
    Provider(
        "youtube", "YouTube",
        _p(rf"https://(?:(?:www\.|m\.)?youtube\.com/(?:watch\?(?:[^\s#]*&)?v=(?P<id>{_YT})[^\s#]*"
           rf"|shorts/(?P<short>{_YT})|live/(?P<live>{_YT}))|youtu\.be/(?P<short_link>{_YT}))"),
        lambda m: "https://www.youtube-nocookie.com/embed/"
        + (m["id"] or m["short"] or m["live"] or m["short_link"]) + "?autoplay=1",
        "www.youtube-nocookie.com", "video",
        frozenset({"youtube.com", "www.youtube.com", "m.youtube.com", "youtu.be"}),
    ),
    Provider(
        "vimeo", "Vimeo",
        _p(r"https://(?:www\.)?vimeo\.com/(?P<id>[0-9]{1,12})"),
        lambda m: f"https://player.vimeo.com/video/{m['id']}?autoplay=1&dnt=1",
        "player.vimeo.com", "video", frozenset({"vimeo.com", "www.vimeo.com"}),
    ),
    Provider(
        "x", "X",
        _p(r"https://(?:www\.)?(?:x|twitter)\.com/[A-Za-z0-9_]{1,15}/status/(?P<id>[0-9]{1,20})"),
        lambda m: f"https://platform.twitter.com/embed/Tweet.html?id={m['id']}&dnt=true",
        "platform.twitter.com", "post",
        frozenset({"x.com", "www.x.com", "twitter.com", "www.twitter.com", "mobile.twitter.com"}),
    ),
    Provider(
        "bluesky", "Bluesky",
        _p(rf"https://bsky\.app/profile/(?P<actor>{_BSKY_ACTOR})/post/(?P<rkey>[a-z2-7]{{13}})"),
        lambda m: f"https://embed.bsky.app/embed/{m['actor']}/app.bsky.feed.post/{m['rkey']}",
        "embed.bsky.app", "post", frozenset({"bsky.app"}),
    ),
    Provider(
        "instagram", "Instagram",
        _p(r"https://(?:www\.)?instagram\.com/(?:p|reel)/(?P<code>[A-Za-z0-9_-]{5,40})"),
        lambda m: f"https://www.instagram.com/p/{m['code']}/embed/",
        "www.instagram.com", "post", frozenset({"instagram.com", "www.instagram.com"}),
    ),
    Provider(
        "tiktok", "TikTok",
        _p(r"https://(?:www\.)?tiktok\.com/@[A-Za-z0-9_.]{1,24}/video/(?P<id>[0-9]{1,20})"),
        lambda m: f"https://www.tiktok.com/embed/v2/{m['id']}",
        "www.tiktok.com", "video",
        frozenset({"tiktok.com", "www.tiktok.com", "m.tiktok.com", "vm.tiktok.com"}),
    ),
]  # fmt: skip
_MASTODON = re.compile(
    r"https://(?P<host>[a-z0-9.-]{1,253})/@(?P<user>[A-Za-z0-9_]{1,30})/(?P<id>[0-9]{1,20})"
    r"/?(?:[?#][^\s]*)?\Z"
)
MASTODON = Provider(
    "mastodon", "Mastodon", _MASTODON,
    lambda m: f"https://{m['host']}/@{m['user']}/{m['id']}/embed", None, "post",
)  # fmt: skip
PROVIDER_NAMES = ", ".join([p.name for p in PROVIDERS] + [MASTODON.name])
# The sites whose pages are posts or videos, never pictures (with their subdomains).
PAGE_HOSTS = (
    "youtube.com", "youtu.be", "vimeo.com", "x.com", "twitter.com", "bsky.app", "instagram.com",
    "tiktok.com",
)  # fmt: skip


def mastodon_hosts(setting: str) -> list[str]:
    return [h.strip().lower() for h in setting.split(",") if h.strip()]


def recognise(url: str, mastodon: Iterable[str]) -> tuple[Provider, str] | None:
    """(provider, frame URL) for a post or video URL on the allowlist; None otherwise."""
    for provider in PROVIDERS:
        if match := provider.pattern.match(url):
            return provider, provider.frame(match)
    match = _MASTODON.match(url)
    if match and match["host"] in set(mastodon):
        return MASTODON, MASTODON.frame(match)
    return None


def page_of(url: str, mastodon: Iterable[str]) -> Provider | None:
    """The provider whose page (a post, a video, a profile) ``url`` is; None for other hosts.
    A Mastodon server may serve its photos from its own host: only its post URLs count."""
    host = urlsplit(url).hostname or ""
    for provider in PROVIDERS:
        if host in provider.page_hosts:
            return provider
    return MASTODON if _MASTODON.match(url) and host in set(mastodon) else None


def frame_sources(mastodon: Iterable[str]) -> list[str]:
    """The CSP frame-src of pages that show embeds: these providers' frames and nothing else."""
    hosts = [p.frame_host for p in PROVIDERS if p.frame_host] + list(mastodon)
    return [f"https://{host}" for host in hosts]


def _js_pattern(pattern: re.Pattern[str]) -> str:
    """The same pattern in JavaScript's syntax: named groups and the end of the text differ."""
    return pattern.pattern.replace("(?P<", "(?<").replace(r"\Z", "$")


def client_providers(mastodon: Iterable[str]) -> dict[str, object]:
    """What the editor console needs to recognise an embed link as it is pasted, offline too:
    the allowlist above in JavaScript's regex syntax (the server still checks every entry)."""
    providers = [
        {"key": p.key, "name": p.name, "kind": p.kind, "pattern": _js_pattern(p.pattern)}
        for p in [*PROVIDERS, MASTODON]
    ]
    hosts = list(mastodon)  # a Mastodon post is recognised only on these servers
    return {"providers": providers, "mastodon_hosts": hosts, "page_hosts": [*PAGE_HOSTS, *hosts]}


def provider_of(key: str | None) -> Provider | None:
    return next((p for p in [*PROVIDERS, MASTODON] if p.key == key), None)


def normalise(items: list[Media], mastodon: Iterable[str]) -> list[Media]:
    """Media as stored: an embed gets its provider and frame from the allowlist (never from the
    client); a photo carries neither, is described (``alt``) or said to be decorative, and is
    not a provider's page. Anything else is InvalidField (422) at its item."""
    hosts = list(mastodon)
    result = []
    for index, item in enumerate(items):
        if item.type == "embed":
            found = recognise(item.url, hosts)
            if found is None:
                raise InvalidField(
                    f"$.media[{index}].url",
                    f"is not a post or video URL of {PROVIDER_NAMES} this server embeds",
                )
            provider, frame = found
            result.append(_replace(item, provider=provider.key, embed_url=frame))
            continue
        if (page := page_of(item.url, hosts)) is not None:
            raise InvalidField(
                f"$.media[{index}].url",
                f'is a {page.name} page, not a photo: send a post or video as {{"type": "embed",'
                f' "url": ...}}',
            )
        if not item.decorative and not (item.alt and item.alt.strip()):
            raise InvalidField(
                f"$.media[{index}].alt",
                "is required for a photo: describe it for readers who cannot see it, or send"
                ' "decorative": true',
            )
        result.append(_replace(item, provider=None, embed_url=None))
    return result


S = TypeVar("S", EntryCreate, EntryPatch)


def checked(data: S, mastodon_setting: str) -> S:
    """An entry's create or patch with its media as they will be stored."""
    if isinstance(data.media, list):
        media = normalise(data.media, mastodon_hosts(mastodon_setting))
        return msgspec.structs.replace(data, media=media)
    return data


def _replace(item: Media, **fields: object) -> Media:
    return msgspec.structs.replace(item, **fields)
