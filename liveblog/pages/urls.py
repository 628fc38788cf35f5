"""Absolute URLs for canonical links, feeds and Open Graph."""

from __future__ import annotations

from starlette.requests import Request

from liveblog.config import Settings


def base_url(request: Request, settings: Settings) -> str:
    """``LIVEBLOG_PUBLIC_URL`` when set (behind a proxy), else the URL the request came to."""
    return (settings.public_url or str(request.base_url)).rstrip("/")


def blog_url(request: Request, settings: Settings, slug: str) -> str:
    return f"{base_url(request, settings)}/blogs/{slug}"
