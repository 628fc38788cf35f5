"""A server process sets its garbage collection once started (``liveblog.ops.collector``): what
start-up left alive is frozen and collections are spaced out, so a crowd's growing heap is not
walked again and again while connections wait to be accepted. An app made in a test process
leaves that process's collector as it was."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys

from liveblog.app import create_app
from liveblog.config import Settings
from liveblog.ops import collector

# The factory ``liveblog serve`` and its workers run, started as uvicorn starts it (lifespan).
SERVED = """
import asyncio, gc, json
from liveblog.app import app_from_env

async def main():
    before = gc.get_freeze_count(), gc.get_threshold()
    app = app_from_env()
    async with app.router.lifespan_context(app):
        print(json.dumps({"before": before, "frozen": gc.get_freeze_count(),
                          "threshold": gc.get_threshold()}))

asyncio.run(main())
"""


def test_a_served_app_freezes_what_start_up_left_and_spaces_collections_out() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEBLOG_")}
    env["LIVEBLOG_DEMO"] = "0"
    out = subprocess.run(
        [sys.executable, "-c", SERVED], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["before"] == [0, [700, 10, 10]]  # CPython's own until the app has started
    # The modules, templates and static files of a started app: tens of thousands of objects.
    assert seen["frozen"] > 20_000
    assert seen["threshold"] == [collector.YOUNG_EVERY, collector.MIDDLE_EVERY, collector.OLD_EVERY]


async def test_an_app_made_in_a_test_process_leaves_its_collector_alone() -> None:
    before = gc.get_freeze_count(), gc.get_threshold()
    app = create_app(Settings(demo=False))
    async with app.router.lifespan_context(app):
        assert (gc.get_freeze_count(), gc.get_threshold()) == before
