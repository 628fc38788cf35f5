"""Which ``Host`` headers this server answers to (``LIVEBLOG_ALLOWED_HOSTS``).

A Host header is whatever the client wrote. Unchecked, ``Host: evil.example`` ends up in every
absolute URL built from the request, and a shared cache then serves those URLs to everyone. With
an allowlist, any other Host gets 400 before anything runs, and pages may build absolute URLs
from the Host (``liveblog.pages.urls``); without one, pages never trust it.

The check runs at the app's entry, ahead of the stream shortcut (``LiveblogApp``), so live
streams are covered too and an accepted reader carries no extra middleware frame.
"""

from __future__ import annotations

import re

from starlette.types import Receive, Scope, Send

from liveblog.problems import Problem

# A host name or IP literal and an optional port, nothing else: no path, userinfo or spaces,
# so a Host that passes cannot smuggle a path into a URL built from it.
_HOST = re.compile(r"(?P<name>\[[0-9a-f:.]+\]|[a-z0-9_.-]+?)\.?(?::\d{1,5})?", re.IGNORECASE)
_PATTERN = re.compile(r"\*|(?:\*\.)?[a-z0-9_-]+(?:\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\]", re.IGNORECASE)


class TrustedHosts:
    """The allowlist of ``LIVEBLOG_ALLOWED_HOSTS``: names, or ``*.example.com`` for subdomains."""

    def __init__(self, setting: str | None) -> None:
        self.patterns = [p.strip().lower() for p in (setting or "").split(",") if p.strip()]
        for pattern in self.patterns:
            if not _PATTERN.fullmatch(pattern):
                raise ValueError(
                    f"LIVEBLOG_ALLOWED_HOSTS: {pattern!r} is not a host name, "
                    "'*.example.com' or '*'"
                )
        # "*" lets every Host in, so no Host can be trusted for URLs.
        self.enforced = bool(self.patterns) and "*" not in self.patterns

    def allows(self, scope: Scope) -> bool:
        if not self.enforced:
            return True
        values = [value for name, value in scope["headers"] if name == b"host"]
        if len(values) != 1:  # none, or two (RFC 9112 3.2: answer 400)
            return False
        match = _HOST.fullmatch(values[0].decode("latin-1"))
        if match is None:
            return False
        name = match["name"].lower()
        return any(
            name == pattern or (pattern.startswith("*.") and name.endswith(pattern[1:]))
            for pattern in self.patterns
        )


async def refuse(scope: Scope, receive: Receive, send: Send) -> None:
    """400 problem+json; a WebSocket handshake gets it as the denial response."""
    problem = Problem(400, "This server does not answer to that Host header")
    await problem.response()(scope, receive, send)
