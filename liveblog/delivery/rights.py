"""Streams opened with a token keep its rights only as long as the token has them.

A stream that needed a token carries a :class:`Grant`: the token (by the hash it is stored
under), when it expires, and the right the stream needs (a test of the token, such as "may edit
this blog"). Readers' streams carry none and cost nothing here: nothing on the fan-out path
looks at grants.

A held stream ends, with a last message that says why, when its token

- expires: a timer per held stream, at the token's ``expires_at`` (no store read needed);
- is revoked or changed (role, blogs): the engine publishes every token change on its control
  channel (``TOKEN_CHANGES``) to every process, and :class:`Rights` reads that token again and
  ends each of this process's streams whose right is gone. While the subscription was down,
  changes may have been missed: after every (re)connect every held token is read again.

A stream is also checked once just after it is held: a revoke published between the request's
authentication and the hold would otherwise go unseen.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Literal

import msgspec

from liveblog.delivery.connections import Connection, Notice
from liveblog.delivery.tokens import TokenCache
from liveblog.engine.base import EngineError, Tokens
from liveblog.models import Token, utcnow
from liveblog.supervisor import Supervisor

logger = logging.getLogger("liveblog.delivery.rights")

Reason = Literal["revoked", "expired", "changed"]
# What a client is told, in the last message of its stream (docs/api.md).
ACCESS_ENDED = "access.ended"
MESSAGES: dict[Reason, str] = {
    "revoked": "The token was revoked: sign in again.",
    "expired": "The token expired: sign in again.",
    "changed": "The token no longer has access to this: sign in again.",
}
# Expiry timers are armed at most this far ahead and re-armed when they fire early.
_MAX_TIMER_SECONDS = 24 * 3600.0


@dataclasses.dataclass(frozen=True, slots=True)
class Grant:
    """The token right a stream holds."""

    token_hash: str
    expires_at: datetime | None
    allows: Callable[[Token], bool]  # the right the stream needs, tested on the current token
    blog: str | None = None  # named in the last message


class _Ended(msgspec.Struct):
    type: str
    blog: str | None
    data: dict[str, str]


def notice(reason: Reason, blog: str | None) -> Notice:
    """The last message of a stream whose token lost its right."""
    data = {"reason": reason, "message": MESSAGES[reason]}
    return Notice(ACCESS_ENDED, msgspec.json.encode(_Ended(ACCESS_ENDED, blog, data)))


def verdict(grant: Grant, token: Token | None, now: datetime) -> Reason | None:
    """Why a stream may no longer run on ``token`` (as stored now), or None if it may."""
    if token is None:
        return "revoked"
    if token.expires_at is not None and now >= token.expires_at:
        return "expired"
    if not grant.allows(token):
        return "changed"
    return None


class Rights:
    """This process's streams held by tokens, by token; ends them when their right ends."""

    def __init__(self, engine: Tokens, supervisor: Supervisor) -> None:
        self.engine = engine
        self.supervisor = supervisor
        self._held: dict[str, set[Connection]] = {}  # token hash -> its streams here
        self._timers: dict[Connection, asyncio.TimerHandle] = {}
        self._due: set[str] = set()  # token hashes to read again
        self._wake = asyncio.Event()
        self.ended: dict[str, int] = dict.fromkeys(MESSAGES, 0)  # streams ended, by reason
        # Tokens requests read lately, forgotten as changes are heard here (api.auth reads it).
        self.tokens = TokenCache()

    def start(self) -> None:
        self.supervisor.loop("rights", self._run)

    # --- streams ------------------------------------------------------------------------

    def hold(self, conn: Connection, grant: Grant) -> None:
        conn.grant = grant
        self._held.setdefault(grant.token_hash, set()).add(conn)
        if grant.expires_at is not None:
            self._arm(conn, grant.expires_at)
        self.changed(grant.token_hash)  # a change published before this hold is seen too

    def release(self, conn: Connection) -> None:
        """The stream ended (for any reason): forget it."""
        grant = conn.grant
        if grant is None:
            return
        held = self._held.get(grant.token_hash)
        if held is not None:
            held.discard(conn)
            if not held:
                del self._held[grant.token_hash]
        timer = self._timers.pop(conn, None)
        if timer is not None:
            timer.cancel()

    @property
    def held(self) -> int:
        return sum(len(streams) for streams in self._held.values())

    def _end(self, conn: Connection, reason: Reason) -> None:
        grant = conn.grant
        self.ended[reason] += 1
        conn.close(reason, notice(reason, grant.blog if grant else None))
        self.release(conn)  # the hub does too (on_close); a stream it never knew is let go here

    # --- expiry ---------------------------------------------------------------------------

    def _arm(self, conn: Connection, expires_at: datetime) -> None:
        seconds = (expires_at - utcnow()).total_seconds()
        loop = asyncio.get_running_loop()
        delay = min(max(seconds, 0.0), _MAX_TIMER_SECONDS)
        self._timers[conn] = loop.call_later(delay, self._expire, conn, expires_at)

    def _expire(self, conn: Connection, expires_at: datetime) -> None:
        self._timers.pop(conn, None)
        if conn.close_reason is not None:
            return
        if utcnow() < expires_at:  # a timer fired a little early, or a long wait goes on
            self._arm(conn, expires_at)
            return
        self._end(conn, "expired")

    # --- revokes and edits ----------------------------------------------------------------

    def changed(self, token_hash: str) -> None:
        """The engine says this token changed: check its streams here again."""
        self.tokens.forget(token_hash)
        if token_hash in self._held:
            self._due.add(token_hash)
            self._wake.set()

    def recheck_all(self) -> None:
        """Token changes may have been missed (the subscription was down): check them all.
        Called on every (re)connect: from now on changes are heard again."""
        self.tokens.reset(live=True)
        if self._held:
            self._due.update(self._held)
            self._wake.set()

    async def _run(self) -> None:
        delay = self.supervisor.first_delay
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._check_due()
            except EngineError as exc:
                # The store is away: try again shortly (the streams stay meanwhile; a
                # revoke is not known until the store answers).
                logger.warning("could not check token rights: %s", exc)
                pause, delay = self.supervisor.backoff(delay)
                await asyncio.sleep(pause)
                self._wake.set()
                continue
            delay = self.supervisor.first_delay

    async def _check_due(self) -> None:
        while self._due:
            token_hash = self._due.pop()
            try:
                token = await self.engine.find_token(token_hash)
            except BaseException:
                self._due.add(token_hash)
                raise
            now = utcnow()
            for conn in list(self._held.get(token_hash, ())):
                grant = conn.grant
                if grant is not None and (reason := verdict(grant, token, now)) is not None:
                    self._end(conn, reason)
