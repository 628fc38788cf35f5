"""Where absolute URLs (canonical links, og:url, JSON-LD, the Atom feed) start.

Never from a Host header nobody vouched for: ``Host: evil.example`` would otherwise reach pages
and feeds that caches keep and serve to everyone. In order:

1. ``LIVEBLOG_PUBLIC_URL``: the one right answer behind a proxy; pages do not depend on Host.
2. ``LIVEBLOG_ALLOWED_HOSTS``: the Host was checked against it at the app's entry
   (``liveblog.serving.hosts``), so it may be used; responses then say ``Vary: Host``.
3. Neither: no origin is known, so links are relative (``/blogs/slug``), which browsers and
   JSON-LD resolve against the page's own URL. Places that must be absolute get no URL
   (``og:url`` is left out) or one that names no host (Atom ids, see ``feed``).
"""

from __future__ import annotations

import dataclasses

from starlette.requests import Request
from starlette.responses import Response

from liveblog.config import Settings


@dataclasses.dataclass(frozen=True, slots=True)
class Base:
    url: str  # "https://news.example", or "" when no origin is trusted (links stay relative)
    from_host: bool  # taken from the request's (allowlisted) Host

    @property
    def absolute(self) -> bool:
        return bool(self.url)

    def blog(self, slug: str) -> str:
        return f"{self.url}/blogs/{slug}"

    def entry(self, slug: str, entry_id: str) -> str:
        """One entry's own page: the URL an update is shared by."""
        return f"{self.url}/blogs/{slug}/entries/{entry_id}"

    def resolve(self, url: str) -> str:
        """A path on this server (an uploaded photo's ``/media/...``) as an absolute URL when
        the origin is known; other URLs (https photos, S3) are already absolute."""
        if url.startswith("/") and not url.startswith("//"):
            return self.url + url
        return url

    def vary(self, response: Response) -> Response:
        """Tell caches the response differs by Host, when it does."""
        if self.from_host:
            response.headers.add_vary_header("Host")
        return response


def base_of(request: Request) -> Base:
    settings: Settings = request.app.state.settings
    if settings.public_url:
        return Base(settings.public_url.rstrip("/"), from_host=False)
    if request.app.state.trusted_hosts.enforced:
        return Base(str(request.base_url).rstrip("/"), from_host=True)
    return Base("", from_host=False)
