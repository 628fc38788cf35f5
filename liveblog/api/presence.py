"""Presence: who has a blog open in a console, and what each of them edits.

A console holds the blog's newsroom stream open (``liveblog.api.newsroom``). While it does,
this process keeps a record of that stream in the blog's presence map in the engine, forgotten
``STREAM_TTL`` seconds after its last refresh, and refreshes it every ``REFRESH_SECONDS``: a
console that closes leaves at once; one whose process dies is gone within the TTL and the next
refresh of any other process. What a person edits (``PUT /api/blogs/{slug}/presence``) is one
record per person, kept alive by every process that holds one of that person's consoles, and
dropped with their last console.

Whenever the map changes the engine says so on the blog's newsroom channel; each process then
reads the map and writes ONE ``presence`` event, encoded once, to its own consoles of the blog
(``{"type": "presence", "blog", "data": {"people": [...]}}``, no id: it is not part of the
stream's history). A reader's stream never carries it: the notice reaches only this board.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import datetime

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from liveblog.api import auth
from liveblog.api.body import invalid
from liveblog.api.guards import editor_write, json_body
from liveblog.api.openapi import WRITE, operation
from liveblog.api.responses import json_response
from liveblog.delivery.connections import Connection
from liveblog.delivery.frames import sse_chunk
from liveblog.editorial import roles
from liveblog.engine.base import Engine, EngineError
from liveblog.models import Person, Presence, PresenceUpdate, Token, encoder, utcnow
from liveblog.supervisor import Supervisor

logger = logging.getLogger("liveblog.api.presence")

STREAM_TTL = 15.0  # seconds a console's record outlives its last refresh
REFRESH_SECONDS = 5.0


class _Console(msgspec.Struct):
    """The record of one open console (a newsroom stream): the same bytes at every refresh."""

    token_id: str
    name: str
    avatar_url: str | None
    since: datetime


class _Editing(msgspec.Struct):
    token_id: str
    editing: str
    since: datetime


class _Event(msgspec.Struct):
    type: str
    blog: str
    data: Presence


_console = msgspec.json.Decoder(_Console)
_editing = msgspec.json.Decoder(_Editing)


def _edit_field(token_id: str) -> str:
    return f"e:{token_id}"


def _token_of(field: str) -> str:
    return field.split(":", 2)[1]


def people(records: dict[str, bytes]) -> list[Person]:
    """The people of a presence map: one per person, however many consoles they have open."""
    consoles: dict[str, _Console] = {}
    edits: dict[str, _Editing] = {}
    for field, raw in records.items():
        try:
            if field.startswith("s:"):
                console = _console.decode(raw)
                known = consoles.get(console.token_id)
                if known is None or console.since < known.since:
                    consoles[console.token_id] = console
            elif field.startswith("e:"):
                edit = _editing.decode(raw)
                edits[edit.token_id] = edit
        except msgspec.DecodeError:
            continue  # a record of another version: it expires soon
    found = []
    for token_id, console in consoles.items():
        editing = edits.get(token_id)
        since = editing.since if editing else console.since
        found.append(Person(token_id, console.name, console.avatar_url,
                            editing.editing if editing else None, since))  # fmt: skip
    found.sort(key=lambda person: (person.name.casefold(), person.token_id))
    return found


class PresenceBoard:
    """This process's consoles by blog, their records in the engine, and the ``presence``
    events written to them."""

    def __init__(
        self,
        engine: Engine,
        supervisor: Supervisor,
        *,
        ttl: float = STREAM_TTL,
        refresh: float = REFRESH_SECONDS,
    ) -> None:
        self.engine = engine
        self.supervisor = supervisor
        self.ttl = ttl
        self.refresh = refresh
        self._consoles: dict[str, dict[Connection, tuple[str, bytes]]] = {}
        self._records: dict[str, dict[str, bytes]] = {}  # the map of each blog, as last read
        self._shown: dict[str, bytes] = {}  # the event last written to the blog's consoles
        # One engine call at a time per blog: results are shown in the order they were read.
        self._locks: dict[str, asyncio.Lock] = {}
        self._reading: set[str] = set()
        self._stale: set[str] = set()

    # --- consoles ------------------------------------------------------------------------

    async def join(self, slug: str, conn: Connection, token: Token) -> None:
        """A console opened the blog: its record goes into the map; it gets the people."""
        field = f"s:{token.id}:{secrets.token_hex(8)}"
        record = _Console(token.id, token.name, token.avatar_url, utcnow())
        self._consoles.setdefault(slug, {})[conn] = (field, encoder.encode(record))
        await self._update(slug, conn, put={field: (self.ttl, encoder.encode(record))})

    def leave(self, slug: str, conn: Connection) -> None:
        """A console closed: it leaves the map now (not at its record's expiry)."""
        consoles = self._consoles.get(slug)
        found = consoles.pop(conn, None) if consoles is not None else None
        if consoles is not None and not consoles:
            self._forget(slug)
        if found is not None:
            self.supervisor.spawn("presence", self._drop(slug, found[0]))

    def _forget(self, slug: str) -> None:
        self._consoles.pop(slug, None)
        self._records.pop(slug, None)
        self._shown.pop(slug, None)

    async def _drop(self, slug: str, field: str) -> None:
        token_id = _token_of(field)
        try:
            _, records = await self._update(slug, drop=[field])
            if _edit_field(token_id) in records and not any(
                f.startswith(f"s:{token_id}:") for f in records
            ):
                await self._update(slug, drop=[_edit_field(token_id)])  # their last console
        except EngineError as exc:
            logger.warning("presence of a closed console on %s expires by itself: %s", slug, exc)

    async def set_editing(self, slug: str, token: Token, entry_id: str | None) -> list[Person]:
        """What ``token`` edits on the blog now (None: nothing); the people after."""
        field = _edit_field(token.id)
        if entry_id is None:
            _, records = await self._update(slug, drop=[field])
            return people(records)
        since = utcnow()
        known = self._records.get(slug, {}).get(field)
        if known is not None:
            try:
                previous = _editing.decode(known)
                if previous.editing == entry_id:
                    since = previous.since  # the same entry again: editing since then
            except msgspec.DecodeError:
                pass
        value = encoder.encode(_Editing(token.id, entry_id, since))
        _, records = await self._update(slug, put={field: (self.ttl, value)})
        return people(records)

    # --- the map, read and shown ---------------------------------------------------------

    async def _update(
        self,
        slug: str,
        newcomer: Connection | None = None,
        *,
        put: dict[str, tuple[float, bytes]] | None = None,
        drop: list[str] | None = None,
        touch: dict[str, tuple[float, bytes]] | None = None,
    ) -> tuple[bool, dict[str, bytes]]:
        lock = self._locks.setdefault(slug, asyncio.Lock())
        async with lock:
            changed, records = await self.engine.update_presence(slug, put or {}, drop or (), touch)
            self._show(slug, records, newcomer)
        if not lock.locked() and slug not in self._consoles:
            self._locks.pop(slug, None)
        return changed, records

    def notice(self, slug: str) -> None:
        """The hub heard the blog's map change (on any process): read it, show it here."""
        if slug not in self._consoles:
            return
        if slug in self._reading:
            self._stale.add(slug)  # once more after the read under way
            return
        self._reading.add(slug)
        self.supervisor.spawn("presence", self._read(slug))

    async def _read(self, slug: str) -> None:
        try:
            while slug in self._consoles:
                self._stale.discard(slug)
                try:
                    await self._update(slug)
                except EngineError as exc:
                    logger.warning("cannot read the presence of %s: %s", slug, exc)
                    return  # the next refresh reads it again
                if slug not in self._stale:
                    return
        finally:
            self._reading.discard(slug)

    def _show(self, slug: str, records: dict[str, bytes], newcomer: Connection | None) -> None:
        consoles = self._consoles.get(slug)
        if consoles is None:
            return
        self._records[slug] = records
        event = encoder.encode(_Event("presence", slug, Presence(people(records))))
        sse = b"event: presence\ndata: %s\n\n" % event
        payloads = {"sse": sse, "sse_chunk": sse_chunk(sse)}
        if event != self._shown.get(slug):
            self._shown[slug] = event
            targets = list(consoles)
        elif newcomer is not None:
            targets = [newcomer]
        else:
            return
        for conn in targets:
            payload = payloads.get(conn.encoding)
            if payload is not None:
                conn.write_safely(payload)

    # --- refreshing ----------------------------------------------------------------------

    async def run(self) -> None:
        """Every few seconds: this process's consoles stay in the map, and so do the edits of
        their people; expired records of other processes go (and every console hears)."""
        failing = False
        while True:
            await asyncio.sleep(self.refresh)
            for slug in list(self._consoles):
                try:
                    await self._refresh(slug)
                    failing = False
                except EngineError as exc:
                    if not failing:  # once per outage, not every few seconds
                        logger.warning("cannot refresh presence: %s", exc)
                    failing = True

    async def _refresh(self, slug: str) -> None:
        consoles = self._consoles.get(slug, {})
        put = {field: (self.ttl, record) for field, record in consoles.values()}
        here = {_token_of(field) for field, _ in consoles.values()}
        known = self._records.get(slug, {})
        touch = {
            field: (self.ttl, value)
            for field, value in known.items()
            if field.startswith("e:") and _token_of(field) in here
        }
        await self._update(slug, put=put, touch=touch)


@operation(
    "Say what the caller edits now (null: nothing); the people on the blog",
    answer=Presence,
    body=PresenceUpdate,
    auth=True,
    errors=WRITE,
)
async def put_presence(request: Request) -> Response:
    """``PUT /api/blogs/{slug}/presence`` ``{"editing": entry_id | null}`` (any staff token of
    the blog): what the caller edits now. Answers the people on the blog."""
    slug = request.path_params["slug"]
    token = await editor_write(request, slug)
    data, _ = await json_body(request, PresenceUpdate)
    if data.editing is not None:
        entry = await request.app.state.engine.get_entry(slug, data.editing)
        if entry is None:
            raise invalid("$.editing", "is not an entry of this blog")
        auth.allowed(roles.require_may_edit, token, entry)
    board: PresenceBoard = request.app.state.presence
    found = await board.set_editing(slug, token, data.editing)
    return json_response(Presence(found), headers={"Cache-Control": "no-store"})
