"""No photo gets a 500: the odd files phones, cameras and editors write, each uploaded through the
real endpoint of a real `liveblog serve`, is stored as something a browser shows (and what it
is, is checked) or refused with a problem+json 4xx that says why. Then a fuzzer mutates real
images (bytes flipped, files cut, header fields rewritten): every answer is a 2xx or a
problem+json 4xx, and the server keeps answering."""

from __future__ import annotations

import dataclasses
import io
import struct
from collections.abc import Callable, Iterator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.support.photos import (
    encoded,
    exif_orientation,
    photo,
    png16_rgb,
    with_app1,
)
from tests.support.servers import ADMIN_TOKEN, ServerProcess

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PROBLEM = "application/problem+json"
WEBP_MAX_EDGE = 16_383
FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/gif": "GIF"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """`liveblog serve` as production runs it (its own process: Pillow's warnings are warnings
    there, not the test run's errors), with one blog to upload to."""
    media = tmp_path_factory.mktemp("media")
    process = ServerProcess({"LIVEBLOG_REDIS_URL": "", "LIVEBLOG_MEDIA_DIR": str(media)})
    process.start()
    try:
        with httpx.Client(base_url=process.url, headers=AUTH, timeout=60) as client:
            created = client.post("/api/blogs", json={"slug": "odd", "title": "Odd photos"})
            assert created.status_code == 201
            yield client
    finally:
        process.stop()


def upload(client: httpx.Client, data: bytes, media_type: str) -> httpx.Response:
    return client.post("/api/blogs/odd/media", content=data, headers={"Content-Type": media_type})


def served(client: httpx.Client, url: str) -> Image.Image:
    response = client.get(url)
    assert response.status_code == 200
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


# --- the corpus ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Odd:
    name: str
    make: Callable[[], bytes]
    media_type: str
    status: int
    # Stored: what the answer and the served original must be. Refused: words of the reason.
    check: Callable[[httpx.Client, dict[str, object]], None] | None = None
    reason: str = ""


def _exif_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Phone maker" * 300  # a long Make: the EXIF block is ~3 KB
    exif[0x0112] = 6
    return encoded(photo((2000, 1000)), "JPEG", exif=exif, quality=90)


def _cut_in_exif() -> bytes:
    data = _exif_jpeg()
    return data[: data.index(b"Exif") + 200]


def _cut_in_pixels() -> bytes:
    data = _exif_jpeg()
    return data[: len(data) * 2 // 3]


def _mpo() -> bytes:
    first, second = photo((1600, 1200), (220, 0, 0)), photo((1600, 1200), (0, 220, 0))
    return encoded(first, "MPO", save_all=True, append_images=[second])


def _cmyk() -> bytes:
    return encoded(Image.new("CMYK", (1200, 800), (0, 220, 220, 0)), "JPEG")


def _grey16() -> bytes:
    return encoded(Image.new("I;16", (640, 480), 40_000), "PNG")


def _animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (640, 360), (60 * i, 200 - 40 * i, 30)) for i in range(5)]
    return encoded(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100)


def _palette_with_transparency() -> bytes:
    image = Image.new("P", (600, 400), 1)
    image.putpalette([0, 0, 0, 250, 120, 0] + [0] * 762)
    return encoded(image, "PNG", transparency=0)


def _orientation(value_type: int, value: bytes) -> Callable[[], bytes]:
    return lambda: with_app1(
        encoded(photo((600, 400)), "JPEG"), exif_orientation(value_type, value)
    )


def _is(
    media_type: str, size: tuple[int, int], mode: str | None = None,
    pixel: Callable[[Image.Image], bool] | None = None,
) -> Callable[[httpx.Client, dict[str, object]], None]:  # fmt: skip
    def check(client: httpx.Client, answer: dict[str, object]) -> None:
        assert (answer["type"], answer["width"], answer["height"]) == (media_type, *size)
        original = served(client, str(answer["url"]))
        assert original.format == FORMATS[media_type]
        assert original.size == size
        assert getattr(original, "n_frames", 1) == 1  # a still: the first frame or picture
        if mode is not None:
            assert original.mode == mode
        if pixel is not None:
            assert pixel(original.convert("RGB"))
        for variant in answer["variants"]:  # type: ignore[attr-defined]
            image = served(client, variant["url"])
            assert image.width == variant["width"] <= WEBP_MAX_EDGE

    return check


def _red(image: Image.Image) -> bool:
    r, g, b = image.getpixel((image.width - 5, image.height - 5))  # type: ignore[misc]
    return r > 150 and g < 90 and b < 90


def _upright_as_stored(image: Image.Image) -> bool:
    # Not rotated: the blue quarter is still top-left.
    return image.getpixel((5, 5))[2] > 150 and image.getpixel((595, 395))[0] > 150  # type: ignore[index]


CORPUS = [
    Odd("jpeg cut inside its EXIF block", _cut_in_exif, "image/jpeg", 422, reason="cut short"),
    Odd("jpeg cut inside its pixels", _cut_in_pixels, "image/jpeg", 422, reason="cut short"),
    Odd("mpo (two-picture jpeg): its first picture", _mpo, "image/jpeg", 201,
        _is("image/jpeg", (1600, 1200), "RGB", _red)),
    Odd("cmyk jpeg: rgb", _cmyk, "image/jpeg", 201, _is("image/jpeg", (1200, 800), "RGB", _red)),
    Odd("16-bit grey png: 8-bit grey", _grey16, "image/png", 201,
        _is("image/png", (640, 480), "L", lambda image: 150 <= image.getpixel((9, 9))[0] <= 160)),
    Odd("16-bit colour png: 8-bit", lambda: png16_rgb(320, 200, (60_000, 5_000, 5_000)),
        "image/png", 201, _is("image/png", (320, 200), "RGB", _red)),
    Odd("animated webp: its first frame", lambda: _animated("WEBP"), "image/webp", 201,
        _is("image/webp", (640, 360), "RGB", lambda image: image.getpixel((9, 9))[1] > 150)),
    Odd("animated gif: its first frame", lambda: _animated("GIF"), "image/gif", 201,
        _is("image/gif", (640, 360), None, lambda image: image.getpixel((9, 9))[1] > 150)),
    Odd("png wider than webp allows: scaled to it", lambda: encoded(photo((17_000, 200)), "PNG"),
        "image/png", 201, _is("image/png", (16_383, 192), "RGB", _red)),
    Odd("jpeg taller than webp allows: scaled to it",
        lambda: encoded(photo((300, 20_000)), "JPEG"), "image/jpeg", 201,
        _is("image/jpeg", (245, 16_383), "RGB", _red)),
    Odd("exif orientation 0: as stored", _orientation(3, struct.pack(">H", 0)), "image/jpeg",
        201, _is("image/jpeg", (600, 400), "RGB", _upright_as_stored)),
    Odd("exif orientation 9: as stored", _orientation(3, struct.pack(">H", 9)), "image/jpeg",
        201, _is("image/jpeg", (600, 400), "RGB", _upright_as_stored)),
    Odd("exif orientation 65535: as stored", _orientation(3, struct.pack(">H", 65535)),
        "image/jpeg", 201, _is("image/jpeg", (600, 400), "RGB", _upright_as_stored)),
    Odd("exif orientation as text: as stored", _orientation(2, b"rotate\x00"), "image/jpeg",
        201, _is("image/jpeg", (600, 400), "RGB", _upright_as_stored)),
    Odd("exif of garbage: as stored",
        lambda: with_app1(encoded(photo((600, 400)), "JPEG"), b"Exif\x00\x00" + bytes(range(64))),
        "image/jpeg", 201, _is("image/jpeg", (600, 400), "RGB", _upright_as_stored)),
    Odd("grey jpeg", lambda: encoded(Image.new("L", (600, 400), 90), "JPEG"), "image/jpeg", 201,
        _is("image/jpeg", (600, 400), "L")),
    Odd("1-bit png: grey", lambda: encoded(Image.new("1", (600, 400), 1), "PNG"), "image/png",
        201, _is("image/png", (600, 400), "L")),
    Odd("grey png with alpha: rgba", lambda: encoded(Image.new("LA", (600, 400)), "PNG"),
        "image/png", 201, _is("image/png", (600, 400), "RGBA")),
    Odd("palette png with a transparent colour: rgba", _palette_with_transparency, "image/png",
        201, _is("image/png", (600, 400), "RGBA")),
    Odd("gif cut in its header", lambda: _animated("GIF")[:40], "image/gif", 422,
        reason="cut short"),
    Odd("png cut in its header", lambda: encoded(photo((600, 400)), "PNG")[:20], "image/png",
        422, reason="cut short"),
    Odd("webp cut in half", lambda: encoded(photo((600, 400)), "WEBP")[:300], "image/webp",
        422, reason="damaged"),
    Odd("png with damaged pixel data", lambda: _damaged_png(), "image/png", 422, reason="damaged"),
]  # fmt: skip


def _damaged_png() -> bytes:
    data = bytearray(encoded(Image.effect_noise((300, 200), 50).convert("RGB"), "PNG"))
    data[data.index(b"IDAT") + 60] ^= 0xFF
    return bytes(data)


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.name)
def test_each_odd_photo_is_stored_sensibly_or_refused_with_a_reason(
    site: httpx.Client, case: Odd
) -> None:
    response = upload(site, case.make(), case.media_type)
    assert response.status_code == case.status, response.text
    if case.check is not None:
        case.check(site, response.json())
    else:
        assert response.headers["content-type"] == PROBLEM
        problem = response.json()
        assert problem["status"] == case.status
        assert case.reason in problem["detail"], problem["detail"]


# --- the fuzzer ---------------------------------------------------------------------------------


def _seeds() -> list[tuple[bytes, str]]:
    exif = Image.Exif()
    exif[0x0112] = 8
    return [
        (encoded(photo((320, 240)), "JPEG", exif=exif), "image/jpeg"),
        (encoded(photo((320, 240)), "JPEG", progressive=True), "image/jpeg"),
        (_mpo(), "image/jpeg"),
        (encoded(photo((320, 240)).convert("RGBA"), "PNG"), "image/png"),
        (_palette_with_transparency(), "image/png"),
        (_animated("GIF"), "image/gif"),
        (_animated("WEBP"), "image/webp"),
        (encoded(photo((320, 240)), "WEBP", lossless=True), "image/webp"),
    ]


SEEDS = _seeds()

_mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, 1 << 20), st.just(0)),
    # A 16- or 32-bit field near the start (sizes, lengths, counts) set to an extreme.
    st.tuples(st.just("field"), st.integers(0, 64), st.sampled_from([0, 1, 0xFF, 0xFFFF,
                                                                      0x7FFFFFFF, 0xFFFFFFFF])),
    st.tuples(st.just("insert"), st.integers(0, 1 << 20), st.integers(0, 255)),
)  # fmt: skip


def mutate(data: bytes, mutations: list[tuple[str, int, int]]) -> bytes:
    out = bytearray(data)
    for kind, at, value in mutations:
        if not out:
            break
        at %= len(out)
        if kind == "flip":
            out[at] ^= value
        elif kind == "cut":
            del out[at:]
        elif kind == "field":
            width = 2 if value <= 0xFFFF else 4
            out[at : at + width] = value.to_bytes(width, "big")
        else:
            out[at:at] = bytes([value]) * 16
    return bytes(out)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,  # CI sees the same files every run
    database=None,
)
@given(
    seed=st.sampled_from(range(len(SEEDS))),
    mutations=st.lists(_mutation, min_size=1, max_size=4),
)
def test_mutated_photos_get_a_2xx_or_a_problem_never_a_5xx(
    site: httpx.Client, seed: int, mutations: list[tuple[str, int, int]]
) -> None:
    data, media_type = SEEDS[seed]
    response = upload(site, mutate(data, mutations), media_type)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == PROBLEM, response.text
        assert response.json()["detail"]
    else:
        assert response.status_code == 201
        for url in [response.json()["url"]] + [v["url"] for v in response.json()["variants"]]:
            served(site, url)  # what it stored, a browser can show
    assert site.get("/healthz", timeout=10).status_code == 200


def test_the_server_answers_after_the_fuzzing(site: httpx.Client) -> None:
    assert site.get("/readyz").status_code == 200
    good = upload(site, encoded(photo((800, 600)), "JPEG"), "image/jpeg")
    assert good.status_code == 201
