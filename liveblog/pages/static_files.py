"""The pages' static files, held in memory: each file's bytes, version, compressed forms and
response headers, ready to send.

``web/static/`` is part of the package: it does not change while a process runs (a deploy
starts new processes). So it is read once per process (``static_files()``, when the app is
made: 31 files, ~240 KB, ~10 ms) into a table by path, and a request for a file is a dict
lookup and a write: no thread, no ``stat``, no path resolution. Scripts are held with their
imports versioned (``liveblog.pages.versions``). Editing a file needs a restart to be served.

Each file's Brotli and gzip forms are made the first time a client asks for that coding, in a
worker thread and once however many ask at once (scripts and stylesheets minified first,
``liveblog.pages.minify``, then compressed at the codecs' best), and kept: a coding whose form
would be no smaller is kept as the file itself. Each form has its own strong ETag (a hash of its
bytes), and its response headers are built once, as bytes, the first time they are sent.
Everything held is bounded by the files: three forms each at most (~350 KB in all with every
form made), and a few header lists each.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import mimetypes
from pathlib import Path

from liveblog.pages.assets import STATIC_DIR
from liveblog.pages.minify import minify
from liveblog.pages.versions import Imports, imports_of, is_script, versioned, versions
from liveblog.serving.compression import STORED, compressible, encode

PREFIX = "/static/"
IMMUTABLE = b"public, max-age=31536000, immutable"  # a versioned URL: this content for good
REVALIDATE = b"no-cache"  # any other URL of a file: kept, but asked again with its ETag

Headers = list[tuple[bytes, bytes]]


@dataclasses.dataclass(frozen=True, slots=True)
class Form:
    """One way of sending a file: its body in one coding (``None``: as written)."""

    body: bytes
    coding: str | None
    etag: bytes  # b'"<hash>"'

    @classmethod
    def of(cls, body: bytes, coding: str | None) -> Form:
        digest = hashlib.sha256(body).hexdigest()[:20]
        return cls(body, coding, f'"{digest}"'.encode())


@dataclasses.dataclass(eq=False, slots=True)
class StaticFile:
    name: str  # its path under web/static/
    plain: Form  # as written (a script's imports versioned): no coding, and ranges of it
    version: str
    query: bytes  # b"v=<version>": the query string of its versioned URL
    content_type: bytes
    compressible: bool
    script: bool
    imports: Imports
    coded: dict[str, Form] = dataclasses.field(default_factory=dict)  # by coding, once made
    heads: dict[tuple[str | None, bool, bool, bool], Headers] = dataclasses.field(
        default_factory=dict
    )

    def head(self, form: Form, *, immutable: bool, vary: bool, full: bool = True) -> Headers:
        """The response headers of ``form``, built once: those of a 200 (``full``), or of a
        304 (what a cache needs to refresh what it holds: no type, length or coding)."""
        key = (form.coding, immutable, vary, full)
        head = self.heads.get(key)
        if head is None:
            head = self.heads[key] = self._head(form, immutable=immutable, vary=vary, full=full)
        return head

    def _head(self, form: Form, *, immutable: bool, vary: bool, full: bool) -> Headers:
        # Only what a file needs: a document's policies (CSP, Referrer-Policy, X-Frame-Options)
        # govern a document, and the page's apply to what it loads; no Last-Modified, the ETag
        # revalidates.
        head: Headers = []
        if full:
            head.append((b"content-type", self.content_type))
            head.append((b"content-length", str(len(form.body)).encode()))
            if form.coding is not None:
                head.append((b"content-encoding", form.coding.encode()))
            else:
                head.append((b"accept-ranges", b"bytes"))  # ranges of the file as written
        head.append((b"etag", form.etag))
        head.append((b"cache-control", IMMUTABLE if immutable else REVALIDATE))
        if vary:
            head.append((b"vary", b"Accept-Encoding"))
        # A script or stylesheet served under another type is refused, not guessed at.
        head.append((b"x-content-type-options", b"nosniff"))
        if self.script:
            # Public files. Module scripts are fetched in CORS mode, and a frame a host page
            # sandboxes (WordPress's oEmbed frames) has no origin of its own: it needs this to
            # run them. Stylesheets and icons load without CORS.
            head.append((b"access-control-allow-origin", b"*"))
        return head


class StaticFiles:
    """Every file of a static directory by its path there, with its coded forms."""

    def __init__(self, files: dict[str, StaticFile]) -> None:
        self.files = files
        self._flights: dict[tuple[str, str], asyncio.Future[Form]] = {}
        self.made = 0  # compressions run (tests count them)

    @classmethod
    def load(cls, directory: Path) -> StaticFiles:
        tree = {
            path.relative_to(directory).as_posix(): path.read_bytes()
            for path in sorted(directory.rglob("*"))
            if path.is_file() and not path.name.startswith(".")
        }
        imports = {name: imports_of(name, body, tree) for name, body in tree.items()}
        version_of = versions(tree, imports)
        files = {}
        for name, body in tree.items():
            kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
            if kind.startswith("text/"):
                kind += "; charset=utf-8"
            files[name] = StaticFile(
                name=name,
                plain=Form.of(versioned(name, body, imports[name], version_of), None),
                version=version_of[name],
                query=f"v={version_of[name]}".encode(),
                content_type=kind.encode(),
                compressible=compressible(kind),
                script=is_script(name),
                imports=imports[name],
            )
        return cls(files)

    def url(self, name: str) -> str:
        """``/static/<name>?v=<version>``; a file that does not exist without one."""
        file = self.files.get(name)
        return f"{PREFIX}{name}" if file is None else f"{PREFIX}{name}?v={file.version}"

    def preloads(self, entry: str) -> list[str]:
        """The versioned URLs of the module script ``entry`` and of every module it imports,
        however deep (not those imported on demand): the URLs the browser resolves its
        imports to, so each preload is the very module the script then imports."""
        names, queue = [entry], [entry]
        while queue:
            file = self.files.get(queue.pop(0))
            for name in file.imports.static if file is not None else ():
                if name not in names:
                    names.append(name)
                    queue.append(name)
        return [self.url(name) for name in names]

    def size(self) -> int:
        """Bytes held in bodies: every file as written and each form made so far."""
        return sum(
            len(file.plain.body) + sum(len(form.body) for form in file.coded.values())
            for file in self.files.values()
        )

    async def coded(self, file: StaticFile, coding: str) -> Form:
        """``file`` in ``coding`` (as written if that is no smaller), made on first use."""
        form = file.coded.get(coding)
        if form is not None:
            return form
        key = (file.name, coding)
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(asyncio.to_thread(self._make, file, coding))
            self._flights[key] = flight
            flight.add_done_callback(lambda done: self._landed(file, coding, done))
        return await asyncio.shield(flight)

    def _make(self, file: StaticFile, coding: str) -> Form:
        body = encode(minify(file.name, file.plain.body), coding, STORED)
        self.made += 1
        return Form.of(body, coding) if len(body) < len(file.plain.body) else file.plain

    def _landed(self, file: StaticFile, coding: str, done: asyncio.Future[Form]) -> None:
        self._flights.pop((file.name, coding), None)
        if not done.cancelled() and done.exception() is None:
            file.coded[coding] = done.result()


@functools.cache
def static_files() -> StaticFiles:
    """The package's files (``web/static/``), read once per process."""
    return StaticFiles.load(STATIC_DIR)
