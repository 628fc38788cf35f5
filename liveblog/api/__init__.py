"""The editor REST API under /api (docs/api.md): auth and tokens, blogs, entries, the
newsroom's own stream, stats, the OpenAPI document; problem+json for every error.

May import: ``models``, ``problems``, ``engine``, ``editorial``, ``delivery`` (the hub, for the
newsroom stream), ``media``, ``ops``. It publishes through the engine, never to sockets.
"""
