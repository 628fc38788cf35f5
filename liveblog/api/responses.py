"""JSON responses encoded by msgspec, and the mapping of engine errors to problems."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from liveblog.api.problems import FieldError, Problem
from liveblog.editing import InvalidField
from liveblog.engine.base import (
    BlogExists,
    BlogNotFound,
    EngineError,
    EngineUnavailable,
    EntryNotFound,
    IdempotencyMismatch,
    VersionConflict,
)


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    body = content if isinstance(content, bytes) else msgspec.json.encode(content)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def problem_for(exc: Exception) -> Problem:
    match exc:
        case EngineUnavailable():
            return Problem(
                503, "The store is unavailable; nothing was written.", headers={"Retry-After": "1"}
            )
        case BlogNotFound():
            return Problem(404, f"No blog {exc} exists.")
        case EntryNotFound():
            return Problem(404, f"No entry {exc} exists in this blog.")
        case BlogExists():
            return Problem(409, f"A blog with slug {exc} already exists.")
        case VersionConflict():
            return Problem(
                412,
                f"The entry has changed: its version is now {exc.current}.",
                headers={"ETag": f'"{exc.current}"'},
            )
        case IdempotencyMismatch():
            return Problem(
                422,
                "This Idempotency-Key was used with a different request.",
                errors=[FieldError("Idempotency-Key", "was used with a different request")],
            )
        case InvalidField():
            return Problem(422, str(exc), errors=[FieldError(exc.path, exc.message)])
    return Problem(500, "Internal error.")


async def engine_error_handler(request: Request, exc: Exception) -> Response:
    return problem_for(exc).response()


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (no route for the path, a method the path does not take): under
    /api they are problem+json like every other API error; elsewhere plain text, as before."""
    assert isinstance(exc, HTTPException)
    path = request.url.path
    if path == "/api" or path.startswith("/api/"):
        detail = f"{request.method} {path[:200]}: {exc.detail}."
        return Problem(exc.status_code, detail, headers=exc.headers).response()
    if exc.status_code in {204, 304}:
        return Response(status_code=exc.status_code, headers=exc.headers)
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)


ERROR_HANDLERS = {
    EngineError: engine_error_handler,
    InvalidField: engine_error_handler,
    HTTPException: http_error_handler,
}
