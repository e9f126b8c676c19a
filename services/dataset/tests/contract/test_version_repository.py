"""The version repository contract, against the in-memory twin and SecantusDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.mongo import Document
from labelmesh.dataset.adapters.repository import MongoVersionRepository
from labelmesh.dataset.ports import VersionRepository
from labelmesh.dataset.records import ManifestChunk, StoredVersion
from labelmesh.testing.backends import Backend
from labelmesh.testing.memory import MemoryState
from labelmesh.testing.twins.dataset import InMemoryVersionRepository
from labelmesh.v1.events_pb2 import DatasetFilter, DatasetVersion

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


async def versions_of(backend: Backend) -> VersionRepository:
    def twin(state: MemoryState) -> VersionRepository:
        return InMemoryVersionRepository(state)

    def mongo(db: AsyncDatabase[Document]) -> VersionRepository:
        return MongoVersionRepository(db)

    versions = backend.pick(twin, mongo)
    if isinstance(versions, MongoVersionRepository):
        await versions.ensure_indexes()
    return versions


def stored(version_id: str, minutes: int = 0, project: str = "p1") -> StoredVersion:
    version = DatasetVersion(
        version_id=version_id,
        project_id=project,
        name=f"v {version_id}",
        filter=DatasetFilter(classes=["cat"], min_confidence=0.5),
        item_count=3,
        class_counts={"cat": 3},
    )
    version.created_at.FromDatetime(AT + timedelta(minutes=minutes))
    return StoredVersion(version, f"manifest-{version_id}", 2)


async def test_a_version_is_stored_once(backend: Backend) -> None:
    versions = await versions_of(backend)
    async with backend.uow.begin() as tx:
        assert await versions.add(tx, stored("v1"))
    async with backend.uow.begin() as tx:
        again = StoredVersion(stored("v1").version, "another-manifest", 9)
        assert not await versions.add(tx, again)
    assert await versions.get("v1") == stored("v1")
    assert await versions.get("missing") is None


async def test_versions_are_listed_newest_first_from_a_position(backend: Backend) -> None:
    versions = await versions_of(backend)
    async with backend.uow.begin() as tx:
        for n, version_id in enumerate(["a", "b", "c", "d"]):
            await versions.add(tx, stored(version_id, n))
        await versions.add(tx, stored("elsewhere", 9, "p2"))
    newest = await versions.newest("p1", 3)
    assert [v.version.version_id for v in newest] == ["d", "c", "b"]
    after_c = await versions.newest("p1", 3, (AT + timedelta(minutes=2), "c"))
    assert [v.version.version_id for v in after_c] == ["b", "a"]


async def test_manifest_chunks_read_back_and_are_dropped_together(backend: Backend) -> None:
    versions = await versions_of(backend)
    await versions.put_chunks(
        [
            ManifestChunk("m1", 0, (b"one", b"two"), (b"1\n", b"2\n")),
            ManifestChunk("m1", 1, (b"three",), (b"3\n",)),
            ManifestChunk("m2", 0, (b"other",), (b"o\n",)),
        ]
    )
    assert await versions.chunk("m1", 1) == ManifestChunk("m1", 1, (b"three",), (b"3\n",))
    await versions.drop_manifest("m1")
    assert await versions.chunk("m1", 0) is None
    assert await versions.chunk("m2", 0) == ManifestChunk("m2", 0, (b"other",), (b"o\n",))
