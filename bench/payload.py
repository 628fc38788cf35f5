"""Event payloads of a realistic size, with the publish time embedded as a findable marker.

Every published entry carries ``#LB<seq>:<time_ns>#`` in its headline. Readers find it with
``bytes.find`` and never decode the JSON; the sequence number catches loss and duplicates, the
time gives publish-to-receive latency (both ends use ``time.time_ns()`` on this machine).

Bodies differ from one entry to the next (``BODIES`` of them in turn), as a live blog's do: a
compressed batch of identical entries would shrink far more than real ones. For bytes on the
wire, give a real text (``source``: paragraphs separated by blank lines, e.g. a live blog's page
saved as text): the built-in sentences repeat, and deflate makes light of repeats.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

MARK = b"#LB"
MARK_END = b"#"

_SENTENCES = (
    "The minister arrived at the summit shortly after nine and spoke briefly to reporters. ",
    "Our correspondent at the scene says the mood among delegates is cautious but hopeful. ",
    "Officials confirmed that the vote has been postponed until the afternoon session. ",
    "Crowds have gathered outside the building, many holding banners and flags. ",
    "A spokesperson declined to comment on reports of a last-minute compromise. ",
)


BODIES = 16  # distinct bodies, used in turn


def paragraphs(source: Path) -> list[str]:
    """The paragraphs of a text file worth an entry (blank-line separated, 80+ characters)."""
    text = source.read_text(encoding="utf-8")
    found = [" ".join(p.split()) for p in text.split("\n\n")]
    found = [p for p in found if len(p) >= 80]
    if not found:
        raise SystemExit(f"{source}: no paragraph of 80 characters or more")
    return found


def bodies(size: int = 600, source: Path | None = None) -> list[str]:
    """``BODIES`` entry bodies of about ``size`` bytes of HTML each, each starting elsewhere in
    the text (``source``'s paragraphs, or the built-in sentences)."""
    texts = paragraphs(source) if source is not None else None
    out = []
    for n in range(BODIES):
        if texts is None:
            out.append(html_body(size, start=n))
            continue
        parts, total, i = [], 0, n * 3
        while total < size:
            part = f"<p>{texts[i % len(texts)]}</p>"
            parts.append(part)
            total += len(part)
            i += 1
        out.append("".join(parts))
    return out


def html_body(size: int = 600, start: int = 0) -> str:
    """An entry body of about ``size`` bytes of allowlisted HTML."""
    parts: list[str] = []
    total = 0
    i = start
    while total < size:
        sentence = _SENTENCES[i % len(_SENTENCES)]
        if i % 3 == 0:
            para = f"<p><strong>Update:</strong> {sentence}</p>"
        elif i % 3 == 1:
            para = f'<p>{sentence}<a href="https://example.org/story/{i}">Read more</a>.</p>'
        else:
            para = f"<blockquote><p><em>{sentence.strip()}</em></p></blockquote>"
        parts.append(para)
        total += len(para)
        i += 1
    return "".join(parts)


def marker(seq: int, t_ns: int) -> bytes:
    return b"%s%d:%d%s" % (MARK, seq, t_ns, MARK_END)


Builder = Callable[[int, int], bytes]


def _split_template(doc: dict[str, object]) -> tuple[bytes, bytes]:
    slot = "@@MARKER@@"
    encoded = json.dumps(doc, separators=(",", ":")).encode()
    before, after = encoded.split(slot.encode())
    return before, after


def liveblog_entry_builder(body_size: int = 600, source: Path | None = None) -> Builder:
    """Body of ``POST /api/blogs/{slug}/entries``: the server turns it into an event."""
    templates = []
    for body in bodies(body_size, source):
        doc = {
            "headline": "Live: @@MARKER@@ summit talks continue",
            "body": body,
            "author": "Bench Reporter",
            "labels": ["bench"],
        }
        templates.append(_split_template(doc))

    def build(seq: int, t_ns: int) -> bytes:
        before, after = templates[seq % len(templates)]
        return before + marker(seq, t_ns) + after

    return build


def event_builder(blog: str = "bench", body_size: int = 600, source: Path | None = None) -> Builder:
    """A whole liveblog event, as a push server without an editorial model is handed it.

    Nchan (and the stub) get the same bytes liveblog puts on the wire for an ``entry.created``
    event of the same POST (every field of the Entry, as ``liveblog.models.Entry`` has them),
    so every target moves events of the same size, and bytes on the wire compare.
    """
    templates = []
    for body in bodies(body_size, source):
        doc = {
            "id": "@@ID@@",
            "type": "entry.created",
            "blog": blog,
            "data": {
                "id": "01jbench00000000",  # 16 characters, as entry ids are
                "blog": blog,
                "version": 1,
                "published_at": "2025-01-01T12:00:00.000000Z",
                "updated_at": None,
                "headline": "Live: @@MARKER@@ summit talks continue",
                "body": body,
                "author": "Bench Reporter",
                "labels": ["bench"],
                "pinned": False,
                "media": [],
                "status": "published",
                "publish_at": None,
                "corrections": [],
                "authors": [{"name": "Bench Reporter", "avatar_url": None}],
                "created_by": "a81b4749c305",
                "note": None,
            },
        }
        before, after = _split_template(doc)
        id_before, id_after = before.split(b"@@ID@@")
        templates.append((id_before, id_after, after))

    def build(seq: int, t_ns: int) -> bytes:
        id_before, id_after, after = templates[seq % len(templates)]
        # An id as liveblog writes it: an 8-digit epoch, then the offset.
        return b"%s5e1f0c2a-%d%s%s%s" % (id_before, seq + 1, id_after, marker(seq, t_ns), after)

    return build


def grip_builder(blog: str = "bench", body_size: int = 600, source: Path | None = None) -> Builder:
    """The same event as a Pushpin publish request (``POST /publish/``): one ``http-stream``
    item on the blog's channel whose content is the event as liveblog's SSE stream frames it
    (``id:``, ``event:``, ``data:``)."""
    event = event_builder(blog, body_size, source)

    def build(seq: int, t_ns: int) -> bytes:
        data = event(seq, t_ns)
        frame = b"id: 5e1f0c2a-%d\nevent: entry.created\ndata: %s\n\n" % (seq + 1, data)
        item = {"channel": blog, "formats": {"http-stream": {"content": frame.decode()}}}
        return json.dumps({"items": [item]}, separators=(",", ":")).encode()

    return build


BUILDERS: dict[str, Callable[[str, int, Path | None], Builder]] = {
    "entry": lambda blog, size, source: liveblog_entry_builder(size, source),
    "event": event_builder,
    "grip": grip_builder,
}
