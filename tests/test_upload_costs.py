"""Uploads are bounded by what they cost, not by what they claim (docs/api.md, Media): an image
whose pixels would take more than LIVEBLOG_MEDIA_MAX_DECODED_BYTES once decoded is refused from
its header alone, a large photo under it is kept at the largest size kept, and an upload holds
one of the host's upload slots from before its body is read, whichever process serves it."""

from __future__ import annotations

import asyncio
import fcntl
import io
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from PIL import Image

from liveblog.config import Settings
from tests.support.photos import encoded, png_bomb, png_claiming, smooth
from tests.support.raw_http import RawRequest
from tests.support.servers import ADMIN_TOKEN, ServerProcess, serve_in_process

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PROBLEM = "application/problem+json"


@pytest.fixture
async def site(settings_factory: Callable[..., Settings], tmp_path: Path) -> AsyncIterator[str]:
    async with serve_in_process(settings_factory(media_dir=str(tmp_path / "media"))) as url:
        async with httpx.AsyncClient(base_url=url, headers=AUTH) as client:
            assert (
                await client.post("/api/blogs", json={"slug": "big", "title": "Big"})
            ).is_success
        yield url


async def upload(url: str, data: bytes, media_type: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=120) as client:
        return await client.post("/api/blogs/big/media", content=data,
                                 headers={"Content-Type": media_type})  # fmt: skip


@pytest.mark.parametrize("engine_name", ["memory"])  # the photo, not the store, is judged
async def test_an_image_over_the_decoded_size_cap_is_refused_from_its_header(
    site: str, tmp_path: Path
) -> None:
    # 7,000 x 7,000 RGBA: under the 50-megapixel claim limit, 190 KB sent, 187 MiB decoded.
    bomb = png_bomb(7_000, 7_000, alpha=True)
    assert len(bomb) < 256 * 1024
    refused = await upload(site, bomb, "image/png")
    assert refused.status_code == 422
    assert refused.headers["content-type"] == PROBLEM
    detail = refused.json()["detail"]
    assert "would take 187 MiB" in detail and "7000x7000" in detail and "128 MiB" in detail

    # Judged on its header alone: the same claim with no pixel data behind it gets the same
    # answer. Had anything been decoded, this one would have been found damaged instead.
    claim = await upload(site, png_claiming(7_000, 7_000), "image/png")
    assert (claim.status_code, claim.json()["detail"]) == (422, detail)

    # An animation costs every frame: 120 frames of 1,200 x 1,000 take 137 MiB.
    frames = [Image.new("P", (1_200, 1_000), i % 7) for i in range(120)]
    gif = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])
    animated = await upload(site, gif, "image/gif")
    assert animated.status_code == 422
    assert "120 frames" in animated.json()["detail"]
    assert "would take 137 MiB" in animated.json()["detail"]

    # A progressive JPEG is decoded from all its scans at once: libjpeg holds every coefficient
    # of the full-size picture (here 127 MiB), whatever size it decodes the pixels at.
    picture = smooth((4_700, 4_700))
    progressive = encoded(picture, "JPEG", progressive=True, subsampling=0, quality=60)
    deep = await upload(site, progressive, "image/jpeg")
    assert deep.status_code == 422
    assert "progressive JPEG" in deep.json()["detail"]
    assert not [p for p in (tmp_path / "media").rglob("*") if p.is_file()]  # nothing stored


@pytest.mark.parametrize("engine_name", ["memory"])
async def test_large_photos_under_the_cap_are_kept_at_the_largest_size_kept(site: str) -> None:
    # A 24-megapixel camera JPEG: decoded at half size straight from the file, kept at 6 MP.
    camera = encoded(smooth((6_000, 4_000)), "JPEG", quality=85)
    response = await upload(site, camera, "image/jpeg")
    assert response.status_code == 201, response.text
    photo = response.json()
    assert (photo["width"], photo["height"], photo["type"]) == (3_000, 2_000, "image/jpeg")
    sizes = sorted((v["width"], v["type"]) for v in photo["variants"])
    assert sizes == [(480, "image/jpeg"), (480, "image/webp"), (960, "image/jpeg"),
                     (960, "image/webp"), (1600, "image/jpeg"), (1600, "image/webp"),
                     (3000, "image/webp")]  # fmt: skip
    async with httpx.AsyncClient(base_url=site) as client:
        kept = await client.get(photo["url"])
    assert Image.open(io.BytesIO(kept.content)).size == (3_000, 2_000)

    # A big PNG (95 MiB decoded, under the cap) is kept too, scaled to 6 megapixels.
    response = await upload(site, png_bomb(5_000, 5_000), "image/png")
    assert response.status_code == 201, response.text
    assert (response.json()["width"], response.json()["height"]) == (2_449, 2_449)


def _slot_held(directory: Path, name: str) -> bool:
    """Whether some process holds the lock file ``name`` (tried without waiting)."""
    path = directory / name
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases it at once if this test took it
    return False


async def test_the_upload_slot_is_taken_before_the_body_and_shared_by_the_hosts_processes(
    server_process: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    slots = tmp_path / "slots"
    shared = {
        "LIVEBLOG_MEDIA_DIR": str(tmp_path / "media"),
        "LIVEBLOG_MEDIA_SLOTS_DIR": str(slots),
        "LIVEBLOG_MEDIA_UPLOADS_AT_ONCE": "1",
        "LIVEBLOG_REQUEST_BODY_TIMEOUT_SECONDS": "120",  # the holder pauses: not its concern
    }
    holding = server_process(LIVEBLOG_MEDIA_SLOT_WAIT_SECONDS="60", **shared)
    impatient = server_process(LIVEBLOG_MEDIA_SLOT_WAIT_SECONDS="2", **shared)
    patient = server_process(LIVEBLOG_MEDIA_SLOT_WAIT_SECONDS="60", **shared)
    async with httpx.AsyncClient(base_url=holding.url, headers=AUTH) as client:
        assert (await client.post("/api/blogs", json={"slug": "big", "title": "Big"})).is_success
    photo = encoded(Image.effect_noise((500, 400), 60).convert("RGB"), "JPEG", quality=95)
    headers = {**AUTH, "Content-Type": "image/jpeg", "Content-Length": str(len(photo))}

    # An upload to the first process sends part of its body, and stops: it holds the slot.
    holder = await RawRequest(holding.url, "POST", "/api/blogs/big/media", headers).open(
        photo[:1000]
    )
    async with asyncio.timeout(30):
        while not _slot_held(slots, "upload-0.lock"):
            await asyncio.sleep(0.05)

    # Another process's upload sends its head and not one byte of its body: no slot frees
    # within its wait, and it is told so (it was never asked for its body).
    refused = await RawRequest(impatient.url, "POST", "/api/blogs/big/media", headers).open()
    async with asyncio.timeout(30):
        answer = await refused.answer()
    assert answer.status == 503
    assert answer.headers["content-type"] == PROBLEM
    assert int(answer.headers["retry-after"]) >= 1
    assert "Too many photos" in answer.json()["detail"]
    refused.close()

    # A third process's whole upload waits for its turn while the slot is held...
    async def whole() -> httpx.Response:
        async with httpx.AsyncClient(base_url=patient.url, headers=AUTH, timeout=60) as http:
            return await http.post("/api/blogs/big/media", content=photo,
                                   headers={"Content-Type": "image/jpeg"})  # fmt: skip

    queued = asyncio.create_task(whole())
    await asyncio.sleep(1)
    assert not queued.done()
    # ...and gets it once the holder's upload is done.
    assert await holder.send(photo[1000:])
    async with asyncio.timeout(30):
        assert (await holder.answer()).status == 201
    holder.close()
    response = await queued
    assert response.status_code == 201, response.text
