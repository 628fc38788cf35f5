"""Event payloads of a realistic size, with the publish time embedded as a findable marker.

Every published entry carries ``#LB<seq>:<time_ns>#`` in its headline. Readers find it with
``bytes.find`` and never decode the JSON; the sequence number catches loss and duplicates, the
time gives publish-to-receive latency (both ends use ``time.time_ns()`` on this machine).
"""

from __future__ import annotations

import json
from collections.abc import Callable

MARK = b"#LB"
MARK_END = b"#"

_SENTENCES = (
    "The minister arrived at the summit shortly after nine and spoke briefly to reporters. ",
    "Our correspondent at the scene says the mood among delegates is cautious but hopeful. ",
    "Officials confirmed that the vote has been postponed until the afternoon session. ",
    "Crowds have gathered outside the building, many holding banners and flags. ",
    "A spokesperson declined to comment on reports of a last-minute compromise. ",
)


def html_body(size: int = 600) -> str:
    """An entry body of about ``size`` bytes of allowlisted HTML."""
    parts: list[str] = []
    total = 0
    i = 0
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


def liveblog_entry_builder(body_size: int = 600) -> Builder:
    """Body of ``POST /api/blogs/{slug}/entries``: the server turns it into an event."""
    doc = {
        "headline": "Live: @@MARKER@@ summit talks continue",
        "body": html_body(body_size),
        "author": "Bench Reporter",
        "labels": ["bench"],
    }
    before, after = _split_template(doc)
    return lambda seq, t_ns: before + marker(seq, t_ns) + after


def event_builder(blog: str = "bench", body_size: int = 600) -> Builder:
    """A whole liveblog event, as a push server without an editorial model is handed it.

    Nchan (and the stub) get the same bytes liveblog would put on the wire for an
    ``entry.created`` event, so every target moves events of the same size.
    """
    doc = {
        "id": "@@ID@@",
        "type": "entry.created",
        "blog": blog,
        "data": {
            "id": "01jbench0000000",
            "blog": blog,
            "version": 1,
            "published_at": "2025-01-01T12:00:00.000000Z",
            "updated_at": None,
            "headline": "Live: @@MARKER@@ summit talks continue",
            "body": html_body(body_size),
            "author": "Bench Reporter",
            "labels": ["bench"],
            "pinned": False,
            "media": [],
        },
    }
    before, after = _split_template(doc)
    id_before, id_after = before.split(b"@@ID@@")

    def build(seq: int, t_ns: int) -> bytes:
        return b"%s0-%d%s%s%s" % (id_before, seq + 1, id_after, marker(seq, t_ns), after)

    return build


BUILDERS: dict[str, Callable[[str, int], Builder]] = {
    "entry": lambda blog, size: liveblog_entry_builder(size),
    "event": event_builder,
}
