"""Photos as readers get them: decoded safely, turned upright, stripped, in responsive sizes.

Pure and synchronous: the upload endpoint runs :func:`process` in a worker thread (Pillow
releases the GIL while it decodes and resizes), never on the event loop.

The defences, in order: the type is what the bytes say (only the decoders of the accepted types
are tried, whatever the request's Content-Type claimed); the pixel count from the header is
checked before a single pixel is decoded, so a small file that expands to gigabytes (a
decompression bomb) is refused without the memory; EXIF orientation is applied to the pixels;
only the pixels and the colour profile are written back, so GPS, camera serials and every other
piece of metadata are gone from every file served.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io

from PIL import Image, ImageOps, UnidentifiedImageError

# Our own check (MAX_PIXELS, before decoding) is the defence; Pillow's global one would only
# warn about the sizes it lets through.
Image.MAX_IMAGE_PIXELS = None

MAX_PIXELS = 50_000_000  # docs/api.md: an image that claims more is 422
WIDTHS = (480, 960, 1600)  # responsive variants, each made only when smaller than the image
# Pillow format -> (media type, file extension). GIF is kept as its first frame.
FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "GIF": ("image/gif", "gif"),
}
ACCEPTED_TYPES = frozenset(media_type for media_type, _ in FORMATS.values())
_QUALITY = {"JPEG": 85, "WEBP": 80}


class ImageRefused(ValueError):
    """An upload that cannot become a photo; ``status`` is the API's answer."""

    status = 422


class NotAnImage(ImageRefused):
    status = 415


class TooManyPixels(ImageRefused):
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class Rendition:
    name: str  # "<width>.<ext>", unique within one upload
    data: bytes
    width: int
    height: int
    media_type: str


@dataclasses.dataclass(frozen=True, slots=True)
class Processed:
    digest: str  # of the uploaded bytes: the same photo uploaded twice gets the same URLs
    media_type: str  # of the original
    width: int
    height: int
    original: Rendition  # full size, the uploaded type
    variants: list[Rendition]  # every other size and type, WebP included, widest last


def process(data: bytes) -> Processed:
    try:
        image = Image.open(io.BytesIO(data), formats=list(FORMATS))
    except UnidentifiedImageError:
        raise NotAnImage("The body is not a JPEG, PNG, WebP or GIF image.") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise TooManyPixels(
            f"The image claims {width}x{height} pixels; at most {MAX_PIXELS:,} are accepted."
        )
    fmt = image.format or ""
    try:
        image.seek(0)  # an animation: its first frame
        image.load()
        upright = ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageRefused(f"The image could not be decoded: {exc}") from None
    media_type, ext = FORMATS[fmt]
    upright = _pixels_only(upright, fmt)
    width, height = upright.size
    original = _encode(upright, fmt, ext, media_type)
    variants = [_encode(upright, "WEBP", "webp", "image/webp")] if fmt != "WEBP" else []
    for target in WIDTHS:
        if target >= width:
            continue
        size = (target, max(1, round(height * target / width)))
        smaller = upright.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        variants.append(_encode(smaller, fmt, ext, media_type))
        if fmt != "WEBP":
            variants.append(_encode(smaller, "WEBP", "webp", "image/webp"))
    variants.sort(key=lambda r: (r.width, r.media_type))
    digest = hashlib.sha256(data).hexdigest()[:24]
    return Processed(digest, media_type, width, height, original, variants)


def _pixels_only(image: Image.Image, fmt: str) -> Image.Image:
    """A copy that carries nothing but pixels and the colour profile (no EXIF, XMP, text)."""
    icc = image.info.get("icc_profile")
    if fmt == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")  # CMYK, YCCK...
    elif image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        image = image.convert("RGBA")
    clean = image.copy()
    clean.info = {"icc_profile": icc} if icc else {}
    if "transparency" in image.info and clean.mode == "P":
        clean.info["transparency"] = image.info["transparency"]
    return clean


def _encode(image: Image.Image, fmt: str, ext: str, media_type: str) -> Rendition:
    if fmt == "WEBP" and image.mode == "P":
        image = image.convert("RGBA")
    if fmt == "GIF" and image.mode not in ("P", "L"):
        image = image.convert("P", palette=Image.Palette.ADAPTIVE)
    out = io.BytesIO()
    options: dict[str, object] = {}
    if fmt in _QUALITY:
        options["quality"] = _QUALITY[fmt]
    if fmt == "JPEG":
        options.update(optimize=True, progressive=True)
    if icc := image.info.get("icc_profile"):
        options["icc_profile"] = icc
    image.save(out, fmt, **options)
    name = f"{image.width}.{ext}"
    return Rendition(name, out.getvalue(), image.width, image.height, media_type)
