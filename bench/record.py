"""The record's costs (issue 21): what a revision costs in Redis, and how long a blog of
10,000 entries takes to export and to import.

- ``storage``: ``--entries`` entries (~600 bytes of HTML, a headline, a byline, a photo) each
  saved ``--versions`` times; the Redis ``MEMORY USAGE`` of each entry's history, per version,
  as stored (zlib where it is smaller) and as plain JSON would be, beside the entry's own
  stored JSON; and an audit event's share of its stream.
- ``transfer``: a blog of ``--blog-entries`` entries (one in five edited once more) exported
  from one private Redis to a file, imported into a second, fresh one, exported again (the two
  files must be the same). Both through the engine, as ``liveblog export`` / ``import`` on
  ``LIVEBLOG_REDIS_URL`` do; the file's size too.

Every Redis is a private ``redis-server`` on a free port, without persistence, stopped after.

    .venv/bin/python bench/record.py                      # both, 10,000 entries: ~1-2 minutes
    .venv/bin/python bench/record.py storage --entries 200 --versions 5
    .venv/bin/python bench/record.py transfer --blog-entries 10000 --json /tmp/record.json
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from payload import html_body
from targets import RedisServer

from liveblog.config import Settings
from liveblog.editorial import editing, record, transfer
from liveblog.engine import make_engine
from liveblog.engine.base import Engine
from liveblog.models import (
    BlogCreate,
    EntryCreate,
    EntryPatch,
    Media,
    Token,
    encoder,
)

EDITOR = Token("Bench Editor", "editor", None, id="benchbench01")
PHOTO = Media(
    url="https://images.example/summit/arrival.jpg", caption="Delegates arrive",
    credit="Bench Photographer", alt="Delegates walk in", width=1600, height=900,
)  # fmt: skip


def entry(n: int) -> EntryCreate:
    return EntryCreate(
        headline=f"Summit talks, update {n}: delegates reach the second session",
        body=html_body(600), author="Bench Reporter", labels=["summit"], media=[PHOTO],
    )  # fmt: skip


async def post_many(engine: Engine, slug: str, count: int, edits_every: int = 0) -> list[str]:
    ids: list[str] = []
    lanes = asyncio.Semaphore(16)

    async def one(n: int) -> None:
        async with lanes:
            raw, *_ = await editing.create_entry(engine, slug, entry(n), token=EDITOR)
            entry_id: str = json.loads(raw)["id"]
            ids.append(entry_id)
            if edits_every and n % edits_every == 0:
                patch = EntryPatch(body=html_body(600) + "<p>Updated.</p>")
                await editing.update_entry(engine, slug, entry_id, patch, None, token=EDITOR)

    await asyncio.gather(*(one(n) for n in range(count)))
    return ids


def engine_on(url: str) -> Engine:
    return make_engine(Settings(redis_url=url, demo=False, max_revisions=1000))


async def storage(args: argparse.Namespace) -> dict[str, Any]:
    server = RedisServer()
    server.start()
    engine = engine_on(server.url)
    client = aioredis.Redis.from_url(server.url)
    try:
        await editing.create_blog(engine, BlogCreate(slug="cost", title="Cost"))
        ids = await post_many(engine, "cost", args.entries)
        for n in range(2, args.versions + 1):
            for entry_id in ids:
                patch = EntryPatch(body=html_body(600) + f"<p>Update {n}.</p>")
                await editing.update_entry(engine, "cost", entry_id, patch, None, token=EDITOR)
        stored, plain, own = [], [], []
        for entry_id in ids:
            key = f"lb:{{cost}}:rev:{entry_id}"
            versions = await client.llen(key)
            stored.append(await client.memory_usage(key, samples=0) / versions)
            # The same history as plain JSON, for comparison.
            raw = [
                encoder.encode(record.decode_revision(r)) for r in await client.lrange(key, 0, -1)
            ]
            await client.rpush(f"bench:plain:{entry_id}", *raw)
            plain.append(await client.memory_usage(f"bench:plain:{entry_id}", samples=0) / versions)
            own.append(await client.hstrlen("lb:{cost}:entries", entry_id))
        events = await client.xlen("lb:{cost}:audit")
        audit = await client.memory_usage("lb:{cost}:audit", samples=0)
        return {
            "entries": args.entries,
            "versions_each": args.versions,
            "revision_bytes_per_version": round(statistics.mean(stored)),
            "plain_json_bytes_per_version": round(statistics.mean(plain)),
            "entry_json_bytes": round(statistics.mean(own)),
            "audit_events": events,
            "audit_bytes_per_event": round(audit / events),
        }
    finally:
        await client.aclose()
        await engine.close()
        server.stop()


async def export_to(engine: Engine, slug: str, path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    size = 0
    with path.open("wb") as out:
        async for line in await transfer.export_blog(engine, slug):
            out.write(line)
            size += len(line)
    return time.perf_counter() - start, size


async def transfer_run(args: argparse.Namespace) -> dict[str, Any]:
    source, target = RedisServer(), RedisServer()
    source.start()
    target.start()
    here, there = engine_on(source.url), engine_on(target.url)
    folder = Path(tempfile.mkdtemp(prefix="bench-record-"))
    try:
        await editing.create_blog(here, BlogCreate(slug="big", title="A long night"))
        began = time.perf_counter()
        await post_many(here, "big", args.blog_entries, edits_every=5)
        setup = time.perf_counter() - began
        first, again = folder / "first.ndjson", folder / "again.ndjson"
        export_s, size = await export_to(here, "big", first)

        def lines() -> Any:
            async def read() -> Any:
                with first.open("rb") as file:
                    for line in file:
                        if line.strip():
                            yield line.rstrip(b"\n")

            return read()

        began = time.perf_counter()
        imported = await transfer.import_blog(there, lines, by=record.COMMAND_LINE)
        import_s = time.perf_counter() - began
        await export_to(there, "big", again)
        same = (
            hashlib.sha256(first.read_bytes()).digest()
            == hashlib.sha256(again.read_bytes()).digest()
        )
        return {
            "entries": imported.entries,
            "setup_s": round(setup, 2),
            "export_s": round(export_s, 2),
            "import_s": round(import_s, 2),
            "export_bytes": size,
            "round_trip_identical": same,
        }
    finally:
        await here.close()
        await there.close()
        source.stop()
        target.stop()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", nargs="?", choices=["storage", "transfer", "both"], default="both")
    parser.add_argument("--entries", type=int, default=200)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--blog-entries", type=int, default=10_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report: dict[str, Any] = {}
    if args.what in ("storage", "both"):
        report["storage"] = asyncio.run(storage(args))
    if args.what in ("transfer", "both"):
        report["transfer"] = asyncio.run(transfer_run(args))
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
