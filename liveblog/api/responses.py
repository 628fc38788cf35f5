"""JSON responses encoded by msgspec, and the mapping of engine errors to problems."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

from liveblog.editorial.refusals import InvalidField
from liveblog.engine.base import EngineError
from liveblog.problems import FieldError, Problem, engine_problem


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    body = content if isinstance(content, bytes) else msgspec.json.encode(content)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def problem_for(exc: Exception) -> Problem:
    """An engine error or an editorial refusal, as the API answers it."""
    if isinstance(exc, InvalidField):
        return Problem(422, str(exc), errors=[FieldError(exc.path, exc.message)])
    return engine_problem(exc)


async def engine_error_handler(request: Request, exc: Exception) -> Response:
    return problem_for(exc).response()


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (no route for the path, a method the path does not take): under
    /api they are problem+json like every other API error; elsewhere plain text, as before."""
    assert isinstance(exc, HTTPException)
    path = request.url.path
    if path == "/api" or path.startswith("/api/"):
        return http_problem(request, exc)
    if exc.status_code in {204, 304}:
        return Response(status_code=exc.status_code, headers=exc.headers)
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)


def http_problem(request: Request, exc: HTTPException) -> Response:
    """One of Starlette's own errors as problem+json."""
    detail = f"{request.method} {request.url.path[:200]}: {exc.detail}."
    return Problem(exc.status_code, detail, headers=exc.headers).response()


async def client_gone_handler(request: Request, exc: Exception) -> Response:
    """The client went away mid-body (or the server cut it off: too slow, see
    ``liveblog.delivery.guard``): nobody is left to answer, and nothing to log."""
    return Response(status_code=400)


ERROR_HANDLERS = {
    ClientDisconnect: client_gone_handler,
    EngineError: engine_error_handler,
    InvalidField: engine_error_handler,
    HTTPException: http_error_handler,
}
