"""Photos for upload tests, made here with Pillow (or by hand where Pillow would not write them):
ordinary ones, odd ones, and decompression bombs built a row at a time."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_bomb(width: int, height: int, *, alpha: bool = False) -> bytes:
    """A real PNG of width x height black pixels, a few hundred KB on the wire, built a row at
    a time (this process never holds the pixels either)."""
    channels, colour_type = (4, 6) if alpha else (3, 2)
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + width * channels)  # filter byte, then the samples
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return _png(width, height, 8, colour_type, idat)


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height RGBA pixels and whose pixel data is a few bytes
    of nothing: anything that tried to decode it would find it damaged."""
    return _png(width, height, 8, 6, b"\x78\x9c\x03\x00")


def png16_rgb(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """16 bits per sample (Pillow writes 16-bit grey, not 16-bit colour)."""
    pixel = struct.pack(">HHH", *rgb)
    raw = b"".join(b"\x00" + pixel * width for _ in range(height))
    return _png(width, height, 16, 2, zlib.compress(raw))


def _png(width: int, height: int, depth: int, colour_type: int, idat: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def with_app1(jpeg: bytes, payload: bytes) -> bytes:
    """``jpeg`` with an APP1 (EXIF) segment of ``payload`` right after its start marker."""
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", 2 + len(payload)) + payload + jpeg[2:]


def exif_orientation(value_type: int, value: bytes) -> bytes:
    """An EXIF block (big-endian TIFF) holding one Orientation tag of any type and value:
    the odd ones phones and editors write (0, 9, 65535, a string)."""
    count = 1 if value_type == 3 else len(value)
    field = value.ljust(4, b"\x00")[:4]
    ifd = struct.pack(">H", 1) + struct.pack(">HHI", 0x0112, value_type, count) + field
    return b"Exif\x00\x00" + b"MM\x00\x2a" + struct.pack(">I", 8) + ifd + b"\x00\x00\x00\x00"


def photo(size: tuple[int, int], colour: tuple[int, int, int] = (200, 40, 30)) -> Image.Image:
    """A picture with a blue top-left quarter (to tell rotations) on ``colour``."""
    image = Image.new("RGB", size, colour)
    image.paste((20, 60, 200), (0, 0, size[0] // 2, size[1] // 2))
    return image


def smooth(size: tuple[int, int]) -> Image.Image:
    """A large photo-like picture that still compresses well (a gradient): big on decode,
    small on the wire, quick to make."""
    grey = Image.linear_gradient("L").resize(size)
    return Image.merge("RGB", [grey, grey.transpose(Image.Transpose.ROTATE_180), grey])
