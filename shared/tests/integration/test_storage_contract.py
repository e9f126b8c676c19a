"""One contract for the `ObjectStore` port, run against every adapter.

`LocalDiskStore` runs on a temporary directory; `S3ObjectStore` runs against a
real moto S3 server listening on 127.0.0.1, with a fresh bucket per test.
"""

import asyncio
import random
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from labelmesh.core.storage import LocalDiskStore, ObjectNotFound, ObjectStore, S3ObjectStore

pytestmark = pytest.mark.integration

KEY = "projects/p1/items/i1/" + "0" * 64
OTHER_KEY = "projects/p1/items/i2/" + "1" * 64
INVALID_KEYS = ["", "/abs/key", "projects/../escape", "projects\\p1", "k" * 1025]
Operation = Callable[[ObjectStore, str], Awaitable[object]]
OPERATIONS: dict[str, Operation] = {
    "put": lambda store, key: store.put(key, b"x", "text/plain"),
    "get": lambda store, key: store.get(key),
    "exists": lambda store, key: store.exists(key),
    "delete": lambda store, key: store.delete(key),
    "size": lambda store, key: store.size(key),
    "read_range": lambda store, key: store.read_range(key, 0, 1),
}


class ObjectStoreContract:
    """Behaviour every adapter must show. Subclasses provide three fixtures:
    `store` (ready and empty), `twin` (a second instance over the same
    location, not yet ensured ready) and `unready_store` (whose location does
    not exist or cannot be reached)."""

    async def test_round_trip_of_every_byte_value(self, store: ObjectStore) -> None:
        data = bytes(range(256)) * 4
        await store.put(KEY, data, "application/octet-stream")
        assert await store.get(KEY) == data

    async def test_round_trip_of_empty_object(self, store: ObjectStore) -> None:
        await store.put(KEY, b"", "application/octet-stream")
        assert await store.get(KEY) == b""
        assert await store.exists(KEY)

    async def test_round_trip_of_large_object(self, store: ObjectStore) -> None:
        # Just over 5 MiB, so S3 clients switch to a multipart upload.
        data = random.Random(7).randbytes(5 * 1024 * 1024 + 17)
        await store.put(KEY, data, "image/png")
        assert await store.get(KEY) == data

    async def test_get_of_missing_key_raises_object_not_found(self, store: ObjectStore) -> None:
        with pytest.raises(ObjectNotFound) as excinfo:
            await store.get(KEY)
        assert excinfo.value.key == KEY
        assert KEY in str(excinfo.value)

    async def test_exists_follows_put_and_delete(self, store: ObjectStore) -> None:
        assert not await store.exists(KEY)
        await store.put(KEY, b"data", "text/plain")
        assert await store.exists(KEY)
        assert not await store.exists(OTHER_KEY)
        await store.delete(KEY)
        assert not await store.exists(KEY)
        with pytest.raises(ObjectNotFound):
            await store.get(KEY)

    async def test_delete_is_idempotent(self, store: ObjectStore) -> None:
        await store.delete(KEY)
        await store.put(KEY, b"data", "text/plain")
        await store.delete(KEY)
        await store.delete(KEY)
        assert not await store.exists(KEY)

    async def test_a_file_is_stored_and_read_back_in_ranges(
        self, store: ObjectStore, tmp_path: Path
    ) -> None:
        # Over two S3 parts, so the upload from the file is multipart.
        data = random.Random(3).randbytes(2 * 16 * 1024 * 1024 + 5)
        source = tmp_path / "archive.zip"
        source.write_bytes(data)
        await store.put_file(KEY, source, "application/zip")
        assert await store.size(KEY) == len(data)
        assert await store.read_range(KEY, 0, 10) == data[:10]
        assert (
            await store.read_range(KEY, 16 * 1024 * 1024 - 3, 7) == data[16 * 1024 * 1024 - 3 :][:7]
        )
        assert await store.read_range(KEY, len(data) - 4, 100) == data[-4:]
        assert await store.read_range(KEY, len(data), 10) == b""
        assert await store.get(KEY) == data

    async def test_size_and_ranges_of_a_missing_key_raise_object_not_found(
        self, store: ObjectStore
    ) -> None:
        with pytest.raises(ObjectNotFound):
            await store.size(KEY)
        with pytest.raises(ObjectNotFound):
            await store.read_range(KEY, 0, 1)

    async def test_overwrite_replaces_whole_object(self, store: ObjectStore) -> None:
        await store.put(KEY, b"a much longer first version", "text/plain")
        await store.put(KEY, b"short", "text/plain")
        assert await store.get(KEY) == b"short"

    async def test_concurrent_writers_leave_one_whole_version(self, store: ObjectStore) -> None:
        versions = [bytes([n]) * 100_000 for n in range(8)]
        await asyncio.gather(*(store.put(KEY, data, "text/plain") for data in versions))
        assert await store.get(KEY) in versions

    async def test_key_prefix_is_not_an_object(self, store: ObjectStore) -> None:
        await store.put(KEY, b"data", "text/plain")
        prefix = KEY.rsplit("/", 1)[0]
        assert not await store.exists(prefix)
        with pytest.raises(ObjectNotFound):
            await store.get(prefix)
        await store.delete(prefix)
        assert await store.get(KEY) == b"data"

    async def test_ensure_ready_twice_is_harmless(
        self, store: ObjectStore, twin: ObjectStore
    ) -> None:
        await store.put(KEY, b"kept", "text/plain")
        await store.ensure_ready()
        await twin.ensure_ready()
        await twin.ensure_ready()
        assert await twin.get(KEY) == b"kept"
        await twin.put(OTHER_KEY, b"seen", "text/plain")
        assert await store.get(OTHER_KEY) == b"seen"

    @pytest.mark.parametrize("operation", sorted(OPERATIONS))
    @pytest.mark.parametrize("key", INVALID_KEYS)
    async def test_invalid_key_is_rejected_before_any_io(
        self, unready_store: ObjectStore, operation: str, key: str
    ) -> None:
        with pytest.raises(ValueError, match="invalid object key"):
            await OPERATIONS[operation](unready_store, key)


class TestLocalDiskStore(ObjectStoreContract):
    """The contract on a temporary directory."""

    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[ObjectStore]:
        store = LocalDiskStore(tmp_path / "media")
        await store.ensure_ready()
        yield store
        await store.close()

    @pytest.fixture
    async def twin(self, tmp_path: Path) -> AsyncIterator[ObjectStore]:
        twin = LocalDiskStore(tmp_path / "media")
        yield twin
        await twin.close()

    @pytest.fixture
    async def unready_store(self, tmp_path: Path) -> AsyncIterator[ObjectStore]:
        store = LocalDiskStore(tmp_path / "missing" / "media")
        yield store
        assert not (tmp_path / "missing").exists(), "an invalid key reached the disk"

    async def test_leaves_no_temporary_files(self, tmp_path: Path) -> None:
        store = LocalDiskStore(tmp_path / "media")
        await store.ensure_ready()
        await store.put(KEY, b"one", "text/plain")
        await store.put(KEY, b"two", "text/plain")
        files = [p for p in (tmp_path / "media").rglob("*") if p.is_file()]
        assert files == [tmp_path / "media" / KEY]


def _s3_store(endpoint: str, bucket: str, region: str = "us-east-1") -> S3ObjectStore:
    return S3ObjectStore(
        endpoint=endpoint,
        access_key="testing",
        secret_key="testing",
        bucket=bucket,
        region=region,
        secure=False,
        timeout_seconds=10.0,
    )


def _closed_local_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class TestS3ObjectStore(ObjectStoreContract):
    """The contract against a real S3 HTTP server (moto)."""

    @pytest.fixture
    def bucket(self) -> str:
        return f"labelmesh-test-{uuid.uuid4().hex[:16]}"

    @pytest.fixture
    async def store(self, moto_endpoint: str, bucket: str) -> AsyncIterator[ObjectStore]:
        store = _s3_store(moto_endpoint, bucket)
        await store.ensure_ready()
        yield store
        await store.close()

    @pytest.fixture
    async def twin(self, moto_endpoint: str, bucket: str) -> AsyncIterator[ObjectStore]:
        twin = _s3_store(moto_endpoint, bucket)
        yield twin
        await twin.close()

    @pytest.fixture
    async def unready_store(self) -> AsyncIterator[ObjectStore]:
        # Nothing listens there: any request would fail with a connection error.
        store = _s3_store(f"127.0.0.1:{_closed_local_port()}", "labelmesh-unreachable")
        yield store
        await store.close()

    async def test_ensure_ready_tolerates_a_bucket_created_concurrently(
        self, moto_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Outside us-east-1, creating an existing bucket fails with
        # BucketAlreadyOwnedByYou, which is the error a racing replica sees.
        winner = _s3_store(moto_endpoint, bucket, region="eu-west-1")
        loser = _s3_store(moto_endpoint, bucket, region="eu-west-1")
        monkeypatch.setattr(loser._client, "bucket_exists", _false_once(loser))
        await winner.ensure_ready()
        await loser.ensure_ready()
        await loser.put(KEY, b"data", "text/plain")
        assert await winner.get(KEY) == b"data"
        await winner.close()
        await loser.close()


def _false_once(store: S3ObjectStore) -> Callable[[str], bool]:
    """A `bucket_exists` that misses the bucket the first time, like a racing replica."""
    real = store._client.bucket_exists
    calls = 0

    def bucket_exists(name: str) -> bool:
        nonlocal calls
        calls += 1
        return False if calls == 1 else real(name)

    return bucket_exists
