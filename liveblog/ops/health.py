"""Operations endpoints: liveness and readiness."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from liveblog.engine.base import EngineError


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready when the engine answers, the event subscription is up, every loop that delivery
    depends on is running, and Redis does not evict keys (or that is allowed)."""
    state = request.app.state
    hub = state.hub
    eviction = state.eviction.problem
    checks = {
        "engine": "ok",
        "subscription": "ok" if hub.connected.is_set() else "down",
        "loops": "ok" if not hub.supervisor.down else "down: " + ", ".join(hub.supervisor.down),
        "eviction": "ok" if eviction is None else eviction,
    }
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
