"""The one event format, shared by every engine and transport.

``{"id": "<epoch>-<offset>", "type": T, "blog": slug, "data": {...}}``. The id is only known
inside the engine's atomic publish, so events are prepared as a *template*: the encoded event
split where the id goes (the blog in ``blog.updated`` carries the id too, as its last_event_id).
"""

from __future__ import annotations

import secrets
from typing import Any

import msgspec

from liveblog.models import Blog, Event, EventType, Position, encoder

# Random per process, so no editor text can contain it by accident.
_ID_SLOT = "lb-id-" + secrets.token_hex(16)
_ID_SLOT_BYTES = _ID_SLOT.encode()


def template(type: EventType, blog: str, data: Any) -> list[bytes]:
    """Encode an event with its id left open; join the parts with the id to finish it."""
    if isinstance(data, Blog):
        data = msgspec.structs.replace(data, last_event_id=_ID_SLOT)
    event = Event(id=_ID_SLOT, type=type, blog=blog, data=msgspec.Raw(encoder.encode(data)))
    return encoder.encode(event).split(_ID_SLOT_BYTES)


def fill(parts: list[bytes], position: Position) -> bytes:
    return str(position).encode().join(parts)


# On a blog's newsroom channel, next to its events: "the presence map changed" (no id, no
# offset, no history). The hub hands it to whoever listens for it (the presence board), never
# to a reader's stream.
PRESENCE_NOTICE = b"~presence"


def reset_event(blog: str, position: Position, reason: str) -> bytes:
    data = msgspec.Raw(encoder.encode({"reason": reason}))
    return encoder.encode(Event(id=str(position), type="reset", blog=blog, data=data))
