"""The two ways a rule says no, whoever asked (the API answers them 422 and 403)."""

from __future__ import annotations


class NotAllowed(Exception):
    """The token's role does not allow this change (API: 403)."""


class InvalidField(ValueError):
    """A field is acceptable JSON but not acceptable content (API: 422 at ``path``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{message} - at `{path}`")
        self.path = path
        self.message = message
