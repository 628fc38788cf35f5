"""The editor REST API under /api (docs/api.md): auth and tokens, blogs, entries, the
newsroom's own stream (who may open it), a photo's upload, presence, stats, the OpenAPI
document; problem+json for every error.

May import: models, problems, config, engine, editorial, delivery, streams, media, ops,
supervisor.
It publishes through the engine, never to sockets; ``delivery`` for the rights a stream holds,
``streams`` for the newsroom's stream (which this package authorises), ``ops`` for the stats.
"""
