"""A demo blog for the memory engine, so a newcomer has something to watch and post to.

Without ``LIVEBLOG_ADMIN_TOKEN`` the start-up log prints a token and a ready-to-paste ``curl``
to this very server: ``LIVEBLOG_PUBLIC_URL`` when set, else the address ``liveblog serve``
listens on (it hands it over in ``_LIVEBLOG_SERVE_ADDRESS``, which is no setting).
"""

from __future__ import annotations

import ipaddress
import logging
import os
from datetime import timedelta

from liveblog.config import Settings
from liveblog.editorial import blogs, editing
from liveblog.editorial.tokens import issue_token
from liveblog.engine.base import BlogExists, Engine
from liveblog.models import BlogCreate, EntryCreate, Media, TokenCreate, utcnow

logger = logging.getLogger("liveblog")

DEMO_SLUG = "demo"
ADDRESS_VARIABLE = "_LIVEBLOG_SERVE_ADDRESS"


def address(host: str, port: int) -> str:
    """``http://host:port`` that a shell on this machine reaches: a wildcard host (all
    interfaces) is reached as localhost, an IPv6 literal goes in brackets."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return f"http://{host}:{port}"
    if ip.is_unspecified:
        return f"http://localhost:{port}"
    return f"http://[{ip}]:{port}" if ip.version == 6 else f"http://{ip}:{port}"


def _base_url(settings: Settings) -> str:
    found = settings.public_url or os.environ.get(ADDRESS_VARIABLE) or "http://HOST:PORT"
    return found.rstrip("/")


_ENTRIES = [
    (
        "Good morning from the harbour",
        "<p>Crews are setting up the finish line on the quay. The first boats are due "
        "around noon if the wind holds.</p>",
        ["key"],
    ),
    (
        "Wind picks up in the outer bay",
        "<p>Gusts of 25 knots reported at the lighthouse. Organisers say the course "
        "stays as planned for now.</p>",
        [],
    ),
    (
        "Leaders round the last mark",
        "<p>Two boats are within a minute of each other. <strong>It will be close.</strong></p>",
        ["breaking"],
    ),
]


async def seed(engine: Engine, settings: Settings) -> None:
    """Create the demo blog (once) and, without LIVEBLOG_ADMIN_TOKEN, print a token to use."""
    try:
        await editing.create_blog(
            engine,
            BlogCreate(
                slug=DEMO_SLUG,
                title="Harbour regatta, live",
                description="A demo live blog: post to it with the token printed at start-up.",
            ),
            defaults=blogs.Defaults.of(settings),
        )
    except BlogExists:
        return
    start = utcnow() - timedelta(minutes=45)
    for minutes, (headline, body, labels) in zip((0, 20, 40), _ENTRIES, strict=True):
        await editing.create_entry(
            engine,
            DEMO_SLUG,
            EntryCreate(
                body=body,
                headline=headline,
                author="Demo desk",
                labels=labels,
                published_at=start + timedelta(minutes=minutes),
                media=[]
                if minutes
                else [
                    Media(
                        url="https://upload.wikimedia.org/wikipedia/commons/3/3f/Placeholder_view_vector.svg",
                        caption="The quay before the start",
                        credit="Demo desk",
                        alt="A placeholder picture",
                    )
                ],
            ),
        )
    if not settings.admin_token:
        created = await issue_token(engine, TokenCreate(name="demo admin", role="admin"))
        logger.warning(
            "Demo: admin token for this run: %s  (set LIVEBLOG_ADMIN_TOKEN to choose your own). "
            "Post with: curl -X POST %s/api/blogs/%s/entries "
            "-H 'Authorization: Bearer %s' -H 'Content-Type: application/json' "
            '-d \'{"headline": "Hello", "body": "<p>First post</p>"}\'',
            created.token,
            _base_url(settings),
            DEMO_SLUG,
            created.token,
        )
