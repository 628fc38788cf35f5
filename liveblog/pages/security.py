"""Security headers for pages and their assets.

The pages load scripts and styles only from this origin and never inline, so the CSP needs no
nonce. Entry images may come from any https host the editor chose (the sanitiser also lets
``http:`` through, which browsers upgrade on an https page).
"""

from __future__ import annotations

import re

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src * data:; media-src *; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-src {frame_src}; frame-ancestors {frame_ancestors}"
)

COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

# One CSP source expression: a keyword, a scheme, or a host with optional scheme, port, path.
_SOURCE = re.compile(
    r"'self'|'none'|\*|[a-z][a-z0-9+.-]*:"
    r"|(?:[a-z][a-z0-9+.-]*://)?(?:\*\.)?[a-z0-9.-]+(?::(?:\d+|\*))?(?:/[^\s;,]*)?",
    re.IGNORECASE,
)


def source_list(value: str) -> str:
    """A setting as a CSP source list: it cannot end the directive or add another one."""
    first = re.split(r"[;,\r\n]", value, maxsplit=1)[0]
    sources = [token for token in first.split() if _SOURCE.fullmatch(token)]
    return " ".join(sources) or "'none'"


def page_headers(
    *, frame_ancestors: str = "'self'", frame_src: list[str] | None = None
) -> dict[str, str]:
    """Headers for an HTML page; ``frame_ancestors`` is a CSP source list; ``frame_src`` the
    frames the page may load (the embed providers on reader pages; default: none)."""
    sources = source_list(frame_ancestors)
    frames = " ".join(frame_src) if frame_src else "'none'"
    csp = _CSP.format(frame_ancestors=sources, frame_src=frames)
    headers = {**COMMON_HEADERS, "Content-Security-Policy": csp}
    if sources in ("'self'", "'none'"):
        # For browsers without frame-ancestors; it cannot express a list, so only then.
        headers["X-Frame-Options"] = "SAMEORIGIN" if sources == "'self'" else "DENY"
    return headers
