"""RFC 9457 problem details: every error a client gets from the API or a stream endpoint is
``application/problem+json``."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from liveblog.engine.base import (
    BlogExists,
    BlogNotFound,
    EngineUnavailable,
    EntryNotFound,
    IdempotencyMismatch,
    ImportInProgress,
    ImportLost,
    VersionConflict,
)

MEDIA_TYPE = "application/problem+json"


class FieldError(msgspec.Struct):
    path: str  # a JSON path such as $.media[0].url
    message: str


class ProblemBody(msgspec.Struct, omit_defaults=True):
    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


class Problem(Exception):
    """Raise anywhere in a request; the app answers it as problem+json."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = dict(headers or {})

    def response(self) -> Response:
        phrase = HTTPStatus(self.status).phrase
        body = ProblemBody(
            type=f"https://liveblog.dev/problems/{phrase.lower().replace(' ', '-')}",
            title=phrase,
            status=self.status,
            detail=self.detail,
            errors=self.errors,
        )
        return Response(
            msgspec.json.encode(body),
            status_code=self.status,
            media_type=MEDIA_TYPE,
            headers=self.headers,
        )


async def problem_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return exc.response()


def from_validation_error(exc: msgspec.ValidationError) -> Problem:
    """msgspec says ``Expected `str`, got `int` - at `$.media[0].url```: split out the path."""
    message, _, path = str(exc).rpartition(" - at `")
    if not message:
        message, path = str(exc), "$`"
    field = FieldError(path=path.rstrip("`"), message=message)
    return Problem(422, f"{field.message} at {field.path}", errors=[field])


def engine_problem(exc: Exception) -> Problem:
    """What an engine error means to a client (the streams answer these too)."""
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
        case ImportInProgress() | ImportLost():
            return Problem(409, f"Another import of the blog {exc} is writing it.")
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
    return Problem(500, "Internal error.")
