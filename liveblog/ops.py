"""Operations endpoints: liveness and readiness."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from liveblog.engine.base import EngineError


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready when the engine answers and the event subscription is up."""
    state = request.app.state
    checks = {"engine": "ok", "subscription": "ok" if state.hub.healthy else "down"}
    try:
        await state.engine.ping()
    except EngineError as exc:
        checks["engine"] = f"down: {exc}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
        headers={"Cache-Control": "no-store"},
    )


def routes() -> list[BaseRoute]:
    return [Route("/healthz", healthz), Route("/readyz", readyz)]
