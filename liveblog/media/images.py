"""Photos as readers get them: decoded within a memory bound, upright, stripped, in responsive
sizes.

Pure and synchronous: the upload endpoint runs :func:`process` in a worker thread (Pillow
releases the GIL while it decodes, resizes and encodes), never on the event loop.

An upload is bounded by what it costs, not by what it claims:

- the type is what the bytes say (only the decoders of the accepted types are tried, whatever
  the request's Content-Type claimed);
- before a single pixel is decoded, the header's size is checked twice: the pixel count (the
  API's 50-megapixel limit) and the memory the pixels would take once decoded (width x height x
  the bytes Pillow keeps per pixel of the mode, every frame of an animation counted), so a small
  file that expands to gigabytes (a decompression bomb) is refused without the memory;
- a JPEG larger than the largest size kept is decoded already reduced (libjpeg's DCT scaling,
  ``Image.draft``), at a half, a quarter or an eighth of the cost;
- the one full-size decode is scaled down a strip at a time into the largest size kept
  (``Limits.kept_pixels``): no full-size copy is made for a mode conversion or for resampling,
  and the full-size pixels are freed before anything is encoded. Smaller sizes are made from the
  next larger one.

The uploaded file itself is not kept: what the server keeps as "the original" is the photo
upright, without metadata, at most ``kept_pixels`` in size (GPS, camera serials and every other
piece of metadata are gone from every file served; only the colour profile is written back).
Damaged, cut-off or odd files are :class:`ImageRefused` with a reason, never an error of ours.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import math
import os
from collections.abc import Callable

from PIL import Image, ImageCms, ImageFile, ImageMode, UnidentifiedImageError

logger = logging.getLogger("liveblog.media")

# Our own checks (before decoding) are the defence; Pillow's global one would only warn about
# the sizes it lets through.
Image.MAX_IMAGE_PIXELS = None
if "PILLOW_BLOCK_SIZE" not in os.environ:
    # Pillow allocates pixels in blocks of 16 MiB, which glibc's malloc soon serves from its
    # heap and keeps once freed: after three large photos the process stayed 170 MiB larger.
    # Blocks over 32 MiB are mapped and unmapped by themselves, and go back to the system.
    # Pillow documents set_block_size (its "block allocator"), but its stubs do not export core.
    Image.core.set_block_size(64 * 1024 * 1024)  # type: ignore[attr-defined]

MAX_PIXELS = 50_000_000  # docs/api.md: an image that claims more is 422
WIDTHS = (480, 960, 1600)  # responsive variants, each made only when smaller than the image
WEBP_MAX_EDGE = 16_383  # libwebp cannot encode a side longer than this
# Pillow format -> (media type, file extension) of the files kept. GIF is kept as its first
# frame; an MPO (the two-picture JPEG of many phone cameras) as its first picture, a JPEG.
FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "GIF": ("image/gif", "gif"),
}
_KEPT_AS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "GIF": "GIF"}
ACCEPTED_TYPES = frozenset(media_type for media_type, _ in FORMATS.values())
_QUALITY = {"JPEG": 85, "WEBP": 80}
_STRIP_BYTES = 8 * 1024 * 1024  # of full-size pixels converted and resampled at a time
_LANCZOS_SUPPORT = 3.0  # rows each side of a sample the filter reads, at scale 1
_ORIENTATION = 0x0112
_TRANSPOSE = {  # EXIF orientation -> what makes the pixels upright; other values: as stored
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    max_decoded_bytes: int = 128 * 1024 * 1024
    kept_pixels: int = 6_000_000


class ImageRefused(ValueError):
    """An upload that cannot become a photo; ``status`` is the API's answer."""

    status = 422


class NotAnImage(ImageRefused):
    status = 415


class TooManyPixels(ImageRefused):
    pass


class TooMuchMemory(ImageRefused):
    pass


class Unreadable(ImageRefused):
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
    media_type: str  # of the kept original
    width: int
    height: int
    original: Rendition  # the largest size kept, in the uploaded type
    variants: list[Rendition]  # every other size and type, WebP included, widest last


def process(data: bytes, limits: Limits) -> Processed:
    upright, kept, icc = _decode(data, limits)  # the full-size pixels are gone on return
    # Nothing but the pixels and a colour profile that fits them: EXIF, XMP, comments are gone.
    upright.info = {"icc_profile": icc} if _profile_fits(icc, upright.mode) else {}
    try:
        renditions = _renditions(upright, kept)
    except Exception:  # a picture we decoded but cannot write: our gap, said as such
        logger.exception("encoding an uploaded %s (%s, %dx%d) failed", kept, upright.mode,
                         *upright.size)  # fmt: skip
        raise ImageRefused("The image could not be converted for the web.") from None
    original, *variants = renditions
    variants.sort(key=lambda r: (r.width, r.media_type))
    digest = hashlib.sha256(data).hexdigest()[:24]
    return Processed(digest, original.media_type, original.width, original.height, original,
                     variants)  # fmt: skip


def _decode(data: bytes, limits: Limits) -> tuple[Image.Image, str, bytes | None]:
    """The first frame, upright, at the size kept; the format it is kept in; its profile."""
    image = _open(data)
    kept = _KEPT_AS[image.format or ""]
    size = _plan(image, limits)  # nothing before it may decode: getexif() would, on a PNG
    try:
        image.seek(0)  # an animation: its first frame
        image.load()
        orientation = _orientation(image)  # a PNG's EXIF may follow its pixels
        icc = image.info.get("icc_profile")
        upright = _scaled(image, size, _converter(image, icc))
    except Exception as exc:  # what Pillow's decoders raise on damaged data varies
        raise _unreadable(exc) from None
    if orientation in _TRANSPOSE:
        upright = upright.transpose(_TRANSPOSE[orientation])
    return upright, kept, icc


def fitted(size: tuple[int, int], kept_pixels: int) -> tuple[int, int]:
    """``size`` scaled down (never up) to at most ``kept_pixels`` and WebP's longest side."""
    width, height = size
    scale = min(1.0, math.sqrt(kept_pixels / (width * height)), WEBP_MAX_EDGE / max(size))
    if scale >= 1.0:
        return size
    return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))


def decoded_bytes(image: Image.Image) -> int:
    """What the pixels of ``image`` take in Pillow's memory once decoded, every frame counted."""
    return image.width * image.height * _bytes_per_pixel(image.mode) * _frames(image)


def _open(data: bytes) -> ImageFile.ImageFile:
    try:
        return Image.open(io.BytesIO(data), formats=list(FORMATS))
    except UnidentifiedImageError:
        if (claimed := _signature(data)) is not None:  # one of ours, that Pillow cannot parse
            raise Unreadable(
                f"The file starts as a {claimed} does, but its header cannot be read: it is "
                "damaged or was cut short. Upload the whole file."
            ) from None
        raise NotAnImage("The body is not a JPEG, PNG, WebP or GIF image.") from None
    except Exception as exc:  # a header Pillow could not parse: cut off, or damaged
        raise _unreadable(exc) from None


def _signature(data: bytes) -> str | None:
    """The accepted format whose signature ``data`` starts with, if any."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return None


def _plan(image: ImageFile.ImageFile, limits: Limits) -> tuple[int, int]:
    """The size to keep, once the header's claims are checked and what decoding will cost is
    known (a JPEG set to decode reduced when it is larger than that)."""
    width, height = image.size
    if width < 1 or height < 1:
        raise Unreadable(f"The image claims {width}x{height} pixels: there is no picture.")
    if width * height > MAX_PIXELS:
        raise TooManyPixels(
            f"The image claims {width}x{height} pixels; at most {MAX_PIXELS:,} are accepted."
        )
    size = fitted(image.size, limits.kept_pixels)
    try:
        coefficients = _jpeg_coefficient_bytes(image)
        if size != image.size and image.format in ("JPEG", "MPO"):
            # Decoded at 1/2, 1/4 or 1/8 straight from the DCT: still at least ``size``.
            image.draft(None, size)
        cost = decoded_bytes(image) + coefficients  # counting frames reads all of them
    except Exception as exc:
        raise _unreadable(exc) from None
    if cost > limits.max_decoded_bytes:
        frames = _frames(image)
        what = f"{width}x{height} {image.mode}" + (f", {frames} frames" if frames > 1 else "")
        what += ", progressive JPEG" if coefficients else ""
        raise TooMuchMemory(
            f"The image would take {_mib(cost)} of memory once decoded ({what}); at most "
            f"{_mib(limits.max_decoded_bytes)} is accepted. Upload it smaller."
        )
    return size


def _jpeg_coefficient_bytes(image: ImageFile.ImageFile) -> int:
    """A progressive JPEG is decoded from all its scans at once: libjpeg holds every DCT
    coefficient of the full-size picture (2 bytes each, per component at its sampling),
    whatever size the pixels are decoded at."""
    if image.format not in ("JPEG", "MPO") or not image.info.get("progressive"):
        return 0
    layers = getattr(image, "layer", None) or [("", 1, 1, 0)] * 4
    h_max = max(1, *(layer[1] for layer in layers))
    v_max = max(1, *(layer[2] for layer in layers))
    width, height = image.size
    return sum(
        2 * _blocks(width * h // h_max) * _blocks(height * v // v_max) for _, h, v, _ in layers
    )


def _blocks(pixels: int) -> int:
    return -(-pixels // 8) * 8  # whole 8x8 blocks


def _frames(image: Image.Image) -> int:
    # An MPO's second picture is another photo (a stereo pair, a depth map), never decoded.
    if image.format == "MPO":
        return 1
    return int(getattr(image, "n_frames", 1))


def _bytes_per_pixel(mode: str) -> int:
    # Pillow keeps every pixel of a mode of several bands in 4 bytes (RGB too); one band takes
    # the size of its type ("1" and "P" a byte, "I;16" two, "I" and "F" four).
    info = ImageMode.getmode(mode)
    if len(info.bands) > 1:
        return 4
    return max(1, int(info.typestr[-1]))


def _orientation(image: Image.Image) -> int:
    """EXIF orientation, 1 when absent or unreadable: damaged metadata does not lose a photo."""
    try:
        value = image.getexif().get(_ORIENTATION, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) else 1


def _converter(image: Image.Image, icc: bytes | None) -> Callable[[Image.Image], Image.Image]:
    """Turns pixels of the decoded mode into one every encoder and the resampler take: L, RGB
    or RGBA (16-bit grey scaled down, palettes expanded, CMYK through its profile)."""
    mode = image.mode
    if mode in ("L", "RGB", "RGBA"):
        return lambda pixels: pixels
    if mode.startswith("I") or mode == "F":
        # 16-bit grey: the top 8 bits (Pillow's convert would clip at 255 instead).
        return lambda pixels: pixels.point(lambda value: value / 256).convert("L")
    if mode == "1":
        return lambda pixels: pixels.convert("L")
    if mode == "CMYK":
        return _from_cmyk(icc)
    alpha = "A" in mode or "a" in mode or (mode == "P" and image.has_transparency_data)
    target = "RGBA" if alpha else "RGB"
    return lambda pixels: pixels.convert(target)


def _from_cmyk(icc: bytes | None) -> Callable[[Image.Image], Image.Image]:
    """Print files: through their own profile to sRGB when they carry one, else the plain
    formula (too bright, but a photo)."""
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            transform = ImageCms.buildTransform(source, srgb, "CMYK", "RGB")
            return lambda pixels: ImageCms.applyTransform(pixels, transform) or pixels
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass
    return lambda pixels: pixels.convert("RGB")


def _scaled(
    image: Image.Image, size: tuple[int, int], convert: Callable[[Image.Image], Image.Image]
) -> Image.Image:
    """``image`` converted and resampled to ``size`` a strip at a time: beside the full-size
    pixels, only the result and one strip are ever in memory. Each strip reads the rows the
    filter reaches beyond it, so the result is the same as resampling the whole at once."""
    if size == image.size:
        return convert(image)
    width, height = image.size
    scale = height / size[1]
    margin = math.ceil(_LANCZOS_SUPPORT * max(scale, 1.0)) + 2
    out_rows = max(1, int(_STRIP_BYTES / (width * 4 * scale)))
    result: Image.Image | None = None
    for top in range(0, size[1], out_rows):
        bottom = min(size[1], top + out_rows)
        y0, y1 = top * scale, bottom * scale
        s0, s1 = max(0, math.floor(y0) - margin), min(height, math.ceil(y1) + margin)
        strip = convert(image.crop((0, s0, width, s1)))
        part = strip.resize(
            (size[0], bottom - top), Image.Resampling.LANCZOS, box=(0, y0 - s0, width, y1 - s0)
        )
        if result is None:
            result = Image.new(part.mode, size)
        result.paste(part, (0, top))
    assert result is not None
    return result


def _profile_fits(icc: bytes | None, mode: str) -> bool:
    """An ICC profile describes one colour space (bytes 16-19 of its header): an RGB profile on
    grey pixels, or the CMYK one of a converted print file, would mislead the browser."""
    if not icc or len(icc) < 20:
        return False
    space = icc[16:20]
    return space == b"RGB " if mode in ("RGB", "RGBA") else space == b"GRAY" and mode == "L"


def _renditions(upright: Image.Image, fmt: str) -> list[Rendition]:
    """The kept original first, then the WebP of it and the smaller sizes, each resampled from
    the next larger one."""
    renditions = [_encode(upright, fmt)]
    if fmt != "WEBP":
        renditions.append(_encode(upright, "WEBP"))
    current = upright
    for target in sorted(WIDTHS, reverse=True):
        if target >= upright.width:
            continue
        size = (target, max(1, round(upright.height * target / upright.width)))
        current = current.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        current.info = upright.info
        renditions.append(_encode(current, fmt))
        if fmt != "WEBP":
            renditions.append(_encode(current, "WEBP"))
    return renditions


def _encode(image: Image.Image, fmt: str) -> Rendition:
    media_type, ext = FORMATS[fmt]
    icc = image.info.get("icc_profile")
    if fmt == "WEBP" and image.mode == "L":
        image = image.convert("RGB")
        icc = None  # a grey profile does not describe RGB pixels
    out = io.BytesIO()
    options: dict[str, object] = {}
    if fmt in _QUALITY:
        options["quality"] = _QUALITY[fmt]
    if fmt == "JPEG":
        options.update(optimize=True, progressive=True)
    if icc:
        options["icc_profile"] = icc
    image.save(out, fmt, **options)
    return Rendition(f"{image.width}.{ext}", out.getvalue(), image.width, image.height, media_type)


def _unreadable(exc: BaseException) -> Unreadable:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, EOFError) or "truncated" in text.lower():
        return Unreadable(
            "The file ends before the image does: it was cut short (an interrupted copy or "
            "download?). Upload the whole file."
        )
    return Unreadable(
        f"The image could not be decoded: its data is damaged or incomplete ({text[:200]})."
    )


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):,.0f} MiB"
