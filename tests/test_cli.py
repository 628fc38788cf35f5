"""The ``liveblog`` command line: tokens and blogs from a shell, settings from the environment."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from liveblog.config import Settings
from tests.support.redis_server import free_port
from tests.support.servers import ServerProcess


def liveblog(
    *args: str, redis_url: str | None, **settings: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LIVEBLOG_REDIS_URL": redis_url or "", **settings}
    return subprocess.run(
        [sys.executable, "-m", "liveblog", *args], env=env, capture_output=True, text=True
    )


def test_token_and_blog_from_the_command_line(redis_url: str) -> None:
    made = liveblog("blog", "create", "from-cli", "--title", "From the CLI", redis_url=redis_url)
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["slug"] == "from-cli"
    issued = liveblog(
        "token", "create", "--name", "desk", "--blog", "from-cli", redis_url=redis_url
    )
    assert issued.returncode == 0, issued.stderr
    token = json.loads(issued.stdout)
    assert token["role"] == "editor" and token["blogs"] == ["from-cli"]

    server = ServerProcess({"LIVEBLOG_REDIS_URL": redis_url})
    server.start()
    try:
        response = httpx.post(
            f"{server.url}/api/blogs/from-cli/entries",
            json={"body": "<p>hi</p>"},
            headers={"Authorization": f"Bearer {token['token']}"},
        )
        assert response.status_code == 201, response.text
    finally:
        server.stop()

    again = liveblog("blog", "create", "from-cli", "--title", "Again", redis_url=redis_url)
    assert again.returncode != 0 and "from-cli" in again.stderr
    # Refused in the API's words, not a regex.
    bad = liveblog("blog", "create", "From CLI", "--title", "Bad", redis_url=redis_url)
    assert bad.returncode != 0
    assert "must be 1-64 lower-case letters, digits or hyphens" in bad.stderr, bad.stderr


def test_a_blog_from_the_command_line_takes_the_default_language_and_zone(
    redis_url: str,
) -> None:
    """LIVEBLOG_DEFAULT_LANGUAGE and LIVEBLOG_DEFAULT_TIME_ZONE hold for `liveblog blog create`
    as for the API: the blog's pages then speak French, in Paris time."""
    made = liveblog(
        "blog", "create", "en-direct", "--title", "En direct", redis_url=redis_url,
        LIVEBLOG_DEFAULT_LANGUAGE="fr", LIVEBLOG_DEFAULT_TIME_ZONE="Europe/Paris",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    blog = json.loads(made.stdout)
    assert (blog["language"], blog["time_zone"]) == ("fr", "Europe/Paris")

    server = ServerProcess({"LIVEBLOG_REDIS_URL": redis_url})
    server.start()
    try:
        stored = httpx.get(f"{server.url}/api/blogs/en-direct").json()
        page = httpx.get(f"{server.url}/blogs/en-direct").text
    finally:
        server.stop()
    assert (stored["language"], stored["time_zone"]) == ("fr", "Europe/Paris")
    assert '<html lang="fr"' in page


def test_memory_engine_refuses_what_it_cannot_do() -> None:
    # The memory engine lives in the server: the token is asked of its API, here not running.
    result = liveblog(
        "token", "create", "--name", "x", "--url", "http://127.0.0.1:9", redis_url=None
    )
    assert result.returncode != 0 and "LIVEBLOG_ADMIN_TOKEN" in result.stderr
    result = liveblog("blog", "create", "x", "--title", "X", redis_url=None)
    assert result.returncode != 0 and "LIVEBLOG_REDIS_URL" in result.stderr
    result = liveblog("serve", "--workers", "2", redis_url=None)
    assert result.returncode != 0 and "single-process" in result.stderr


def test_settings_from_environment() -> None:
    settings = Settings.from_env(
        {"LIVEBLOG_HISTORY_SIZE": "50", "LIVEBLOG_DEMO": "off", "LIVEBLOG_REDIS_URL": ""}
    )
    assert settings.history_size == 50 and settings.demo is False
    assert settings.engine_name == "memory"
    with pytest.raises(ValueError, match="LIVEBLOG_HEARTBEAT_SECONDS"):
        Settings.from_env({"LIVEBLOG_HEARTBEAT_SECONDS": "soon"})
    with pytest.raises(ValueError, match="LIVEBLOG_REDIS_MAX_CONNECTIONS must be at least 1"):
        Settings.from_env({"LIVEBLOG_REDIS_MAX_CONNECTIONS": "0"})
    tuned = Settings.from_env(
        {"LIVEBLOG_REDIS_MAX_CONNECTIONS": "16", "LIVEBLOG_CHANNEL_LINGER_SECONDS": "5"}
    )
    assert (tuned.redis_max_connections, tuned.channel_linger_seconds) == (16, 5.0)


def test_the_demos_curl_at_start_up_reaches_this_very_server(tmp_path: Path) -> None:
    """`liveblog serve` on any port: the start-up log's ready-to-paste curl posts to it."""
    port = free_port()
    env = {**os.environ, "LIVEBLOG_REDIS_URL": "", "LIVEBLOG_ADMIN_TOKEN": "", "LIVEBLOG_DEMO": "1"}
    log = (tmp_path / "serve.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "liveblog", "serve", "--host", "0.0.0.0", "--port", str(port)],
        env=env, stderr=log, stdout=log,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while "Post with: curl" not in (text := (tmp_path / "serve.log").read_text()):
            assert process.poll() is None and time.monotonic() < deadline, text
            time.sleep(0.05)
        command = text.split("Post with: ", 1)[1].splitlines()[0]
        assert f"http://localhost:{port}/api/blogs/demo/entries" in command
        # The line is logged while the app starts, just before the socket listens: pasted by a
        # person, it comes later than that.
        while not _accepts(port):
            assert process.poll() is None and time.monotonic() < deadline, text
            time.sleep(0.05)
        posted = subprocess.run(
            ["bash", "-c", command + " -s -o /dev/null -w '%{http_code}'"],
            capture_output=True, text=True, timeout=20,
        )  # fmt: skip
        assert posted.stdout == "201", posted.stderr
        timeline = httpx.get(f"http://127.0.0.1:{port}/api/blogs/demo/entries").json()
        assert timeline["entries"][0]["headline"] == "Hello"
    finally:
        process.terminate()
        process.wait(15)
        log.close()


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def test_the_address_a_shell_reaches() -> None:
    from liveblog.ops.demo import address

    assert address("127.0.0.1", 8001) == "http://127.0.0.1:8001"
    assert address("0.0.0.0", 80) == "http://localhost:80"
    assert address("::", 8000) == "http://localhost:8000"
    assert address("::1", 8000) == "http://[::1]:8000"
    assert address("news.example", 8080) == "http://news.example:8080"


def test_sentinel_settings() -> None:
    settings = Settings.from_env(
        {"LIVEBLOG_REDIS_SENTINELS": "s1:26379, 10.0.0.2:26380,[::1]:26381"}
    )
    assert settings.sentinel_addresses() == [("s1", 26379), ("10.0.0.2", 26380), ("::1", 26381)]
    assert settings.redis_sentinel_master == "mymaster"
    assert settings.engine_name == "redis"  # several workers are allowed
    for wrong in ("s1", "s1:port", "s1:26379,", ":26379"):
        with pytest.raises(ValueError, match="LIVEBLOG_REDIS_SENTINELS must list host:port"):
            Settings.from_env({"LIVEBLOG_REDIS_SENTINELS": wrong})
    with pytest.raises(ValueError, match="do not go together"):
        Settings.from_env({"LIVEBLOG_REDIS_SENTINELS": "s1:1", "LIVEBLOG_REDIS_CLUSTER": "1"})


def test_settings_that_cannot_work_stop_the_server_naming_them() -> None:
    for variable, value in (
        ("LIVEBLOG_LOG_FORMAT", "xml"),
        ("LIVEBLOG_SHUTDOWN_GRACE_SECONDS", "-1"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "liveblog", "serve"],
            env={**os.environ, variable: value},
            capture_output=True,
            text=True,
        )
        assert result.returncode == 1 and variable in result.stderr, result.stderr


def test_every_setting_is_in_the_readme_and_the_operations_guide() -> None:
    """liveblog/config.py is the one list of settings; the README's table and
    docs/operations.md mirror it, so an operator finds every variable there."""
    root = Path(__file__).resolve().parents[1]
    for document in ("README.md", "docs/operations.md"):
        text = (root / document).read_text()
        missing = [
            name
            for field in dataclasses.fields(Settings)
            if f"`{(name := 'LIVEBLOG_' + field.name.upper())}`" not in text
        ]
        assert missing == [], f"{document} does not list {missing}"
