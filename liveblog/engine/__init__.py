"""Storage and pub/sub behind one interface (``base``: a protocol per concern, and ``Engine``,
all of them): ``memory`` (one process, no service), ``redis`` (production; its key names in
``keys``, every Lua script in ``lua/``), ``cluster`` (Redis Cluster, sharded pub/sub) and
``sentinel`` (the master a set of Redis Sentinels names, followed across failovers).

May import: models, events, config.
Storage knows no readers, transports or HTTP.
"""

from __future__ import annotations

import logging

from liveblog.config import Settings
from liveblog.engine.base import Engine

logger = logging.getLogger("liveblog")


def make_engine(settings: Settings) -> Engine:
    if settings.redis_sentinels:
        from liveblog.engine.sentinel import RedisSentinelEngine

        return RedisSentinelEngine(
            settings.sentinel_addresses(),
            settings.redis_sentinel_master,
            settings.redis_url,
            history_size=settings.history_size,
            idempotency_ttl=settings.idempotency_ttl_seconds,
            timeout=settings.redis_timeout_seconds,
            max_connections=settings.redis_max_connections,
            replica_wait_ms=settings.redis_replica_wait_ms,
            **_record_bounds(settings),
        )
    if settings.redis_url:
        from liveblog.engine.redis import RedisEngine

        engine_class = RedisEngine
        if settings.redis_cluster:
            from liveblog.engine.cluster import RedisClusterEngine

            engine_class = RedisClusterEngine
        return engine_class(
            settings.redis_url,
            history_size=settings.history_size,
            idempotency_ttl=settings.idempotency_ttl_seconds,
            timeout=settings.redis_timeout_seconds,
            max_connections=settings.redis_max_connections,
            replica_wait_ms=settings.redis_replica_wait_ms,
            **_record_bounds(settings),
        )
    from liveblog.engine.memory import MemoryEngine

    logger.warning(
        "Neither LIVEBLOG_REDIS_URL nor LIVEBLOG_REDIS_SENTINELS is set: using the embedded "
        "memory engine. It is single-process (one worker only) and keeps nothing across restarts; "
        "set LIVEBLOG_REDIS_URL for production."
    )
    return MemoryEngine(
        history_size=settings.history_size,
        idempotency_ttl=settings.idempotency_ttl_seconds,
        **_record_bounds(settings),
    )


def _record_bounds(settings: Settings) -> dict[str, int]:
    """What bounds the record (revisions and the audit log) in either engine."""
    return {
        "max_revisions": settings.max_revisions,
        "audit_days": settings.audit_days,
        "audit_max_events": settings.audit_max_events,
    }


__all__ = ["Engine", "make_engine"]
