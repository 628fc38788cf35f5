"""How ``liveblog serve`` runs uvicorn: one set of options, used by the command line and by the test
suite's servers alike, so that tests run what production runs.

The fast path (``liveblog.delivery.fastpath``) and the request limits (head and body pace,
``liveblog.delivery.guard``) subclass uvicorn's private protocol classes. At start-up their surface
(``liveblog.delivery.private_surfaces``) is checked before either module is imported: without the
fast path's, streams take the plain ASGI path, still behind the request limits; without the
limits' (or a Redis Cluster engine's), the server refuses to start rather than run unprotected.
``hosts`` checks the Host header at the app's entry; ``compression`` negotiates content codings
and compresses the answers that pass the middleware.

May import: config, delivery, problems.
(``delivery`` for the protocols.)
"""

from __future__ import annotations

import functools
import logging
import resource
import socket
from typing import Any, NoReturn

import uvicorn
from uvicorn.supervisors import Multiprocess

from liveblog.config import Settings
from liveblog.delivery import private_surfaces

logger = logging.getLogger("liveblog")

PLAIN_WS = "websockets-sansio"  # uvicorn's own WebSocket protocol: the plain path's
# What a client may send in one WebSocket message: a dashboard's op is under 200 bytes and a
# reader sends nothing, while uvicorn's default (16 MiB) lets anyone park that much per socket.
WS_MAX_MESSAGE_BYTES = 64 * 1024


def protocols(settings: Settings, *, fast_path: bool = True) -> tuple[Any, Any]:
    """uvicorn's ``http`` and ``ws`` protocols: always behind the request limits of
    ``settings``, the fast path's when it can run. Refuses (``SystemExit``) when the limits
    cannot be installed, and when a Redis Cluster engine's surface is missing."""
    _require(private_surfaces.REQUEST_LIMITS)
    if settings.redis_cluster and settings.redis_url:  # liveblog.engine.make_engine
        _require(private_surfaces.CLUSTER)
    for line in private_surfaces.untested():
        logger.warning(
            "%s: outside the versions liveblog was tested on; its surface checks out", line
        )
    try:
        from liveblog.delivery.guard import (
            BodyGate,
            BodyLimits,
            GuardedHttpToolsProtocol,
            HeadLimits,
        )
    except Exception as exc:  # a class layout uvicorn changed fails here, not only an import
        _refuse(private_surfaces.REQUEST_LIMITS, repr(exc))
    limits = HeadLimits(
        max_head_bytes=settings.max_request_head_bytes,
        max_headers=settings.max_request_headers,
        head_timeout=settings.request_head_timeout_seconds,
    )
    # One per server process (each worker unpickles its own): the bodies it is receiving.
    bodies = BodyGate(
        BodyLimits(
            timeout=settings.request_body_timeout_seconds,
            min_rate=settings.request_body_min_rate,
            max_bodies=settings.max_request_bodies,
        )
    )
    guarded = functools.partial(GuardedHttpToolsProtocol, limits=limits, bodies=bodies)
    if not fast_path:
        return guarded, PLAIN_WS
    problem = private_surfaces.check(private_surfaces.FAST_PATH)
    if problem is None:
        try:
            from liveblog.delivery import fastpath
        except Exception as exc:  # as for the guard
            problem = repr(exc)
    if problem is not None:
        logger.warning(
            "fast path off (%s): streams take the plain ASGI path, request limits on", problem
        )
        return guarded, PLAIN_WS
    http = functools.partial(fastpath.DirectHttpToolsProtocol, limits=limits, bodies=bodies)
    ws = functools.partial(fastpath.DirectWebSocketProtocol, deflate=settings.compression)
    return http, ws


def _require(feature: str) -> None:
    problem = private_surfaces.check(feature)
    if problem is not None:
        _refuse(feature, problem)


def _refuse(feature: str, problem: str) -> NoReturn:
    logger.critical(
        "refusing to start: the %s cannot run on the installed packages (%s); "
        "install the versions pyproject.toml names",
        feature,
        problem,
    )
    raise SystemExit(1)


def options(settings: Settings, *, fast_path: bool = True) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` or ``uvicorn.Config``."""
    http, ws = protocols(settings, fast_path=fast_path)
    return {
        "loop": "uvloop",
        "http": http,
        "ws": ws,
        # Per socket, uvicorn would compress every message again; the fast path's protocol
        # negotiates permessage-deflate itself, for frames compressed once for every reader.
        "ws_per_message_deflate": False,
        "ws_max_size": WS_MAX_MESSAGE_BYTES,  # over it: close 1009
        "lifespan": "on",
        "access_log": False,  # liveblog's own (liveblog.ops.access) has the request id
        "timeout_graceful_shutdown": settings.shutdown_grace_seconds,
        "timeout_keep_alive": settings.keepalive_timeout_seconds,
        "proxy_headers": True,
        # No "server: uvicorn" on every response: bytes on each of a phone's requests, and
        # nothing a client needs (Date stays: HTTP asks an origin server for it).
        "server_header": False,
    }


def run_workers(app: str, *, host: str, port: int, workers: int, **kwargs: Any) -> None:
    """``uvicorn.run(app, workers=N)``, with a listening socket per worker (SO_REUSEPORT).

    uvicorn's supervisor gives every worker the same listening socket, and whichever worker is
    idle first takes the next connection: under a rush of readers one of two workers took 63%
    of them (bench/scale.py). Each worker listening on its own socket, the kernel spreads new
    connections evenly by their addresses. The supervisor (start, restart, signals) stays
    uvicorn's."""
    config = uvicorn.Config(app, host=host, port=port, workers=workers, **kwargs)
    # Hold the port (bound, not listening: it takes no connections) so that a port in use
    # fails here, once, rather than in every worker.
    reservation = _reuse_port_socket(host, port)
    try:
        listener = _WorkerListener(host, port, config.backlog)
        # A stand-in, not a socket: uvicorn pickles it to each worker, where it is one.
        Multiprocess(config, sockets=[listener]).run()  # type: ignore[list-item]
    finally:
        reservation.close()


class _WorkerListener:
    """Stands in for a listening socket in the list uvicorn hands each worker it spawns, which
    it pickles: unpickled in the worker, it is a socket of that worker's own."""

    def __init__(self, host: str, port: int, backlog: int) -> None:
        self.host, self.port, self.backlog = host, port, backlog

    def __reduce__(self) -> tuple[Any, tuple[str, int, int]]:
        return _listen, (self.host, self.port, self.backlog)


def _listen(host: str, port: int, backlog: int) -> socket.socket:
    sock = _reuse_port_socket(host, port)
    sock.listen(backlog)
    return sock


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def raise_file_limit() -> int:
    """Raise this process's soft limit of open files to the hard limit (each reader holds one);
    returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:
            logger.warning("cannot raise the open-file limit from %d to %d: %s", soft, hard, exc)
    return soft
