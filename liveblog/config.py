"""Settings, read once from ``LIVEBLOG_*`` environment variables.

Every setting is a field of :class:`Settings`; its variable is ``LIVEBLOG_`` + the field name in
upper case, so this file is the one list of what can be configured (the README table mirrors it).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any, get_type_hints

_PREFIX = "LIVEBLOG_"
MIN_ADMIN_TOKEN_LENGTH = 32


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings:
    # Storage and pub/sub. Unset: the embedded single-process memory engine.
    redis_url: str | None = None
    # The Redis URL names any node of a Redis Cluster (sharded pub/sub; a 2xx waits for a
    # replica to have the write).
    redis_cluster: bool = False
    # Comma-separated host:port of Redis Sentinels: the master of redis_sentinel_master is found
    # through them and followed across failovers (a 2xx waits for a replica to have the write).
    # The URL, when also set, gives the database, password and TLS; its host is ignored.
    redis_sentinels: str | None = None
    redis_sentinel_master: str = "mymaster"
    # Start (and stay ready) on a Redis whose maxmemory-policy may evict keys: blog history,
    # tokens and idempotency keys would then vanish under memory pressure. Off: refused.
    allow_evicting_redis: bool = False
    # Admin bearer token accepted in addition to stored tokens (bootstrap for compose and tests).
    admin_token: str | None = None
    # Events kept per blog for resume; an older Last-Event-ID gets `reset`.
    history_size: int = 1000
    # Bytes a reader may have pending before it is dropped (it then resumes by Last-Event-ID).
    reader_buffer_bytes: int = 512 * 1024
    # A dropped reader's socket gets this long to take the end of its stream, then is cut.
    drop_grace_seconds: float = 10.0
    # Heartbeat period (docs/api.md promises SSE one at least every 15 s). WebSockets get a ping and
    # are closed when they sent nothing, not even the pong, for a whole period.
    heartbeat_seconds: float = 15.0
    # A blog busier than one event per this many milliseconds has its events written to each
    # reader together, at most this late (one write, not one each); the first event after a
    # quieter spell goes out at once. 0: only the events of one loop turn are joined.
    coalesce_ms: float = 20.0
    # Compression: live events compressed once per process for every reader that asks (SSE gzip,
    # WebSocket permessage-deflate), pages and files gzip or Brotli. off: plain bytes for all.
    compression: bool = True
    # EventSource reconnect hint sent as `retry:`: the mean; each reader gets its own, from half
    # to 1.5 times it, so the readers of a restarted process do not all come back at once.
    sse_retry_ms: int = 2000
    # Idempotency keys are kept at least 24 h (docs/api.md).
    idempotency_ttl_seconds: int = 48 * 3600
    # Editor writes per token: sustained rate and burst.
    rate_limit_per_second: float = 10.0
    rate_limit_burst: int = 100
    # Redis calls give up after this long, so a down engine answers 503 within 5 s.
    redis_timeout_seconds: float = 2.0
    # Connections to Redis per process (per node on a cluster): calls past it wait for one, up
    # to the timeout. The subscription holds one more of its own.
    redis_max_connections: int = 64
    # How long a write waits for a replica to confirm it (on a cluster, or behind Sentinel)
    # before the answer is 503 (safe to retry with its Idempotency-Key). Short: it is the price
    # of every publish on a healthy shard (docs/benchmarks.md).
    redis_replica_wait_ms: int = 500
    # A blog's channel stays this long after its last reader leaves (its subscription and
    # position kept), so readers that come back soon (a reload, a blip) find it open.
    channel_linger_seconds: float = 30.0
    # SIGTERM: readers are told to reconnect at once; requests in flight get this long; the
    # process is gone at most 2 s later, whatever state Redis is in.
    shutdown_grace_seconds: float = 5.0
    # Logs: "text" (one line per record, for people) or "json" (one object per line, for log
    # pipelines). access_log: one record per request (live streams are not logged per reader).
    log_format: str = "text"
    access_log: bool = True
    # Seed a demo blog on the memory engine, so a newcomer has something to post to.
    demo: bool = True
    # Pages: absolute base URL for canonical links, og:url, JSON-LD and feeds. Unset: from the
    # Host header only when allowed_hosts vouches for it, else those links stay relative.
    public_url: str | None = None
    # Comma-separated Host names this server answers to ("*.example.com" for subdomains); any
    # other Host gets 400. Unset: every Host is answered but never trusted for URLs.
    allowed_hosts: str | None = None
    # Seconds the index page (/) is served from a per-process cache. Per-blog pages, feeds and
    # embeds are cached by stream position instead, so they are never stale.
    page_cache_seconds: float = 1.0
    publisher_name: str = "liveblog"
    publisher_logo: str | None = None
    # Origins allowed to embed /blogs/{slug}/embed in a frame (CSP frame-ancestors).
    frame_ancestors: str = "*"
    # Scheduled entries: every process looks for due ones this often (published within 2 s of
    # publish_at needs well under 2 s), and looks at every blog's schedule this often (mends
    # the Redis index of due blogs should a process die between a write and its index).
    scheduler_interval_seconds: float = 0.5
    scheduler_rescan_seconds: float = 60.0
    # Dashboard: minutes without an entry before a live blog turns amber, then red.
    quiet_amber_minutes: float = 10.0
    quiet_red_minutes: float = 30.0
    # When set, GET /metrics requires `Authorization: Bearer <this>` (401 otherwise).
    metrics_token: str | None = None
    # Hostile clients. A request's line and headers: at most this many bytes and headers (431),
    # sent within this many seconds of its first byte or the connection's start (408).
    max_request_head_bytes: int = 64 * 1024
    max_request_headers: int = 100
    request_head_timeout_seconds: float = 5.0
    # A request's body must keep coming: after this many seconds it must have averaged at least
    # request_body_min_rate bytes a second (time the server itself is not reading, such as an
    # upload waiting for its turn, is not counted), else 408 and the connection is closed.
    request_body_timeout_seconds: float = 10.0
    request_body_min_rate: int = 1024
    # Connections in the middle of a request body, per process; past it, a body still coming a
    # second after its head gets 503 + Retry-After. They come out of the 1,024 open files the
    # stream cap leaves aside (see max_connections), so streams and bodies stay under the limit.
    max_request_bodies: int = 256
    # An idle keep-alive connection is closed after this long.
    keepalive_timeout_seconds: float = 5.0
    # Live streams (SSE and WebSocket) per process; over it a new one gets 503 + Retry-After.
    # 0: the open-file limit (raised to its hard limit at start) less 1,024 for everything else.
    max_connections: int = 0
    # Live streams per client address (behind a proxy: the forwarded one). 0: no cap, since a
    # newsroom or a mobile carrier may put thousands of readers behind one address.
    max_streams_per_client: int = 0
    # Comma-separated origins (https://example.com) a WebSocket handshake may come from; any
    # other Origin gets 403. Unset: any (readers' pages may be embedded anywhere).
    allowed_origins: str | None = None
    # Uploaded photos (POST /api/blogs/{slug}/media): "local" keeps them in media_dir and serves
    # them at /media/; "s3" puts them in an S3-compatible bucket, read from s3_public_url.
    media_storage: str = "local"
    media_dir: str = "media"
    s3_endpoint_url: str | None = None  # unset: AWS itself; else e.g. https://minio:9000
    s3_bucket: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None  # unset: the usual AWS credential chain
    s3_secret_access_key: str | None = None
    # Where readers fetch the bucket's objects: a CDN or the bucket's public URL (https).
    s3_public_url: str | None = None
    # What an uploaded photo may cost. Its pixels, once decoded (width x height x the bytes per
    # pixel of its mode, every frame of an animation), may take at most this many bytes, else
    # 422 before one is decoded; and the largest size kept, in megapixels: bigger photos are
    # scaled down to it, which is then "the original" (the uploaded file is not kept).
    media_max_decoded_bytes: int = 128 * 1024 * 1024
    media_kept_megapixels: float = 6.0
    # Uploads at once on this host, counted across every process that shares media_slots_dir:
    # from before the body is read until its sizes are made; and of those, how many decode at
    # once (each may take media_max_decoded_bytes and some). Past either, an upload waits up to
    # media_slot_wait_seconds for its turn, then gets 503 + Retry-After.
    media_uploads_at_once: int = 8
    media_decodes_at_once: int = 2
    media_slot_wait_seconds: float = 30.0
    # A directory every process on the host shares (containers: a shared volume). Unset: one
    # in the system's temporary directory, per user.
    media_slots_dir: str | None = None
    # Blogs created without a language or time zone get these (BCP 47; IANA zone name).
    default_language: str = "en"
    default_time_zone: str = "UTC"
    # Mastodon servers whose posts may be embedded (comma-separated host names): Mastodon has
    # no one host, and the page's CSP frame-src lists exactly these.
    mastodon_hosts: str = "mastodon.social,mastodon.online,mstdn.social,social.coop"

    # The record. Versions kept per entry: its first and the newest (at least 2); older ones in
    # between are dropped as new ones come. The audit log keeps this many days, and at most this
    # many events per blog (and as many of people's tokens) in Redis, in all on the memory engine.
    max_revisions: int = 50
    audit_days: int = 400
    audit_max_events: int = 100_000
    # POST /api/blogs/import: the largest export file accepted, in bytes (413 past it).
    max_import_bytes: int = 256 * 1024 * 1024

    def __post_init__(self) -> None:
        # The bootstrap token is an admin's key to everything: refuse a guessable one at start.
        if self.admin_token and len(self.admin_token) < MIN_ADMIN_TOKEN_LENGTH:
            raise ValueError(
                f"{_PREFIX}ADMIN_TOKEN must be at least {MIN_ADMIN_TOKEN_LENGTH} characters (it "
                f"has {len(self.admin_token)}); make one with: openssl rand -hex 24"
            )
        if not 0 <= self.coalesce_ms <= 1000:
            raise ValueError(
                f"{_PREFIX}COALESCE_MS must be from 0 to 1000 (milliseconds a busy blog's events "
                f"may wait to share a write), not {self.coalesce_ms}"
            )
        if self.max_revisions < 2:
            raise ValueError(
                f"{_PREFIX}MAX_REVISIONS must be at least 2 (an entry's first version and its "
                f"newest), not {self.max_revisions}"
            )
        if self.audit_days < 1 or self.audit_max_events < 1:
            raise ValueError(
                f"{_PREFIX}AUDIT_DAYS and {_PREFIX}AUDIT_MAX_EVENTS must be at least 1"
            )
        if self.log_format not in ("text", "json"):
            raise ValueError(f"{_PREFIX}LOG_FORMAT must be text or json, not {self.log_format!r}")
        if not 0 <= self.shutdown_grace_seconds <= 3600:
            raise ValueError(
                f"{_PREFIX}SHUTDOWN_GRACE_SECONDS must be from 0 to 3600, not "
                f"{self.shutdown_grace_seconds}"
            )
        if self.redis_sentinels is not None and self.redis_cluster:
            raise ValueError(
                f"{_PREFIX}REDIS_SENTINELS and {_PREFIX}REDIS_CLUSTER do not go together: a "
                "Redis Cluster fails over by itself"
            )
        if self.redis_sentinels is not None:
            self.sentinel_addresses()  # a malformed list fails at start, naming the variable
        if self.media_storage not in ("local", "s3"):
            raise ValueError(
                f"{_PREFIX}MEDIA_STORAGE must be local or s3, not {self.media_storage!r}"
            )
        for name in ("media_uploads_at_once", "media_decodes_at_once", "max_request_bodies",
                     "redis_max_connections", "redis_replica_wait_ms"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ValueError(f"{_PREFIX}{name.upper()} must be at least 1")
        if not 0.1 <= self.media_kept_megapixels <= 50:
            raise ValueError(
                f"{_PREFIX}MEDIA_KEPT_MEGAPIXELS must be from 0.1 to 50 (the largest photo kept), "
                f"not {self.media_kept_megapixels}"
            )
        if self.request_body_min_rate < 1 or self.request_body_timeout_seconds <= 0:
            raise ValueError(
                f"{_PREFIX}REQUEST_BODY_TIMEOUT_SECONDS must be over 0 and "
                f"{_PREFIX}REQUEST_BODY_MIN_RATE at least 1 (bytes a second)"
            )
        if self.media_storage == "s3" and not (self.s3_bucket and self.s3_public_url):
            raise ValueError(
                f"{_PREFIX}MEDIA_STORAGE=s3 needs {_PREFIX}S3_BUCKET and {_PREFIX}S3_PUBLIC_URL"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from the environment; keyword overrides win (tests use them)."""
        environ = os.environ if environ is None else environ
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            raw = environ.get(_PREFIX + field.name.upper())
            if raw is not None and raw != "":
                values[field.name] = _parse(field.name, raw, hints[field.name])
        values.update(overrides)
        return cls(**values)

    @property
    def engine_name(self) -> str:
        return "redis" if self.redis_url or self.redis_sentinels else "memory"

    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """``redis_sentinels`` as (host, port) pairs."""
        addresses = []
        for item in (self.redis_sentinels or "").split(","):
            host, _, port = item.strip().rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(
                    f"{_PREFIX}REDIS_SENTINELS must list host:port pairs separated by commas, "
                    f"not {self.redis_sentinels!r}"
                )
            addresses.append((host.strip("[]"), int(port)))
        return addresses


def _parse(name: str, raw: str, hint: Any) -> Any:
    kind = hint if isinstance(hint, type) else next(t for t in hint.__args__ if t is not type(None))
    try:
        if kind is bool:
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        return kind(raw)
    except ValueError:
        raise ValueError(
            f"{_PREFIX}{name.upper()}={raw!r} is not a valid {kind.__name__}"
        ) from None
