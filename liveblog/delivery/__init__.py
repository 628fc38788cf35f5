"""Per-process fan-out: everything between the engine's pub/sub and a reader's socket.

Owns the hub (``hub``: the channels by blog, the one engine subscription, housekeeping), each
blog's delivery state machine (``channel``: live readers, resumes, gap fills, coalescing), the
connections as the hub sees them and the ``Frame`` each event is encoded into once
(``connections``), and the adapters of uvicorn's protocols: the fast path that
hands the hub each socket's transport (``fastpath``) and the bounds on a request's head
(``guard``), with the one table of what they, and the Redis Cluster engine, use below other
packages' public API (``private_surfaces``, checked at start-up before either is imported); the
streams that hold a token's rights, ended when the token loses them (``rights``), and the tokens
requests read lately, kept until a change is heard (``tokens``).

May import: models, events, engine, supervisor.
Never the editor API, pages, streams or editorial code: fan-out knows no editor API or pages.
"""
