"""Running the server: health and readiness (``health``), Prometheus metrics (``metrics``),
the cluster-wide stats (``stats``, ``latency``), graceful shutdown and its deadline
(``shutdown``), the guard against an evicting Redis (``eviction``), logs as text or JSON
(``logs``), request ids and the access log (``access``), quiet logs (``quietlog``), the garbage
collector's settings for a server (``collector``) and the demo blog (``demo``). Background-task
supervision is ``liveblog.supervisor`` (the hub's too).

May import: models, events, config, problems, engine, delivery, editorial, supervisor.
Nothing imports it but the app, the routes, the command line (``eviction``, ``logs``, ``demo``)
and the API's stats endpoint.
"""
