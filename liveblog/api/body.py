"""Reading a JSON request body: size and media type first, decoding last."""

from __future__ import annotations

from typing import TypeVar

import msgspec
from starlette.requests import Request

from liveblog.models import in_words, parse_decimal
from liveblog.problems import FieldError, Problem, from_validation_error

T = TypeVar("T")
MAX_REQUEST_BYTES = 1024 * 1024


def check_length(request: Request, limit: int, too_large: str) -> None:
    """A declared Content-Length over ``limit`` is 413 before a byte of the body is read."""
    length = request.headers.get("content-length")
    if length is not None:
        size = parse_decimal(length.strip(), 20)
        if size is None:
            raise Problem(400, "Content-Length must be a whole number of bytes.")
        if size > limit:
            raise Problem(413, too_large)


def check_envelope(request: Request) -> None:
    """413 and 415 come before anything else, and before the body is read."""
    check_length(request, MAX_REQUEST_BYTES, f"The request body is over {MAX_REQUEST_BYTES} bytes.")
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise Problem(415, "Send the request body as application/json.")


async def read_body(request: Request) -> bytes:
    """The raw body, refused as soon as it passes the limit (chunked bodies have no length)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise Problem(413, f"The request body is over {MAX_REQUEST_BYTES} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def decode(raw: bytes, type: type[T]) -> T:
    try:
        return msgspec.json.decode(raw, type=type)
    except msgspec.ValidationError as exc:  # well-formed JSON, wrong fields
        raise from_validation_error(in_words(exc)) from None
    except msgspec.DecodeError as exc:
        raise Problem(400, f"The body is not valid JSON: {exc}") from None


def invalid(path: str, message: str) -> Problem:
    return Problem(422, f"{message} at {path}", errors=[FieldError(path, message)])
