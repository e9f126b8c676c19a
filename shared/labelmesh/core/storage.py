"""The object-store port and its adapters: a local directory and S3 (via minio).

Keys are relative, slash-separated paths such as
`projects/<project_id>/items/<item_id>/<sha256>`. Every adapter validates a key
with `validate_key` before touching the disk or the network.
"""

from __future__ import annotations

import asyncio
import io
import os
import secrets
import shutil
from pathlib import Path
from typing import Protocol

import certifi
import urllib3
from minio import Minio
from minio.error import S3Error

from labelmesh.core.config import CoreSettings

MAX_KEY_BYTES = 1024
# Bytes read at a time when copying a file into the store.
COPY_BYTES = 1024 * 1024
# Part size of S3 multipart uploads from a file.
PART_BYTES = 16 * 1024 * 1024
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchObject"})
_BUCKET_TAKEN_CODES = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})


class ObjectNotFound(LookupError):
    """No object is stored under `key`."""

    def __init__(self, key: str) -> None:
        super().__init__(f"object not found: {key!r}")
        self.key = key


class ObjectStore(Protocol):
    """Where media bytes live. Implementations are safe to share between tasks."""

    async def ensure_ready(self) -> None:
        """Create the bucket or directory if missing; called once at service start."""
        ...

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`, replacing any previous object atomically."""
        ...

    async def get(self, key: str) -> bytes:
        """Return the object's bytes, or raise `ObjectNotFound`."""
        ...

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Store the file at `path` under `key`, reading it a part at a time."""
        ...

    async def exists(self, key: str) -> bool:
        """Tell whether an object is stored under `key`."""
        ...

    async def size(self, key: str) -> int:
        """The object's size in bytes, or raise `ObjectNotFound`."""
        ...

    async def read_range(self, key: str, start: int, length: int) -> bytes:
        """At most `length` bytes of the object from byte `start`, or raise `ObjectNotFound`."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error."""
        ...

    async def close(self) -> None:
        """Release connections; the store is unusable afterwards."""
        ...


def validate_key(key: str) -> str:
    """Return `key` unchanged if it is a safe object key, else raise `ValueError`.

    A key is non-empty, at most 1024 bytes in UTF-8 (the S3 limit), relative,
    uses `/` as its only separator, has no empty, `.` or `..` segment, and no
    control characters.
    """
    reason = _key_problem(key)
    if reason is not None:
        raise ValueError(f"invalid object key {key!r}: {reason}")
    return key


def _key_problem(key: str) -> str | None:
    if not key:
        return "must not be empty"
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        return f"longer than {MAX_KEY_BYTES} bytes"
    if key.startswith("/"):
        return "must not start with '/'"
    if "\\" in key:
        return "must not contain a backslash"
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in key):
        return "must not contain control characters"
    for segment in key.split("/"):
        if segment == "..":
            return "must not contain a '..' segment"
        if segment == ".":
            return "must not contain a '.' segment"
        if not segment:
            return "must not contain an empty segment (trailing or double '/')"
    return None


class LocalDiskStore:
    """Objects as files under `root`, one file per key.

    Writes go to a temporary file in the target directory, are flushed to disk,
    then renamed over the target, so readers and crashes only ever see a whole
    object. The content type is not kept. A key must not be a prefix
    directory of another key (`a/b` and `a/b/c`), which the key scheme avoids.
    """

    def __init__(self, root: Path) -> None:
        self._root = root

    @property
    def root(self) -> Path:
        """The directory holding the objects."""
        return self._root

    async def ensure_ready(self) -> None:
        await asyncio.to_thread(self._root.mkdir, parents=True, exist_ok=True)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        await asyncio.to_thread(_write_atomically, path, data)

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        target = self._path(key)
        await asyncio.to_thread(_copy_atomically, path, target)

    async def exists(self, key: str) -> bool:
        path = self._path(key)
        return await asyncio.to_thread(path.is_file)

    async def size(self, key: str) -> int:
        path = self._path(key)
        try:
            return (await asyncio.to_thread(path.stat)).st_size
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(key) from None

    async def read_range(self, key: str, start: int, length: int) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(_read_range, path, start, length)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None

    async def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            await asyncio.to_thread(path.unlink, missing_ok=True)
        except (IsADirectoryError, NotADirectoryError):
            pass

    async def close(self) -> None:
        return None

    def _path(self, key: str) -> Path:
        return self._root.joinpath(*validate_key(key).split("/"))


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{secrets.token_hex(8)}.part")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _copy_atomically(source: Path, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{secrets.token_hex(8)}.part")
    try:
        with source.open("rb") as reading, temp.open("xb") as file:
            shutil.copyfileobj(reading, file, COPY_BYTES)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _read_range(path: Path, start: int, length: int) -> bytes:
    with path.open("rb") as file:
        file.seek(start)
        return file.read(length)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; directories cannot be opened on Windows.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class S3ObjectStore:
    """Objects in one S3 bucket, reached through the synchronous minio client.

    Each call runs in a worker thread. `endpoint` is `host:port` without a scheme.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        region: str = "us-east-1",
        secure: bool = True,
        timeout_seconds: float = 60.0,
    ) -> None:
        self._bucket = bucket
        self._region = region
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=timeout_seconds, read=timeout_seconds),
            maxsize=10,
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
            retries=urllib3.Retry(
                total=3, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
            ),
        )
        self._client = Minio(
            endpoint,
            access_key=access_key or None,
            secret_key=secret_key or None,
            secure=secure,
            region=region,
            http_client=self._http,
        )

    @property
    def bucket(self) -> str:
        """The bucket holding the objects."""
        return self._bucket

    async def ensure_ready(self) -> None:
        await asyncio.to_thread(self._ensure_bucket)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        validate_key(key)
        await asyncio.to_thread(
            self._client.put_object,
            self._bucket,
            key,
            io.BytesIO(data),
            len(data),
            content_type=content_type,
        )

    async def get(self, key: str) -> bytes:
        validate_key(key)
        try:
            return await asyncio.to_thread(self._read, key)
        except S3Error as exc:
            if exc.code in _NOT_FOUND_CODES:
                raise ObjectNotFound(key) from None
            raise

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        validate_key(key)
        await asyncio.to_thread(
            self._client.fput_object,
            self._bucket,
            key,
            str(path),
            content_type=content_type,
            part_size=PART_BYTES,
        )

    async def exists(self, key: str) -> bool:
        validate_key(key)
        try:
            await asyncio.to_thread(self._client.stat_object, self._bucket, key)
        except S3Error as exc:
            if exc.code in _NOT_FOUND_CODES:
                return False
            raise
        return True

    async def size(self, key: str) -> int:
        validate_key(key)
        try:
            stat = await asyncio.to_thread(self._client.stat_object, self._bucket, key)
        except S3Error as exc:
            if exc.code in _NOT_FOUND_CODES:
                raise ObjectNotFound(key) from None
            raise
        return stat.size or 0

    async def read_range(self, key: str, start: int, length: int) -> bytes:
        validate_key(key)
        if length <= 0:
            return b""
        try:
            return await asyncio.to_thread(self._read, key, start, length)
        except S3Error as exc:
            if exc.code in _NOT_FOUND_CODES:
                raise ObjectNotFound(key) from None
            if exc.code == "InvalidRange":  # starts at or past the end
                return b""
            raise

    async def delete(self, key: str) -> None:
        validate_key(key)
        await asyncio.to_thread(self._client.remove_object, self._bucket, key)

    async def close(self) -> None:
        self._http.clear()

    def _read(self, key: str, start: int = 0, length: int = 0) -> bytes:
        response = self._client.get_object(self._bucket, key, offset=start, length=length)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def _ensure_bucket(self) -> None:
        if self._client.bucket_exists(self._bucket):
            return
        try:
            self._client.make_bucket(self._bucket, location=self._region)
        except S3Error as exc:
            # Another replica may have created it between the check and here.
            if exc.code not in _BUCKET_TAKEN_CODES or not self._client.bucket_exists(self._bucket):
                raise


def object_store_from_settings(settings: CoreSettings) -> ObjectStore:
    """Build the adapter that `LABELMESH_OBJECT_STORE` selects."""
    if settings.object_store == "s3":
        return S3ObjectStore(
            endpoint=settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            bucket=settings.s3_bucket,
            region=settings.s3_region,
            secure=settings.s3_secure,
        )
    return LocalDiskStore(settings.media_dir)
