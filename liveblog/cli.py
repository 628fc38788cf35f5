"""The ``liveblog`` command: serve, token and blog administration, and a blog's export,
import and static archive."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import urllib.error
import urllib.request

import msgspec
import uvicorn

from liveblog import serving
from liveblog.cli_record import add_record_commands, run_record_command
from liveblog.config import Settings
from liveblog.editorial import blogs, editing, record
from liveblog.editorial.refusals import InvalidField
from liveblog.editorial.tokens import issue_token
from liveblog.engine import make_engine
from liveblog.engine.base import EngineError
from liveblog.models import BlogCreate, TokenCreate, in_words
from liveblog.ops import demo, eviction, logs


def serve(host: str, port: int, workers: int) -> None:
    settings = Settings.from_env()
    if workers > 1 and settings.engine_name == "memory":
        sys.exit(
            "The memory engine is single-process: set LIVEBLOG_REDIS_URL to run several workers."
        )
    logs.configure(settings)
    if settings.engine_name != "memory":
        _preflight(settings)
    serving.raise_file_limit()  # each reader holds a socket; workers inherit the limit
    # Where this server listens, for the demo's ready-to-paste curl (ops/demo.py).
    os.environ[demo.ADDRESS_VARIABLE] = demo.address(host, port)
    options = {**serving.options(settings), "log_config": logs.config(settings)}
    if workers > 1:
        serving.run_workers(
            "liveblog.app:app_from_env", factory=True, host=host, port=port, workers=workers,
            **options,
        )  # fmt: skip
        return
    uvicorn.run("liveblog.app:app_from_env", factory=True, host=host, port=port, **options)


def _preflight(settings: Settings) -> None:
    """Before serving: wait until Redis answers (compose may start it after us), then refuse
    one that could evict keys, in one line (liveblog.ops.eviction)."""
    try:
        policies, where = asyncio.run(_read_policies(settings))
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    logger = logging.getLogger("liveblog")
    if policies.evicting and not settings.allow_evicting_redis:
        logger.critical("%s", policies.refusal(where))
        raise SystemExit(1)
    if policies.evicting:
        logger.warning("%s (allowed)", policies.refusal(where))
    policies.warn_unknown()


async def _read_policies(settings: Settings) -> tuple[eviction.Policies, str]:
    engine = make_engine(settings)
    try:
        return await eviction.wait_and_read(engine), engine.describe()
    finally:
        await engine.close()


async def _create_token(request: TokenCreate) -> None:
    engine = make_engine(Settings.from_env())
    try:
        created = await issue_token(engine, request, by=record.COMMAND_LINE)
    finally:
        await engine.close()
    print(msgspec.json.encode(created).decode())


def _create_token_through(url: str, admin_token: str | None, request: TokenCreate) -> None:
    """Issue the token through a running server's API (POST /api/tokens): the only way into
    the memory engine, which lives inside that server."""
    if not admin_token:
        sys.exit("liveblog: set LIVEBLOG_ADMIN_TOKEN to the server's admin token.")
    call = urllib.request.Request(
        url.rstrip("/") + "/api/tokens",
        data=msgspec.json.encode(request),
        method="POST",
        headers={"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(call, timeout=10) as response:
            print(response.read().decode())
    except urllib.error.HTTPError as exc:
        sys.exit(f"liveblog: {url} answered {exc.code}: {exc.read().decode(errors='replace')}")
    except OSError as exc:
        sys.exit(
            f"liveblog: cannot reach the server at {url} ({exc}); is `liveblog serve` running?"
        )


async def _create_blog(slug: str, title: str, description: str) -> None:
    settings = Settings.from_env()
    engine = make_engine(settings)
    try:
        data = msgspec.convert(
            {"slug": slug, "title": title, "description": description}, BlogCreate
        )
        defaults = blogs.Defaults.of(settings)
        blog = await editing.create_blog(engine, data, by=record.COMMAND_LINE, defaults=defaults)
    finally:
        await engine.close()
    print(msgspec.json.encode(blog).decode())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="liveblog", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    p_serve = commands.add_parser("serve", help="run the server")
    p_serve.add_argument("--host", default="127.0.0.1")
    p_serve.add_argument("--port", type=int, default=8000)
    p_serve.add_argument("--workers", type=int, default=1)

    p_token = commands.add_parser("token", help="manage tokens").add_subparsers(
        dest="action", required=True
    )
    p_create_token = p_token.add_parser("create", help="issue a token (printed once)")
    p_create_token.add_argument("--name", required=True)
    p_create_token.add_argument(
        "--role", choices=["admin", "editor", "contributor"], default="editor"
    )
    p_create_token.add_argument(
        "--blog", action="append", dest="blogs", help="a blog it may edit (repeat); default: all"
    )
    p_create_token.add_argument("--avatar-url", help="an https:// picture shown with bylines")
    p_create_token.add_argument(
        "--url",
        default=os.environ.get("LIVEBLOG_URL"),
        help="issue it through this running server's API, with LIVEBLOG_ADMIN_TOKEN (default:"
        " $LIVEBLOG_URL; on the memory engine, http://127.0.0.1:8000)",
    )

    p_blog = commands.add_parser("blog", help="manage blogs").add_subparsers(
        dest="action", required=True
    )
    p_create_blog = p_blog.add_parser("create", help="create a blog")
    p_create_blog.add_argument("slug")
    p_create_blog.add_argument("--title", required=True)
    p_create_blog.add_argument("--description", default="")
    add_record_commands(commands)

    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValueError as exc:  # a setting that cannot work: say which, without a traceback
        sys.exit(f"liveblog: {exc}")
    if args.command == "serve":
        serve(args.host, args.port, args.workers)
        return
    if args.command in ("export", "import", "archive"):
        run_record_command(args, settings)
        return
    if args.command == "token":
        try:
            request = msgspec.convert(
                {"name": args.name, "role": args.role, "blogs": args.blogs,
                 "avatar_url": args.avatar_url},
                TokenCreate,
            )  # fmt: skip
        except msgspec.ValidationError as exc:
            sys.exit(f"liveblog: {in_words(exc)}")
        url = args.url or ("http://127.0.0.1:8000" if settings.engine_name == "memory" else None)
        if url:
            _create_token_through(url, settings.admin_token, request)
            return
    if settings.engine_name == "memory":
        sys.exit("Set LIVEBLOG_REDIS_URL: the memory engine lives inside a running server only.")
    try:
        if args.command == "token":
            asyncio.run(_create_token(request))
        else:
            asyncio.run(_create_blog(args.slug, args.title, args.description))
    except msgspec.ValidationError as exc:
        sys.exit(f"liveblog: {in_words(exc)}")
    except (EngineError, InvalidField) as exc:
        sys.exit(f"liveblog: {exc}")
