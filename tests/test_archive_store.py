"""``liveblog archive`` from the object store: uploaded photos (named by the bucket's public
URL) are read from the bucket and copied next to the pages; another site's photo keeps its
address.
(tests/browser/test_archive.py opens an archive of local photos in Chromium.)"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image

from liveblog.app import create_app
from liveblog.config import Settings
from liveblog.editorial import transfer
from liveblog.pages import archive
from tests.support.clients import Editor
from tests.support.redis_server import free_port
from tests.support.servers import serve_app


@pytest.fixture(scope="module")
def bucket() -> Iterator[str]:
    """moto's S3-compatible server on 127.0.0.1 with a bucket; yields the bucket's URL."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    client: Any = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                               aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip
    client.create_bucket(Bucket="photos")
    yield f"{url}/photos"
    server.stop()


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1200, 800), (20, 120, 60)).save(out, "JPEG")
    return out.getvalue()


@pytest.mark.parametrize("engine_name", ["memory"])  # the store is what this test is about
async def test_an_archive_copies_photos_from_the_bucket(
    settings_factory: Callable[..., Settings], bucket: str, tmp_path: Path
) -> None:
    # Readers fetch photos from a CDN in front of the bucket; the archive reads the bucket.
    cdn = "https://cdn.example/photos"
    settings = settings_factory(
        media_storage="s3", s3_endpoint_url=bucket.rsplit("/", 1)[0], s3_bucket="photos",
        s3_access_key_id="test", s3_secret_access_key="test", s3_public_url=cdn,
    )  # fmt: skip
    app = create_app(settings)
    async with serve_app(app) as url:
        editor = Editor(url)
        try:
            await editor.create_blog("vote", "Vote")
            answer = await editor.http.post("/api/blogs/vote/media", content=jpeg(),
                                            headers={"Content-Type": "image/jpeg"})  # fmt: skip
            assert answer.status_code == 201, answer.text
            photo = answer.json()
            ours = {"url": photo["url"], "alt": "Ours", "variants": photo["variants"]}
            theirs = {"url": "https://images.example/theirs.jpg", "alt": "Theirs"}
            await editor.post("vote", headline="Two photos", media=[ours, theirs])
        finally:
            await editor.close()
        lines = await transfer.export_blog(app.state.engine, "vote")
        done = await archive.write_archive(lines, tmp_path / "site", settings)

    assert done.missing == [] and done.photos == 1 + len(photo["variants"])
    name = photo["url"].removeprefix(cdn + "/")
    copied = tmp_path / "site" / "media" / name
    assert copied.read_bytes()[:3] == b"\xff\xd8\xff"  # the JPEG itself, from the bucket
    html = (tmp_path / "site" / "index.html").read_text()
    assert f'src="media/{name}"' in html
    assert 'src="https://images.example/theirs.jpg"' in html
    assert cdn not in html
