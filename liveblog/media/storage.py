"""Where uploaded photos live: a local directory served at /media/, or an S3-compatible bucket.

Object names are ``<slug>/<digest of the upload>/<width>.<ext>``: content-addressed, so a URL
never changes what it shows, and both backends serve it with an immutable cache lifetime.
"""

from __future__ import annotations

import abc
import asyncio
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from liveblog.config import Settings

IMMUTABLE = "public, max-age=31536000, immutable"
LOCAL_PREFIX = "/media/"
# What an object name may look like (also the only paths /media/ serves).
NAME_PATTERN = re.compile(
    r"^[a-z0-9][a-z0-9-]{0,63}/[0-9a-f]{24}/[0-9]{1,5}\.(?:jpg|png|webp|gif)\Z"
)


class Storage(abc.ABC):
    @abc.abstractmethod
    async def put(self, name: str, data: bytes, media_type: str) -> None:
        """Store an object; storing the same name again is harmless (same content)."""

    @abc.abstractmethod
    async def get(self, name: str) -> bytes | None:
        """A stored object; None when there is none of that name."""

    @abc.abstractmethod
    def url(self, name: str) -> str:
        """Where readers fetch it."""

    @abc.abstractmethod
    def name_of(self, url: str) -> str | None:
        """The object a URL of :meth:`url` names; None for any other URL."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass


class LocalStorage(Storage):
    """Files under ``directory``; ``liveblog.pages.media_files`` answers ``/media/<name>``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).resolve()

    def path(self, name: str) -> Path:
        return self.directory / name

    async def put(self, name: str, data: bytes, media_type: str) -> None:
        await asyncio.to_thread(self._write, self.path(name), data)

    async def get(self, name: str) -> bytes | None:
        return await asyncio.to_thread(self._read, self.path(name))

    @staticmethod
    def _read(path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        # Written aside and renamed: a reader never gets half a file.
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def url(self, name: str) -> str:
        return LOCAL_PREFIX + name

    def name_of(self, url: str) -> str | None:
        return url.removeprefix(LOCAL_PREFIX) if url.startswith(LOCAL_PREFIX) else None


class S3Storage(Storage):
    """An S3-compatible bucket through boto3 (calls run in a worker thread).

    boto3 is imported here only: ``pip install 'liveblog[s3]'`` where the setting asks for it.
    """

    def __init__(self, settings: Settings) -> None:
        import boto3  # an optional dependency, only with media_storage=s3
        from botocore.config import Config

        assert settings.s3_bucket and settings.s3_public_url  # checked by Settings
        self.bucket = settings.s3_bucket
        self.public_url = settings.s3_public_url.rstrip("/")
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key,
            config=Config(
                connect_timeout=5,
                read_timeout=30,
                retries={"max_attempts": 3, "mode": "standard"},
                # Path-style works on every S3-compatible server, virtual hosts need DNS.
                s3={"addressing_style": "path"},
            ),
        )

    async def put(self, name: str, data: bytes, media_type: str) -> None:
        await asyncio.to_thread(
            self._client.put_object,
            Bucket=self.bucket,
            Key=name,
            Body=data,
            ContentType=media_type,
            CacheControl=IMMUTABLE,
        )

    async def get(self, name: str) -> bytes | None:
        return await asyncio.to_thread(self._get, name)

    def _get(self, name: str) -> bytes | None:
        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=name)
        except self._client.exceptions.NoSuchKey:
            return None
        body: bytes = answer["Body"].read()
        return body

    def url(self, name: str) -> str:
        return f"{self.public_url}/{name}"

    def name_of(self, url: str) -> str | None:
        prefix = self.public_url + "/"
        return url.removeprefix(prefix) if url.startswith(prefix) else None

    async def close(self) -> None:
        self._client.close()


def make_storage(settings: Settings) -> Storage:
    if settings.media_storage == "s3":
        return S3Storage(settings)
    return LocalStorage(settings.media_dir)


def storage_of(state: Any) -> Storage:
    """The app's media storage (``state``: the app's state, which holds its settings), made on
    first use: the S3 client is not free to build."""
    storage: Storage | None = getattr(state, "media_storage", None)
    if storage is None:
        storage = state.media_storage = make_storage(state.settings)
    return storage
