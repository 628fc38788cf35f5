"""Running the server: health and readiness (``health``), Prometheus metrics (``metrics``),
the cluster-wide stats (``stats``, ``latency``), background-task supervision (``supervisor``),
graceful shutdown (``shutdown``), quiet logs (``quietlog``) and the demo blog (``demo``).

May import anything below it (``models``, ``engine``, ``delivery``, ``editorial``); nothing
imports it but the app, the API's stats endpoint and the hub (for its supervisor).
"""
