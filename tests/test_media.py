"""Photo upload (docs/api.md, Media): the type read from the bytes, decompression bombs refused
without the memory, EXIF orientation applied, metadata stripped, responsive variants, immutable
caching; on local disk and in an S3-compatible store (a server the suite starts itself)."""

from __future__ import annotations

import asyncio
import io
import json
import re
import struct
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer
from PIL import ExifTags, Image

from liveblog.config import Settings
from tests.support.clients import Editor
from tests.support.redis_server import free_port
from tests.support.servers import ADMIN_TOKEN, ServerProcess, serve_in_process

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def jpeg(size: tuple[int, int] = (2000, 1000), *, orientation: int = 1, gps: bool = False) -> bytes:
    image = Image.new("RGB", size, (200, 40, 30))
    image.paste((20, 60, 200), (0, 0, size[0] // 2, size[1] // 4))  # a corner to tell rotations
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "Phone maker"
    exif[ExifTags.Base.BodySerialNumber] = "SN-12345"
    if gps:
        ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
        ifd[ExifTags.GPS.GPSLatitudeRef] = "N"
        ifd[ExifTags.GPS.GPSLatitude] = (50.0, 27.0, 1.5)
        ifd[ExifTags.GPS.GPSLongitudeRef] = "E"
        ifd[ExifTags.GPS.GPSLongitude] = (30.0, 31.0, 2.5)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def png(size: tuple[int, int] = (600, 400)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (10, 200, 90, 128)).save(out, "PNG")
    return out.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """A real PNG of width x height black pixels, a few hundred KB on the wire, built a row
    at a time (this process never holds the pixels either)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + width * 3)  # filter byte, then RGB
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture
async def site(settings_factory: Callable[..., Settings], tmp_path: Path) -> AsyncIterator[str]:
    settings = settings_factory(media_dir=str(tmp_path / "media"))
    async with serve_in_process(settings) as url:
        editor = Editor(url)
        await editor.blog("photos")
        await editor.close()
        yield url


@pytest.fixture
async def http(site: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=site, headers=AUTH, timeout=30) as client:
        yield client


async def upload(http: httpx.AsyncClient, data: bytes, media_type: str = "image/jpeg",
                 slug: str = "photos") -> httpx.Response:  # fmt: skip
    return await http.post(f"/api/blogs/{slug}/media", content=data,
                           headers={"Content-Type": media_type})  # fmt: skip


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


async def test_a_photo_is_upright_stripped_and_in_every_size(http: httpx.AsyncClient) -> None:
    # Taken with the phone on its side: the pixels are 2000x1000, EXIF says "rotate 90".
    response = await upload(http, jpeg(orientation=6, gps=True))
    assert response.status_code == 201, response.text
    photo = response.json()
    assert (photo["width"], photo["height"], photo["type"]) == (1000, 2000, "image/jpeg")
    assert photo["url"].startswith("/media/photos/") and photo["url"].endswith(".jpg")
    assert response.headers["location"] == photo["url"]
    sizes = sorted((v["width"], v["type"]) for v in photo["variants"])
    assert sizes == [(480, "image/jpeg"), (480, "image/webp"), (960, "image/jpeg"),
                     (960, "image/webp"), (1000, "image/webp")]  # fmt: skip

    for url, media_type in [(photo["url"], "image/jpeg")] + [
        (v["url"], v["type"]) for v in photo["variants"]
    ]:
        served = await http.get(url)
        assert served.status_code == 200
        assert served.headers["content-type"] == media_type
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert served.headers["x-content-type-options"] == "nosniff"
        image = opened(served.content)
        assert image.width in (480, 960, 1000) and image.height == image.width * 2
        exif = image.getexif()
        assert not exif.get_ifd(ExifTags.IFD.GPSInfo)  # where it was taken: gone
        assert dict(exif) == {}  # camera, serial number, orientation: gone too
        assert b"SN-12345" not in served.content and b"Phone maker" not in served.content

    # Upright: the blue corner, top-left in the sensor's pixels, is now top-right.
    original = opened((await http.get(photo["url"])).content).convert("RGB")
    assert original.getpixel((990, 10))[2] > 150 and original.getpixel((10, 10))[0] > 150

    again = await upload(http, jpeg(orientation=6, gps=True))
    assert again.json()["url"] == photo["url"]  # content-addressed: same photo, same URL


async def test_the_type_is_read_from_the_bytes(http: httpx.AsyncClient) -> None:
    response = await upload(http, png(), "image/jpeg")  # a PNG that claims to be a JPEG
    assert response.status_code == 201
    assert response.json()["type"] == "image/png" and response.json()["url"].endswith(".png")
    assert opened((await http.get(response.json()["url"])).content).mode == "RGBA"

    for data, media_type in [
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/png"),  # not an image we decode
        (b"<script>alert(1)</script>", "image/jpeg"),
        (_bmp(), "image/png"),  # an image, of a type not listed
        (png(), "image/svg+xml"),  # a type not listed
        (png(), "application/octet-stream"),
    ]:
        refused = await upload(http, data, media_type)
        assert refused.status_code == 415, (data[:20], media_type)
        assert refused.headers["content-type"] == "application/problem+json"


def _bmp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "BMP")
    return out.getvalue()


async def test_uploads_go_through_the_api_checks_in_order(site: str) -> None:
    async with httpx.AsyncClient(base_url=site) as anonymous:
        assert (await upload(anonymous, jpeg())).status_code == 401
        # 21 MiB announced, nothing sent: refused from the headers, before the token.
        assert await _status_of_head(site, 21 * 1024 * 1024) == 413
    async with httpx.AsyncClient(base_url=site, headers=AUTH) as http:
        assert (await upload(http, jpeg(), slug="nowhere")).status_code == 404
        broken = jpeg()[:2000]  # the header is fine, the pixels stop short
        response = await upload(http, broken)
        assert response.status_code == 422


async def _status_of_head(site: str, length: int) -> int:
    parts = urlsplit(site)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    head = (
        f"POST /api/blogs/photos/media HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: image/jpeg\r\nContent-Length: {length}\r\n\r\n"
    )
    writer.write(head.encode())
    status = int((await reader.readline()).split()[1])
    writer.close()
    return status


async def test_a_decompression_bomb_is_refused_without_the_memory(
    server_process: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    process = server_process(LIVEBLOG_MEDIA_DIR=str(tmp_path))
    bomb = png_bomb(8_000, 8_000)  # 64 megapixels: 192 MB decoded, about 200 KB sent
    assert len(bomb) < 1024 * 1024
    editor = Editor(process.url)
    try:
        await editor.blog("bombs")
        before = _peak_rss(process)
        response = await editor.http.post("/api/blogs/bombs/media", content=bomb,
                                          headers={"Content-Type": "image/png"})  # fmt: skip
        assert response.status_code == 422
        assert "8000x8000" in response.json()["detail"]
        assert _peak_rss(process) - before < 32 * 1024 * 1024
        assert not await asyncio.to_thread(lambda: list(tmp_path.rglob("*.png")))
    finally:
        await editor.close()


def _peak_rss(process: ServerProcess) -> int:
    assert process.process is not None
    status = Path(f"/proc/{process.process.pid}/status").read_text()
    kib = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    assert kib is not None
    return int(kib[1]) * 1024


async def test_the_reader_page_gets_sizes_and_types_to_choose_from(http: httpx.AsyncClient) -> None:
    photo = (await upload(http, jpeg((3000, 2000)))).json()
    media = {**photo, "alt": "A red square", "caption": "Red", "credit": "Desk"}
    del media["type"]
    response = await http.post("/api/blogs/photos/entries",
                               json={"body": "<p>Look</p>", "media": [media]})  # fmt: skip
    assert response.status_code == 201, response.text
    page = (await http.get("/blogs/photos")).text
    figure = page.split('class="entry__media', 1)[1].split("</figure>", 1)[0]
    assert 'type="image/webp"' in figure
    assert f'src="{photo["url"]}"' in figure
    assert 'width="3000" height="2000"' in figure
    assert "480w" in figure and "960w" in figure and "1600w" in figure and "sizes=" in figure


# --- photos in entries (docs/api.md, Media) -------------------------------------------------


async def _entry(http: httpx.AsyncClient, *media: dict[str, Any], path: str = "") -> httpx.Response:
    url = f"/api/blogs/photos/entries{path}"
    body = {"media": list(media)} if path else {"body": "<p>Look</p>", "media": list(media)}
    return await (http.patch(url, json=body) if path else http.post(url, json=body))


async def test_a_photo_is_described_or_decorative_and_never_a_providers_page(
    http: httpx.AsyncClient,
) -> None:
    refused = [
        ({"url": "https://img.example/a.jpg"}, "$.media[0].alt", "decorative"),
        ({"url": "https://img.example/a.jpg", "alt": "  "}, "$.media[0].alt", "decorative"),
        ({"url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "alt": "A video"},
         "$.media[0].url", '"type": "embed"'),
        ({"url": "https://x.com/someone/status/123", "alt": "A post"}, "$.media[0].url", "embed"),
        ({"url": "https://mastodon.social/@someone/111", "alt": "A toot"}, "$.media[0].url",
         "embed"),
    ]  # fmt: skip
    for media, path, hint in refused:
        response = await _entry(http, media)
        assert response.status_code == 422, media
        (error,) = response.json()["errors"]
        assert error["path"] == path and hint in error["message"], (media, error)
    entry = (await _entry(http, {"url": "https://img.example/b.jpg", "alt": "B"})).json()
    response = await _entry(http, {"url": "https://img.example/c.jpg"}, path=f"/{entry['id']}")
    assert response.status_code == 422  # an edit too
    accepted = [
        {"url": "https://img.example/a.jpg", "decorative": True},
        {"url": "https://mastodon.social/system/media/a.jpg", "alt": "A photo Mastodon serves"},
        {"type": "embed", "url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ"},
    ]
    assert (await _entry(http, *accepted)).status_code == 201
    assert (await http.get("/api/blogs/photos/entries")).json()["entries"][0]["media"][0][
        "decorative"
    ]


async def test_the_server_fills_in_its_own_uploads(http: httpx.AsyncClient, tmp_path: Path) -> None:
    """Posting only the upload's url (what its answer gives) gets readers every size."""
    photo = (await upload(http, jpeg((3000, 2000)))).json()
    # What the client says of the size is not what the server knows: the server's wins.
    sent = {"url": photo["url"], "alt": "A red field", "width": 10, "height": 10}
    stored = (await _entry(http, sent)).json()["media"][0]
    assert (stored["width"], stored["height"]) == (3000, 2000)
    assert stored["variants"] == photo["variants"] and len(stored["variants"]) >= 6
    page = (await http.get("/blogs/photos")).text
    assert 'width="3000" height="2000"' in page and "480w" in page and 'type="image/webp"' in page

    # One of its sizes posted alone: that size, no others.
    small = next(v for v in photo["variants"] if v["width"] == 960 and v["type"] == "image/jpeg")
    entry = (await _entry(http, {"url": small["url"], "alt": "Smaller"})).json()
    assert entry["media"][0] | {} == {**entry["media"][0], "width": 960, "height": 640,
                                      "variants": []}  # fmt: skip
    # An edit is filled in the same way; a photo from elsewhere keeps what the client said.
    other = {"url": "https://img.example/x.jpg", "alt": "X", "width": 800, "height": 600}
    edited = await _entry(
        http, {"url": photo["url"], "alt": "Again"}, other, path=f"/{entry['id']}"
    )
    own, foreign = edited.json()["media"]
    assert own["width"] == 3000 and own["variants"] == photo["variants"]
    assert (foreign["width"], foreign["height"], foreign["variants"]) == (800, 600, [])


async def test_an_upload_without_its_record_is_left_as_sent(
    settings_factory: Callable[..., Settings], tmp_path: Path
) -> None:
    """Uploads from before the record was written: the server does not guess."""
    settings = settings_factory(media_dir=str(tmp_path / "media"))
    async with (
        serve_in_process(settings) as url,
        httpx.AsyncClient(base_url=url, headers=AUTH, timeout=30) as http,
    ):
        await http.post("/api/blogs", json={"slug": "photos", "title": "Photos"})
        photo = (await upload(http, png((700, 500)))).json()
        (record,) = (tmp_path / "media").rglob("upload.json")
        record.unlink()
        stored = (await _entry(http, {"url": photo["url"], "alt": "Green"})).json()["media"][0]
        assert (stored["width"], stored["height"], stored["variants"]) == (None, None, [])


# --- S3 ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """moto's S3-compatible server on 127.0.0.1, with one bucket."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    _s3_client(url).create_bucket(Bucket="photos")
    yield url
    server.stop()


@pytest.mark.parametrize("engine_name", ["memory"])  # the store is what this test is about
async def test_photos_go_to_an_s3_compatible_store(
    settings_factory: Callable[..., Settings], s3_server: str
) -> None:
    settings = settings_factory(
        media_storage="s3",
        s3_endpoint_url=s3_server,
        s3_bucket="photos",
        s3_access_key_id="test",
        s3_secret_access_key="test",
        s3_public_url=f"{s3_server}/photos",
    )
    async with (
        serve_in_process(settings) as url,
        httpx.AsyncClient(base_url=url, headers=AUTH, timeout=30) as http,
    ):
        await http.post("/api/blogs", json={"slug": "photos", "title": "Photos"})
        response = await upload(http, jpeg(gps=True))
        assert response.status_code == 201, response.text
        photo: dict[str, Any] = response.json()
        assert photo["url"].startswith(f"{s3_server}/photos/photos/")
        assert not (await http.get("/media/" + photo["url"].split("/photos/", 1)[1])).is_success
    # As readers get them from the bucket's public URL (the bucket has a public-read policy
    # there; here the objects are read back with the store's own API).
    bucket = _s3_client(s3_server)
    for item in [photo, *photo["variants"]]:
        stored = bucket.get_object(Bucket="photos", Key=item["url"].split("/photos/", 1)[1])
        assert stored["CacheControl"] == "public, max-age=31536000, immutable"
        assert stored["ContentType"] == item.get("type", "image/jpeg")
        body = stored["Body"].read()
        assert not opened(body).getexif().get_ifd(ExifTags.IFD.GPSInfo)


@pytest.mark.parametrize("engine_name", ["memory"])
async def test_uploads_in_the_store_are_filled_in_too(
    settings_factory: Callable[..., Settings], s3_server: str
) -> None:
    """Readers get the bucket's objects from a CDN: an entry's photo with that URL is known."""
    settings = settings_factory(
        media_storage="s3", s3_endpoint_url=s3_server, s3_bucket="photos",
        s3_access_key_id="test", s3_secret_access_key="test",
        s3_public_url="https://cdn.example/photos",
    )  # fmt: skip
    async with (
        serve_in_process(settings) as url,
        httpx.AsyncClient(base_url=url, headers=AUTH, timeout=30) as http,
    ):
        await http.post("/api/blogs", json={"slug": "photos", "title": "Photos"})
        photo = (await upload(http, jpeg((1200, 800)))).json()
        assert photo["url"].startswith("https://cdn.example/photos/photos/")
        stored = (await _entry(http, {"url": photo["url"], "alt": "Red"})).json()["media"][0]
    assert (stored["width"], stored["height"]) == (1200, 800)
    assert stored["variants"] == photo["variants"]


def _s3_client(url: str) -> Any:
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip


@pytest.mark.parametrize("public_url", ["https://news.example", None])
async def test_feed_json_ld_and_og_image_name_uploaded_photos_absolutely(
    settings_factory: Callable[..., Settings], tmp_path: Path, public_url: str | None
) -> None:
    """An uploaded photo's URL is a path (/media/...): the feed, JSON-LD and og:image are read
    elsewhere (feed readers, search engines, social cards), so they get the public origin. With
    no trusted origin the feed and JSON-LD stay relative (resolved against their own URL) and
    og:image, which must be absolute, is left out."""
    settings = settings_factory(media_dir=str(tmp_path / "media"), public_url=public_url)
    async with serve_in_process(settings) as url:
        http = httpx.AsyncClient(base_url=url, headers=AUTH, timeout=30)
        editor = Editor(url)
        try:
            await editor.blog("photos")
            photo = (await upload(http, jpeg())).json()
            media = {"url": photo["url"], "alt": "A red field", "width": photo["width"],
                     "height": photo["height"], "variants": photo["variants"]}  # fmt: skip
            embed = {"type": "embed", "url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ"}
            await editor.post("photos", headline="Field", media=[embed, media])
            page = (await http.get("/blogs/photos")).text
            feed = (await http.get("/blogs/photos/feed.atom")).text
        finally:
            await editor.close()
            await http.aclose()
    expected = f"{public_url or ''}{photo['url']}"
    found = re.search(r'application/ld\+json">(.*?)</script>', page, re.S)
    assert found is not None
    ld = json.loads(found[1])
    assert ld["liveBlogUpdate"][0]["image"] == [expected]  # the photo, not the embed
    assert f'&lt;img src="{expected}"' in feed  # the entry's HTML, as text in the feed
    assert "https://www.youtube.com/watch?v=dQw4w9WgXcQ" in feed  # the embed as a link
    og = re.search(r'<meta property="og:image" content="([^"]+)"', page)
    if public_url:
        assert og is not None and og[1] == expected
    else:
        assert og is None
