"""The newsroom's pages: the editor console (``/editor``), the live dashboard (``/dashboard``),
the People screen (``/people``) and the audit log (``/audit``).

Both are static shells rendered once; their modules under ``web/static/newsroom/`` do the work
on the public API and streams. ``GET /api/me`` tells the console who a token belongs to, so it
can list the blogs that token may edit.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from liveblog.config import Settings
from liveblog.pages.reader import render


async def editor(request: Request) -> Response:
    response = render(request, "newsroom/editor.html", {})
    # Tokens and drafts live on this page: keep it out of shared caches and other sites' frames.
    response.headers["Cache-Control"] = "no-store"
    return response


async def people(request: Request) -> Response:
    """The People screen (admins): add a person, change role and blogs, revoke."""
    response = render(request, "newsroom/people.html", {})
    response.headers["Cache-Control"] = "no-store"  # it shows new tokens once
    return response


async def audit(request: Request) -> Response:
    """The audit log (admins): who did what, filtered by blog and person."""
    response = render(request, "newsroom/audit.html", {})
    response.headers["Cache-Control"] = "no-store"
    return response


async def dashboard(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    context = {
        "amber_minutes": _minutes(settings.quiet_amber_minutes),
        "red_minutes": _minutes(settings.quiet_red_minutes),
    }
    return render(request, "newsroom/dashboard.html", context)


def _minutes(value: float) -> str:
    return f"{value:g}"  # 10.0 -> "10", 2.5 -> "2.5"
