"""The operators' assets in deploy/ are checked, not just shipped: promtool accepts the alert
rules and passes their unit tests, and every series the rules and the Grafana dashboard query
is one a running server really exports (checked against a scrape of /metrics)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import make_settings
from tests.support.clients import Editor, SSEReader
from tests.support.servers import serve_in_process

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
RULES = DEPLOY / "prometheus" / "liveblog-alerts.yml"
RULE_TESTS = DEPLOY / "prometheus" / "liveblog-alerts.test.yml"
DASHBOARD = DEPLOY / "grafana" / "liveblog-dashboard.json"
# The server's own families, and the process collector's.
SERIES = re.compile(r"\b(?:liveblog|process)_[a-z0-9_]+\b")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        raise RuntimeError(
            "promtool is not installed: run the test command from the README (scripts/test "
            "installs Debian's prometheus, which has it)"
        )
    return subprocess.run(
        [binary, *args], cwd=RULES.parent, capture_output=True, text=True, timeout=60
    )


def test_promtool_accepts_the_rules() -> None:
    result = promtool("check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_rules_pass_their_unit_tests() -> None:
    tested = {
        t["alertname"] for case in _yaml(RULE_TESTS)["tests"] for t in case["alert_rule_test"]
    }
    assert len(tested) >= 2
    result = promtool("test", "rules", RULE_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_cover_what_operators_watch() -> None:
    alerts = {rule["alert"]: rule["expr"] for rule in _rules()}
    watched = {
        "liveblog_ready": "readiness",
        "liveblog_task_errors_total": "task errors",
        "liveblog_http_responses_total": "write errors",
        "liveblog_publish_latency_seconds_bucket": "publish latency",
        "liveblog_slow_readers_dropped_total": "readers dropped",
        "liveblog_redis_evicting": "eviction policy",
        "liveblog_replica_wait_failures_total": "replica waits failing",
    }
    used = {name for expr in alerts.values() for name in SERIES.findall(expr)}
    assert set(watched) <= used, set(watched) - used


async def scrape_names(redis_url: str) -> set[str]:
    """Every sample name of /metrics, on the Redis engine, after a little activity (a publish,
    a reader), the way Prometheus sees it."""
    async with serve_in_process(make_settings(redis_url)) as url:
        editor = Editor(url)
        await editor.create_blog("scraped")
        reader = await SSEReader(url, "/blogs/scraped/events").connect()
        await editor.post("scraped", headline="one")
        await reader.wait_for(1)
        text = (await editor.http.get("/metrics")).text
        await reader.close()
        await editor.close()
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


async def test_every_rule_queries_exported_series(redis_url: str) -> None:
    names = await scrape_names(redis_url)
    for rule in _rules():
        for series in SERIES.findall(rule["expr"]):
            assert series in names, f"{rule['alert']} queries {series}, which nobody exports"


async def test_every_dashboard_panel_queries_exported_series(redis_url: str) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    names = await scrape_names(redis_url)
    panels = dashboard["panels"]
    assert len(panels) >= 10
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        assert panel["targets"], panel["title"]
        queried = [s for t in panel["targets"] for s in SERIES.findall(t["expr"])]
        assert queried, f"panel {panel['title']!r} queries no liveblog series"
        for series in queried:
            assert series in names, f"panel {panel['title']!r} queries {series}: not exported"
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            for series in SERIES.findall(variable["definition"]):
                assert series in names, f"variable {variable['name']} queries {series}"


def _yaml(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def _rules() -> list[dict[str, Any]]:
    return [rule for group in _yaml(RULES)["groups"] for rule in group["rules"]]
