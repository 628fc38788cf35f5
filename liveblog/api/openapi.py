"""The OpenAPI 3.1 document of the API, made from what serves it: its paths and methods from the
app's route table (``liveblog/routes.py``), each operation from what its endpoint says of itself
(``@operation``: a summary, its answer, its body, its errors), and the schemas from the msgspec
models those name (``msgspec.json.schema_components``). An ``/api`` route whose endpoint says
nothing fails the document, so no route goes undescribed."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from liveblog import __version__
from liveblog.models import SLUG_REGEX
from liveblog.problems import ProblemBody

F = TypeVar("F", bound=Callable[..., Any])
WRITE = (400, 401, 403, 404, 413, 415, 422, 429, 503)
ADMIN_READ = (401, 403, 429, 503)
_SCHEMAS = "#/components/schemas/{name}"


def param(name: str, where: str, schema: dict[str, Any], about: str = "") -> dict[str, Any]:
    """An optional query or header parameter (path ones come from the route's path)."""
    found = {"name": name, "in": where, "required": False, "schema": schema}
    return found | {"description": about} if about else found


LIMIT = param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100})
BEFORE = param("before", "query", {"type": "string"}, "a `next` cursor this API returned")
IF_MATCH = param("If-Match", "header", {"type": "string"}, '"3", W/"3", 3 or *')
IDEMPOTENCY_KEY = param("Idempotency-Key", "header",
                        {"type": "string", "minLength": 1, "maxLength": 255},
                        "1-255 printable characters")  # fmt: skip
# Every name in an /api path, by what it matches (any other name is 404: liveblog/routes.py).
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "slug": {"type": "string", "pattern": f"^{SLUG_REGEX}$"},
    "entry_id": {"type": "string"},
    "token_id": {"type": "string"},
    "version": {"type": "integer", "minimum": 1},
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Operation:
    """What an endpoint says of itself in the document."""

    summary: str
    status: int = 200
    answer: type | None = None  # a model answered as application/json
    body: type | None = None  # a model sent as application/json, required
    auth: bool = False
    errors: tuple[int, ...] = ()
    params: tuple[dict[str, Any], ...] = ()
    # Bodies and answers that are not one JSON model (a photo, NDJSON): the OpenAPI objects.
    request_body: dict[str, Any] | None = None
    content: dict[str, Any] | None = None
    mentions: tuple[type, ...] = ()  # models it may also answer with (their schemas listed)

    def models(self) -> list[type]:
        return [m for m in (self.answer, self.body, *self.mentions) if m is not None]

    def described(self) -> dict[str, Any]:
        ok: dict[str, Any] = {"description": "OK"}
        if self.answer is not None:
            ok["content"] = {"application/json": {"schema": ref(self.answer)}}
        if self.content is not None:
            ok["content"] = self.content
        responses = {str(self.status): ok}
        problem = {"application/problem+json": {"schema": ref(ProblemBody)}}
        for code in self.errors:
            responses[str(code)] = {"description": "Problem", "content": problem}
        found: dict[str, Any] = {"summary": self.summary, "responses": responses}
        if self.params:
            found["parameters"] = list(self.params)
        if self.body is not None:
            schema = {"schema": ref(self.body)}
            found["requestBody"] = {"required": True, "content": {"application/json": schema}}
        if self.request_body is not None:
            found["requestBody"] = self.request_body
        if self.auth:
            found["security"] = [{"bearer": []}]
        return found


def operation(summary: str, **described: Any) -> Callable[[F], F]:
    """Describe an endpoint: ``@operation("Read a blog", answer=Blog, errors=(404,))``."""

    def describe(endpoint: F) -> F:
        endpoint.operation = Operation(summary=summary, **described)  # type: ignore[attr-defined]
        return endpoint

    return describe


def ref(model: type) -> dict[str, Any]:
    return {"$ref": _SCHEMAS.format(name=model.__name__)}


def operations(route: Route) -> dict[str, Operation]:
    """A route's operations by method (lower case), from its endpoints (one per method when
    the route dispatches by method: ``endpoints``, set by liveblog/routes.py)."""
    methods = sorted(set(route.methods or ()) - {"HEAD"})
    endpoints: dict[str, Any] = getattr(route.endpoint, "endpoints", None) or dict.fromkeys(
        methods, route.endpoint
    )
    found = {}
    for method in methods:
        described = getattr(endpoints[method], "operation", None)
        if not isinstance(described, Operation):
            raise LookupError(f"{method} {route.path} says nothing of itself (@operation)")
        found[method.lower()] = described
    return found


def document(routes: Iterable[BaseRoute]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    models: list[type] = [ProblemBody]
    for route in routes:
        if not isinstance(route, Route) or not route.path.startswith("/api/"):
            continue
        item: dict[str, Any] = {}
        names = re.findall(r"{(\w+)}", route.path_format)
        if names:
            item["parameters"] = [
                {"name": name, "in": "path", "required": True, "schema": PATH_PARAMETERS[name]}
                for name in names
            ]
        for method, described in operations(route).items():
            item[method] = described.described()
            models.extend(m for m in described.models() if m not in models)
        paths[route.path_format] = item
    _, components = msgspec.json.schema_components(models, ref_template=_SCHEMAS)
    return {
        "openapi": "3.1.0",
        "info": {"title": "liveblog", "version": __version__},
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": paths,
    }


@operation("This document")
async def openapi_json(request: Request) -> Response:
    state = request.app.state
    body: bytes | None = getattr(state, "openapi_document", None)
    if body is None:  # made once per app, from the routes it serves
        body = state.openapi_document = msgspec.json.encode(document(request.app.routes))
    return Response(body, media_type="application/json")
