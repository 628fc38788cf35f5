"""The ASGI application: routes and lifespan, nothing else."""

from __future__ import annotations

import contextlib
import logging
import resource
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from liveblog import routes
from liveblog.api.presence import PresenceBoard
from liveblog.api.ratelimit import RateLimiter
from liveblog.api.responses import ERROR_HANDLERS, http_error_handler, http_problem
from liveblog.config import Settings
from liveblog.delivery.hub import Hub
from liveblog.editorial.scheduler import Scheduler
from liveblog.engine import Engine, make_engine
from liveblog.ops import access, collector, demo, metrics, quietlog, shutdown, stats
from liveblog.ops.eviction import EvictionGuard
from liveblog.pages.cache import PageCache
from liveblog.pages.reader import not_found
from liveblog.pages.static import StaticAssets
from liveblog.problems import Problem, problem_handler
from liveblog.serving import hosts
from liveblog.serving.compression import CompressionMiddleware
from liveblog.streams.admission import Admission
from liveblog.supervisor import Supervisor

logger = logging.getLogger("liveblog")


class LiveblogApp(Starlette):
    """Starlette, with live streams dispatched straight to their endpoints (see
    ``routes.stream_endpoint``: long-lived requests should not keep the middleware stack alive),
    and static files answered straight from memory (``liveblog.pages.static``): a crowd asks for
    them thousands of times, and the router's and middleware's turns would cost several times
    what answering does. A path under ``/static/`` that names no file goes the usual way (the
    route's 404 page, its 405)."""

    def __init__(self, *, static: StaticAssets, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.static = static

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await super().__call__(scope, receive, send)
            return
        if (endpoint := routes.stream_endpoint(scope)) is not None:
            if not self.state.trusted_hosts.allows(scope):
                await hosts.refuse(scope, receive, send)
                return
            scope["app"] = self
            await endpoint(scope, receive, send)
            return
        if scope["type"] == "http":  # every request but live streams: an id, a log record
            await access.logged(
                self._answer,
                scope,
                receive,
                send,
                on_response=self.state.metrics.on_response,
                log=self.state.settings.access_log,
            )
            return
        await self._answer(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.state.trusted_hosts.allows(scope):
            await hosts.refuse(scope, receive, send)
            return
        if scope["type"] == "http" and (file := self.static.find(scope)) is not None:
            compression = self.state.settings.compression
            await self.static.answer(file, scope, send, compression=compression)
            return
        await super().__call__(scope, receive, send)


async def _http_error(request: Request, exc: Exception) -> Response:
    """A path no route matches (or a page's own 404): the not-found page, unless it is the
    API's or a stream's, which answer problem+json."""
    assert isinstance(exc, HTTPException)
    path = request.url.path
    if routes.is_stream_path(path):
        return http_problem(request, exc)
    if exc.status_code == 404 and not (path == "/api" or path.startswith("/api/")):
        return not_found(request)
    return await http_error_handler(request, exc)


def create_app(
    settings: Settings | None = None, *, engine: Engine | None = None, served: bool = False
) -> Starlette:
    """The app; ``served``: this process is a server's (``liveblog serve``, a worker), whose
    garbage collection it sets once started (``liveblog.ops.collector``)."""
    settings = settings or Settings.from_env()
    quietlog.install()
    trusted_hosts = hosts.TrustedHosts(settings.allowed_hosts)
    engine = engine or make_engine(settings)
    supervisor = Supervisor()  # every background loop and task of this app
    hub = Hub(
        engine,
        buffer_bytes=settings.reader_buffer_bytes,
        drop_grace_seconds=settings.drop_grace_seconds,
        heartbeat_seconds=settings.heartbeat_seconds,
        coalesce_seconds=settings.coalesce_ms / 1000,
        channel_linger_seconds=settings.channel_linger_seconds,
        supervisor=supervisor,
    )
    reporter = stats.Reporter(engine, hub, supervisor)
    presence = PresenceBoard(engine, supervisor)
    hub.notice_listeners.append(presence.notice)
    scheduler = Scheduler(
        engine,
        interval=settings.scheduler_interval_seconds,
        rescan=settings.scheduler_rescan_seconds,
    )
    eviction = EvictionGuard(engine, allowed=settings.allow_evicting_redis)
    app_metrics = metrics.Metrics(engine, hub, eviction, on_latency=reporter.latency.observe)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await engine.start()
        await hub.start()
        shutdown.on_uvicorn_exit(hub.shutdown_readers, settings.shutdown_grace_seconds)
        await reporter.start()
        supervisor.loop("presence", presence.run)
        # Not critical: readers are served while it retries; a late entry goes out on recovery.
        supervisor.loop("scheduler", scheduler.run)
        supervisor.loop("eviction-check", eviction.run)
        if settings.demo and engine.name == "memory":
            await demo.seed(engine, settings)
        if served:
            collector.settle()
        try:
            yield
        finally:
            # Bounded: a Redis that hangs or is gone must not hold up the stop.
            await shutdown.steps(
                shutdown.CLEANUP_SECONDS,
                ("stats reporter", reporter.close),
                ("hub", hub.close),
                ("engine", engine.close),
            )

    static = StaticAssets()
    app = LiveblogApp(
        static=static,
        routes=routes.table(static),
        # Pages, feeds and API answers; live streams are dispatched before the middleware.
        middleware=[Middleware(CompressionMiddleware, enabled=settings.compression)],
        exception_handlers={Problem: problem_handler, **ERROR_HANDLERS, HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.router.default = routes.no_route  # one name space: see liveblog/routes.py
    app.state.settings = settings
    app.state.trusted_hosts = trusted_hosts
    app.state.engine = engine
    app.state.hub = hub
    app.state.scheduler = scheduler
    app.state.eviction = eviction
    app.state.metrics = app_metrics
    app.state.stats = reporter
    app.state.presence = presence
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    open_files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]  # raised by `liveblog serve`
    app.state.admission = Admission.from_settings(settings, open_files)
    app.state.page_cache = PageCache()
    return app


def app_from_env() -> Starlette:
    """Factory for ``uvicorn --factory liveblog.app:app_from_env`` and for workers."""
    return create_app(Settings.from_env(), served=True)
