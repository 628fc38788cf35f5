"""Who may do what: the rules of the three roles (admin, editor, contributor), for every caller.

Each check raises ``NotAllowed`` with the words a person reads (the API answers it 403). The
rules of a change to an entry (a contributor may not publish, nor write notes) are checked
inside that change (``editing``); these are the ones a caller checks before any work.
"""

from __future__ import annotations

from liveblog.editorial.refusals import NotAllowed
from liveblog.models import Entry, Token


def require_admin(token: Token) -> None:
    if token.role != "admin":
        raise NotAllowed("Only an admin token may do this.")


def require_editor_of(token: Token, slug: str) -> None:
    """May work on the blog at all (a contributor: only on entries that wait for review)."""
    if not token.may_edit(slug):
        raise NotAllowed(f"This token may not edit the blog {slug!r}.")


def require_may_change_blog(token: Token) -> None:
    """A blog's title, status, language and zone are its editors' (and admins') to change."""
    if not token.may_publish:
        raise NotAllowed("Only an admin or an editor of this blog may change it.")


def require_may_publish(token: Token, doing: str) -> None:
    """What only an editor or an admin does: ``doing`` says what, e.g. "restores a version"."""
    if not token.may_publish:
        raise NotAllowed(f"Only an editor or an admin {doing}.")


def owns(token: Token, entry: Entry | None) -> bool:
    """The entry is this token's own (a contributor's: the entries it wrote)."""
    return entry is not None and bool(entry.created_by) and entry.created_by == token.id


def may_see_record(token: Token, entry: Entry | None) -> bool:
    """An entry's record (its versions, its delete): a contributor sees its own only."""
    return token.may_publish or owns(token, entry)


def require_may_read_history(token: Token, entry: Entry | None) -> None:
    if not may_see_record(token, entry):
        raise NotAllowed("A contributor may read the history of its own entries only.")


def require_may_edit(token: Token, entry: Entry) -> None:
    """Say it edits an entry (presence): a contributor its own, until they are published."""
    if not token.may_publish and (entry.published or not owns(token, entry)):
        raise NotAllowed("A contributor edits only its own entries, until they are published.")


def require_may_change_entry(token: Token | None, entry: Entry) -> None:
    """Change or delete an entry: a contributor its own that are not published (no token:
    the system, the command line)."""
    if token is not None and not token.may_publish and (entry.published or not owns(token, entry)):
        raise NotAllowed("A contributor may change only its own entries that are not published.")
