"""What liveblog uses below the public API of uvicorn, websockets and redis-py
(liveblog/delivery/private_surfaces.py): every listed surface is there in the installed versions,
the versions are bounded in pyproject.toml, and a missing surface fails safe: the plain path
still behind the request limits (431, 408), or a server that refuses to start."""

from __future__ import annotations

import ast
import asyncio
import functools
import logging
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import liveblog
import liveblog.delivery
from liveblog import serving
from liveblog.config import Settings
from liveblog.delivery import private_surfaces
from liveblog.delivery.guard import GuardedHttpToolsProtocol, HeadLimits
from liveblog.delivery.private_surfaces import (
    CLUSTER,
    FAST_PATH,
    REQUEST_LIMITS,
    SURFACES,
    Surface,
)
from tests.support.clients import Editor, SSEReader, WSReader
from tests.support.metrics import scrape
from tests.support.servers import ServerProcess

ROOT = Path(liveblog.__file__).parent
PYPROJECT = tomllib.loads((ROOT.parent / "pyproject.toml").read_text())


def test_every_listed_surface_is_in_the_installed_versions() -> None:
    assert {surface.feature for surface in SURFACES} == {REQUEST_LIMITS, FAST_PATH, CLUSTER}
    assert [
        (s.path, private_surfaces.missing(s)) for s in SURFACES if private_surfaces.missing(s)
    ] == []
    assert [private_surfaces.check(f) for f in (REQUEST_LIMITS, FAST_PATH, CLUSTER)] == [None] * 3


def test_each_package_with_a_listed_surface_is_bounded_in_pyproject() -> None:
    """An upper bound (the next major or the range tested) on every package the table reaches
    into, and on Starlette, whose ``WebSocket`` and routing the streams build on."""
    bounded = {}
    for requirement in PYPROJECT["project"]["dependencies"]:
        name = requirement.split("[")[0].split(">")[0].split("<")[0].strip()
        bounded[name] = "<" in requirement.split(";")[0]
    packages = {surface.package for surface in SURFACES}
    assert packages == {"uvicorn", "websockets", "redis"}
    assert all(bounded[package] for package in [*packages, "starlette"])
    # What start-up compares the installed versions with is those same bounds.
    assert private_surfaces.tested_ranges().keys() == packages


def test_untested_names_packages_outside_their_tested_bounds() -> None:
    assert private_surfaces.untested() == []  # the versions installed here are the tested ones
    uvicorn_range = private_surfaces.tested_ranges()["uvicorn"]
    first = next(s[2:] for s in uvicorn_range.split(",") if s.startswith(">="))
    last = next(s[1:] for s in uvicorn_range.split(",") if s.startswith("<") and s[1] != "=")
    assert private_surfaces.untested({"uvicorn": first}) == []
    assert private_surfaces.untested({"uvicorn": last}) == [
        f"uvicorn {last} (tested: {uvicorn_range})"
    ]
    older = "0.1.0"
    assert private_surfaces.untested({"uvicorn": older, "redis": "99.0"}) == [
        f"redis 99.0 (tested: {private_surfaces.tested_ranges()['redis']})",
        f"uvicorn {older} (tested: {uvicorn_range})",
    ]
    assert private_surfaces.within("0.52.1", ">=0.52.1,<0.55")
    assert private_surfaces.within("0.54.9", ">=0.52.1,<0.55")
    assert not private_surfaces.within("0.52.0", ">=0.52.1,<0.55")
    assert not private_surfaces.within("0.55.0rc1", ">=0.52.1,<0.55")
    assert private_surfaces.within("17.4", ">=14,<18")


def test_untested_versions_are_logged_at_start_up(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(private_surfaces, "tested_ranges", lambda: {"uvicorn": "<0.1"})
    with caplog.at_level(logging.WARNING, logger="liveblog"):
        serving.protocols(Settings())
    assert any("uvicorn" in r.getMessage() and "tested" in r.getMessage() for r in caplog.records)


def test_a_missing_surface_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    def handle(self: object) -> None:
        self.sock = None  # not "transport"

    module = sys.modules[__name__]
    monkeypatch.setattr(
        module, "OlderProtocol", type("OlderProtocol", (), {"handle": handle}), raising=False
    )
    table = (
        Surface(FAST_PATH, "uvicorn", f"{__name__}:OlderProtocol.handle", "why", ("transport",)),
        Surface(FAST_PATH, "uvicorn", f"{__name__}:OlderProtocol.pause_writing", "why"),
        Surface(FAST_PATH, "websockets", "liveblog.no_such_module:Thing", "why"),
        Surface(REQUEST_LIMITS, "uvicorn", f"{__name__}:OlderProtocol.handle", "why"),
    )
    monkeypatch.setattr(private_surfaces, "SURFACES", table)
    problem = private_surfaces.check(FAST_PATH)
    assert problem is not None
    assert "OlderProtocol.handle transport" in problem
    assert "OlderProtocol.pause_writing" in problem
    assert "websockets" in problem and "module liveblog.no_such_module" in problem
    assert private_surfaces.check(REQUEST_LIMITS) is None


def _lacking(feature: str) -> tuple[Surface, ...]:
    """The real table, and one surface of ``feature`` no installed package has."""
    gone = Surface(feature, "uvicorn", "uvicorn:Server.no_such_method", "a test's")
    return (*SURFACES, gone)


def test_without_the_fast_paths_surface_streams_keep_the_request_limits(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(private_surfaces, "SURFACES", _lacking(FAST_PATH))
    settings = Settings(max_request_head_bytes=4096, request_head_timeout_seconds=2.0)
    with caplog.at_level(logging.WARNING, logger="liveblog"):
        http, ws = serving.protocols(settings)
    assert isinstance(http, functools.partial) and http.func is GuardedHttpToolsProtocol
    assert http.keywords["limits"] == HeadLimits(4096, 100, 2.0)
    assert ws == "websockets-sansio"  # uvicorn's own
    assert any(
        "fast path off" in r.getMessage() and "no_such_method" in r.getMessage()
        for r in caplog.records
    )


def test_a_fast_path_that_cannot_be_imported_leaves_the_limits_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A module the check did not foresee failing to import (say uvicorn moved one)."""
    monkeypatch.delattr(liveblog.delivery, "fastpath", raising=False)
    monkeypatch.setitem(sys.modules, "liveblog.delivery.fastpath", None)
    http, ws = serving.protocols(Settings())
    assert (http.func, ws) == (GuardedHttpToolsProtocol, "websockets-sansio")


@pytest.mark.parametrize("feature", [REQUEST_LIMITS, CLUSTER])
def test_without_the_limits_or_the_clusters_surface_the_server_refuses_to_start(
    feature: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(private_surfaces, "SURFACES", _lacking(feature))
    cluster = Settings(redis_url="redis://127.0.0.1:1/0", redis_cluster=True)
    with caplog.at_level(logging.CRITICAL, logger="liveblog"), pytest.raises(SystemExit) as exit:
        serving.options(cluster)
    assert exit.value.code == 1
    assert any(
        "refusing to start" in r.getMessage() and feature in r.getMessage() for r in caplog.records
    )
    if feature == CLUSTER:  # a server of one Redis does not need the cluster's surface
        serving.options(Settings(redis_url="redis://127.0.0.1:1/0"))


# --- `liveblog serve` itself, on a uvicorn whose surface changed --------------------------------

# Run by the server's interpreter at its start (sitecustomize on PYTHONPATH): one of uvicorn's
# methods swapped for a wrapper that still works but no longer shows the names relied on, as a
# uvicorn release that reorganised it would.
_CHANGED_UVICORN = """
from {module} import {cls} as _Class
_original = _Class.{method}
def {method}(self, *args, **kwargs):
    return _original(self, *args, **kwargs)
_Class.{method} = {method}
"""


def _changed_uvicorn(tmp_path: Path, module: str, cls: str, method: str) -> dict[str, str]:
    (tmp_path / "sitecustomize.py").write_text(
        _CHANGED_UVICORN.format(module=module, cls=cls, method=method)
    )
    return {"PYTHONPATH": str(tmp_path), "LIVEBLOG_REDIS_URL": ""}


async def test_serve_without_the_fast_path_still_answers_431_and_408(tmp_path: Path) -> None:
    env = _changed_uvicorn(
        tmp_path,
        "uvicorn.protocols.websockets.websockets_sansio_impl",
        "WebSocketsSansIOProtocol",
        "handle_connect",
    )
    log = tmp_path / "serve.log"
    process = ServerProcess({**env, "LIVEBLOG_REQUEST_HEAD_TIMEOUT_SECONDS": "1"}, log=log)
    process.start()
    try:
        assert "fast path off" in log.read_text() and "handle_connect" in log.read_text()
        host = urlsplit(process.url).hostname
        port = urlsplit(process.url).port
        # An oversized head: 431.
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n")
        async with asyncio.timeout(10):
            answer = await reader.read()
        writer.close()
        assert answer.startswith(b"HTTP/1.1 431 ")
        # A head that never ends: 408 once its second is up.
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        async with asyncio.timeout(10):
            answer = await reader.read()
        writer.close()
        assert answer.startswith(b"HTTP/1.1 408 ")
        # The streams work, on the plain path.
        editor = Editor(process.url)
        await editor.create_blog("plain")
        readers = [
            await SSEReader(process.url, "/blogs/plain/events").connect(),
            await WSReader(process.url, "/blogs/plain/ws").connect(),
        ]
        await editor.post("plain", headline="still live")
        for stream in readers:
            [event] = await stream.wait_for(1)
            assert event.data["type"] == "entry.created"
        assert (await scrape(editor.http))["liveblog_direct_connections"] == 0
        for stream in readers:
            await stream.close()
        await editor.close()
    finally:
        process.stop()


def test_serve_refuses_to_start_without_the_request_limits(tmp_path: Path) -> None:
    env = _changed_uvicorn(
        tmp_path, "uvicorn.protocols.http.httptools_impl", "HttpToolsProtocol", "on_body"
    )
    log = tmp_path / "serve.log"
    process = ServerProcess(env, log=log)
    process.start(wait=False)
    assert process.process is not None
    assert process.process.wait(20) == 1
    text = log.read_text()
    assert "refusing to start" in text and "request limits" in text and "on_body" in text


# --- who imports the private surfaces ----------------------------------------------------------


def test_only_delivery_imports_uvicorns_protocols_and_only_serving_the_modules_using_them() -> None:
    broken = []
    for path in sorted(ROOT.rglob("*.py")):
        inside = path.is_relative_to(ROOT / "delivery")
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            for name in names:
                private = name.startswith(("uvicorn.protocols", "websockets."))
                users = name in ("liveblog.delivery.fastpath", "liveblog.delivery.guard")
                if (private and not inside) or (
                    users and not inside and path != ROOT / "serving" / "__init__.py"
                ):
                    broken.append(f"{path.relative_to(ROOT.parent)} imports {name}")
    assert broken == []


def test_the_app_and_its_streams_import_without_uvicorns_protocols() -> None:
    """A uvicorn that moved its protocol modules cannot break the import of the app: only the
    start-up check (and then the fast path) reaches them."""
    code = (
        "import sys; sys.modules['uvicorn.protocols'] = None\n"
        "import liveblog.app, liveblog.streams, liveblog.serving, liveblog.cli\n"
        "print(sorted(m for m in sys.modules if m.startswith('liveblog.delivery.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "fastpath" not in out.stdout and "guard" not in out.stdout
