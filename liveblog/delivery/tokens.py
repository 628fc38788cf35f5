"""The tokens this process read lately, kept until the engine says one changed.

A request's token is read from the store once, then kept here: every change and revoke of a
token is published on ``TOKEN_CHANGES``, which the hub hears on its one subscription and
passes on (``Rights.changed``: :meth:`TokenCache.forget`). While that subscription is down a
change could go unheard, so the cache keeps nothing and every request reads the store; after
every (re)connect it starts empty. A read that a change overtook is not kept (the generation
check), so a slow read never brings back a token revoked meanwhile. Unknown tokens are never
kept: a token stored later is not announced.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from liveblog.models import Token

MAX_TOKENS = 10_000  # tokens kept; past it the cache starts again (people, not readers)


class TokenCache:
    def __init__(self, size: int = MAX_TOKENS) -> None:
        self.size = size
        self.live = False  # the hub hears token changes now: what is kept stays true
        self._tokens: dict[str, Token] = {}
        self._generation = 0  # bumped by every change heard, and every reset

    async def find(
        self, token_hash: str, read: Callable[[str], Awaitable[Token | None]]
    ) -> Token | None:
        """The token as kept, or as ``read`` from the store (and then kept, if no change
        came in meanwhile and changes are being heard)."""
        token = self._tokens.get(token_hash)
        if token is not None:
            return token
        generation = self._generation
        token = await read(token_hash)
        if token is not None and self.live and generation == self._generation:
            if len(self._tokens) >= self.size:
                self._tokens.clear()
            self._tokens[token_hash] = token
        return token

    def touched(self, token_hash: str, token: Token) -> None:
        """The kept token's last use was written (no change of its rights)."""
        if token_hash in self._tokens:
            self._tokens[token_hash] = token

    def forget(self, token_hash: str) -> None:
        """The token changed or was revoked."""
        self._generation += 1
        self._tokens.pop(token_hash, None)

    def reset(self, *, live: bool) -> None:
        """Forget every token; ``live``: changes are heard from now on (a (re)connect), or
        no longer (the subscription is down)."""
        self._generation += 1
        self._tokens.clear()
        self.live = live
