"""``GET /api/stats``: what the newsroom dashboard shows, summed over every server process
(computed by ``liveblog.ops.stats``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from liveblog.api.openapi import operation
from liveblog.api.responses import json_response
from liveblog.ops import stats as ops_stats


@operation(
    "Readers, latency and blogs, summed over every server process",
    answer=ops_stats.Stats,
    errors=(503,),
)
async def stats(request: Request) -> Response:
    state = request.app.state
    body = await ops_stats.snapshot(state.engine, state.stats, state.settings)
    return json_response(body, headers={"Cache-Control": "no-store"})
