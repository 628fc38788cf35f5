"""Fuzzing: the API by its own OpenAPI document, and the streams by a corpus of what a hostile or
broken client can send. Every answer is clean (never a 5xx; problem+json for API errors; a
reset, an error message or a close code on the streams), and the server stays healthy after."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from schemathesis import GenerationMode

from tests.conftest import make_settings
from tests.support import fuzzing
from tests.support.clients import Editor
from tests.support.metrics import scrape
from tests.support.servers import ADMIN_TOKEN, ServerProcess, serve_in_process

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
EXAMPLES = 25  # per operation, mode and set of path parameters: ~1,500 requests in all


def fuzz_api(base_url: str, known: dict[str, str]) -> fuzzing.Report:
    """Every operation: schemathesis's coverage cases, then generated valid and invalid
    requests, first with generated path parameters (mostly unknown blogs and entries), then
    with ``known`` ones (the seeded blog, entry and token), so bodies reach the store."""
    report = fuzzing.Report()
    fuzzer = fuzzing.Fuzzer(base_url, ADMIN_TOKEN, report)
    for op in fuzzing.operations(fuzzing.load(base_url)):
        fuzzer.coverage(op)
        fixed = {name: value for name, value in known.items() if f"{{{name}}}" in op.path}
        for mode in GenerationMode:
            fuzzer.generated(op, mode, EXAMPLES)
            if fixed:
                fuzzer.generated(op, mode, EXAMPLES, **fixed)
    return report


async def assert_healthy(client: httpx.AsyncClient) -> dict[str, float]:
    assert (await client.get("/readyz")).status_code == 200
    samples = await scrape(client)
    errors = {k: v for k, v in samples.items() if k.startswith("liveblog_task_errors_total")}
    assert not any(errors.values()), errors
    return samples


async def test_fuzzing_the_api_finds_no_server_error_and_only_problem_json(
    server_process: Callable[..., ServerProcess],
) -> None:
    server = server_process()  # `liveblog serve` on the suite's Redis
    async with httpx.AsyncClient(base_url=server.url, headers=AUTH, timeout=10) as client:
        blog = await client.post("/api/blogs", json={"slug": "fuzz", "title": "Fuzz"})
        entry = await client.post("/api/blogs/fuzz/entries", json={"body": "<p>first</p>"})
        token = await client.post("/api/tokens", json={"name": "fuzz", "role": "editor"})
        assert [r.status_code for r in (blog, entry, token)] == [201, 201, 201]
        known = {"slug": "fuzz", "entry_id": entry.json()["id"], "token_id": token.json()["id"]}

        report = await asyncio.to_thread(fuzz_api, server.url, known)

        failures = "\n\n".join(f"{label}: {kind}\n{detail}" for (label, kind), detail in
                               sorted(report.failures.items()))  # fmt: skip
        assert not failures, failures
        document = (await client.get("/api/openapi.json")).json()
        labels = {f"{m.upper()} {p}" for p, ops in document["paths"].items() for m in ops
                  if m != "parameters"}  # fmt: skip
        assert set(report.statuses) == labels
        # Each operation also succeeded: the fuzzing got past the token and reached the store.
        for label, statuses in report.statuses.items():
            assert any(200 <= status < 300 for status in statuses), (label, statuses)
        assert report.requests > 1000
        await assert_healthy(client)


# --- what the fuzzing found in the API ------------------------------------------------------


@pytest.fixture
async def url(redis_url: str) -> AsyncIterator[str]:
    async with serve_in_process(make_settings(redis_url)) as base_url:
        yield base_url


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == fuzzing.PROBLEM
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


async def test_a_method_a_path_does_not_take_is_405_problem_json_with_every_allowed(
    url: str,
) -> None:
    async with httpx.AsyncClient(base_url=url, headers=AUTH) as client:
        for method, path, allowed in [
            ("DELETE", "/api/blogs", {"GET", "HEAD", "POST"}),
            ("PUT", "/api/blogs/x", {"GET", "HEAD", "PATCH"}),
            ("POST", "/api/blogs/x/entries/y", {"GET", "HEAD", "PATCH", "DELETE"}),
            ("GET", "/api/tokens/x", {"DELETE"}),
        ]:
            response = await client.request(method, path)
            assert_problem(response, 405)
            assert set(response.headers["allow"].split(", ")) == allowed, path
        assert_problem(await client.get("/api/nothing-here"), 404)
        # Outside /api, Starlette's plain answers stay (pages have their own 404s).
        response = await client.delete("/healthz")
        assert response.status_code == 405 and response.headers["content-type"].startswith(
            "text/plain"
        )


async def test_a_garbled_if_match_on_a_missing_entry_is_404_not_412(url: str) -> None:
    editor = Editor(url)
    await editor.create_blog("ifm")
    entry = await editor.post("ifm")
    for value in ("", "garbage", '"²"'):
        headers = {"If-Match": value.encode()}
        missing = await editor.http.patch("/api/blogs/ifm/entries/nope", json={}, headers=headers)
        assert_problem(missing, 404)
        present = f"/api/blogs/ifm/entries/{entry['id']}"
        assert_problem(await editor.http.patch(present, json={}, headers=headers), 412)
    await editor.close()
