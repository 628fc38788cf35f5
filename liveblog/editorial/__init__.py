"""The newsroom's rules: a validated request becomes one atomic engine change.

Owns what a create, a PATCH or a delete means (``editing``: versions, workflow statuses,
corrections, bylines, the event each change publishes), entry HTML cleaning (``sanitize``),
the publication of scheduled entries (``scheduler``), the record each change leaves
(``record``: revisions and audit events), a blog's export and import (``transfer``), and search:
the terms the index keeps of an entry and a query asks for (``words``, ``search``), and the index
made complete. And the rules every caller (the API, the command line, the demo) shares: a blog's
defaults and validation (``blogs``), who may do what (``roles``), tokens and how one is issued
(``tokens``), the embeds an entry may hold (``embeds``), and the two refusals (``refusals``).

May import: models, events, engine, config, i18n.
Never HTTP, readers or transports: the API calls this, and this publishes through the engine,
never to sockets.
"""
