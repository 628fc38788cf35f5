"""What a script or stylesheet becomes before it is compressed: the same code without its
comments and layout.

The files in ``web/static/`` are written to be read (comments that say why, one statement a
line); a phone needs none of that. ``liveblog.pages.static`` minifies each file once, together
with compressing it, so nothing is built before the server runs and the files stay the source.
rJSmin and rCSSmin only drop comments and whitespace (no renaming, no rewriting), the semantics
of Crockford's jsmin, which keeps a line break wherever JavaScript's semicolon insertion needs
one; template literals pass through untouched.
"""

from __future__ import annotations

import rcssmin
import rjsmin


def minify(path: str, body: bytes) -> bytes:
    """``body`` of the file at ``path`` minified; as it is for another kind of file, or one
    that is not UTF-8 text (served as written rather than guessed at)."""
    if path.endswith((".js", ".mjs")):
        minifier = rjsmin.jsmin
    elif path.endswith(".css"):
        minifier = rcssmin.cssmin
    else:
        return body
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    minified: str = minifier(text)  # rjsmin and rcssmin ship no type hints
    return minified.encode("utf-8")
