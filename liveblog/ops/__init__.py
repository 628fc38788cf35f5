"""Running the server: health and readiness (``health``), Prometheus metrics (``metrics``),
the cluster-wide stats (``stats``, ``latency``), background-task supervision (``supervisor``),
graceful shutdown and its deadline (``shutdown``), the guard against an evicting Redis
(``eviction``), logs as text or JSON (``logs``), request ids and the access log (``access``),
quiet logs (``quietlog``) and the demo blog (``demo``).

May import anything below it (``models``, ``engine``, ``delivery``, ``editorial``, ``config``);
nothing imports it but the app, the command line (``eviction``, ``logs``), the API's stats
endpoint and the hub (for its supervisor).
"""
