"""Each static file's version, and scripts that import their sibling modules by version.

``/static/<path>?v=<version>`` names one content for good, so it is served ``immutable`` and a
returning reader asks for none of it. A module's URL is only as stable as what it imports: the
served form of a script names every sibling module it imports (``import ... from``, ``export
... from``, ``import "..."`` and ``import("...")``) as ``./x.js?v=<x's version>``, so a page's
whole module graph is cached for good, and one edit anywhere in it gives every module that
reaches the edited one a new URL.

A file's version covers everything its bytes as served depend on: the first 12 hex digits of
SHA-256 over the path and content of each file it reaches through its imports, itself included
(its closure). A change in a module a script imports, however deep, changes the script's
version; a change elsewhere (the console's files for a reader's page) changes nothing. Import
cycles are legal in JavaScript and need no special case: a closure is a set. (One hash of the
whole tree would be simpler and as correct, but every deploy would then send every reader every
file again.)

Imports are found in the script minified (``liveblog.pages.minify``), so an import written in a
comment is not one (and is left as written); a specifier is versioned only when it names a file
of the tree (``./`` or ``../``, ending in ``.js``), and the rewriting changes nothing else of
the file. The bytes served under a version therefore depend on nothing outside its closure.
"""

from __future__ import annotations

import dataclasses
import hashlib
import posixpath
import re

from liveblog.pages.minify import minify

# A module specifier in an import: ``from "./x.js"``, ``import "./x.js"``, ``import("./x.js")``.
_SPECIFIER = re.compile(
    r"""(?P<lead>\bfrom\s*|\bimport\s*(?P<call>\(\s*)?)"""
    r"""(?P<quote>["'])(?P<spec>\.{1,2}/[^"'\\\s?#]+\.m?js)(?P=quote)"""
)
VERSION_DIGITS = 12


@dataclasses.dataclass(frozen=True, slots=True)
class Imports:
    """The tree's files a script imports (static/-relative paths, in source order)."""

    static: tuple[str, ...] = ()  # loaded with the script: preloaded from the page
    on_demand: tuple[str, ...] = ()  # import(): loaded when used, never preloaded


def is_script(path: str) -> bool:
    return path.endswith((".js", ".mjs"))


def _resolve(path: str, specifier: str) -> str:
    return posixpath.normpath(posixpath.join(posixpath.dirname(path), specifier))


def imports_of(path: str, body: bytes, tree: dict[str, bytes]) -> Imports:
    """What the script ``path`` imports of ``tree``; nothing for another kind of file."""
    if not is_script(path):
        return Imports()
    code = minify(path, body).decode("utf-8", errors="replace")  # comments are not imports
    static: dict[str, None] = {}
    on_demand: dict[str, None] = {}
    for match in _SPECIFIER.finditer(code):
        target = _resolve(path, match["spec"])
        if target in tree:
            (on_demand if match["call"] else static)[target] = None
    return Imports(tuple(static), tuple(on_demand))


def versions(tree: dict[str, bytes], imports: dict[str, Imports]) -> dict[str, str]:
    """Every file's version: a hash of its closure under ``imports`` (see the module's doc)."""
    digests = {path: hashlib.sha256(body).digest() for path, body in tree.items()}
    found: dict[str, str] = {}
    for path in tree:
        closure, queue = {path}, [path]
        while queue:
            edges = imports.get(queue.pop(), Imports())
            for target in (*edges.static, *edges.on_demand):
                if target not in closure:
                    closure.add(target)
                    queue.append(target)
        digest = hashlib.sha256()
        for member in sorted(closure):
            digest.update(member.encode() + b"\0" + digests[member])
        found[path] = digest.hexdigest()[:VERSION_DIGITS]
    return found


def versioned(path: str, body: bytes, imports: Imports, versions: dict[str, str]) -> bytes:
    """The script ``path`` with each of its ``imports`` carrying that file's version
    (``./reader/i18n.js?v=...``); another kind of file, or one not UTF-8, as it is."""
    targets = {*imports.static, *imports.on_demand}
    if not targets:
        return body
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body

    def with_version(match: re.Match[str]) -> str:
        target = _resolve(path, match["spec"])
        if target not in targets:  # not an import (one in a comment): as written
            return match[0]
        version = versions[target]
        quote = match["quote"]
        return f"{match['lead']}{quote}{match['spec']}?v={version}{quote}"

    return _SPECIFIER.sub(with_version, text).encode("utf-8")
