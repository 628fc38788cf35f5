"""Token administration: admins issue editor and admin tokens."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from liveblog.api import auth
from liveblog.api.guards import admin_write, json_body
from liveblog.api.responses import json_response
from liveblog.models import TokenCreate


async def create_token(request: Request) -> Response:
    await admin_write(request)
    data, _ = await json_body(request, TokenCreate)
    return json_response(await auth.issue_token(request.app.state.engine, data), 201)
