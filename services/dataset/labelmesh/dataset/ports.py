"""The dataset service's storage ports; MongoDB adapters and in-memory twins implement them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Protocol

from labelmesh.core.uow import Transaction
from labelmesh.dataset.records import ManifestChunk, ProjectedItem, StoredVersion


class ItemProjection(Protocol):
    """Every item the service has heard of, with its accepted labels once it has them."""

    async def get_many(self, tx: Transaction, item_ids: Sequence[str]) -> dict[str, ProjectedItem]:
        """The items with these ids that are known, by id, as `tx` sees them."""
        ...

    async def put_many(self, tx: Transaction, items: Sequence[ProjectedItem]) -> None:
        """Store these items as they now are, replacing what was stored."""
        ...

    def accepted(self, project_id: str, batch: int) -> AsyncIterator[list[ProjectedItem]]:
        """The project's items that have accepted labels, in item id order, `batch` at a time."""
        ...


class VersionRepository(Protocol):
    """Dataset versions and their manifests. A manifest's chunks are written
    before its version, outside the version's transaction, and are never changed."""

    async def put_chunks(self, chunks: Sequence[ManifestChunk]) -> None: ...

    async def drop_manifest(self, manifest_id: str) -> None:
        """Remove a manifest whose version was never stored."""
        ...

    async def add(self, tx: Transaction, version: StoredVersion) -> bool:
        """Store a new version; False (and nothing written) if its id is stored
        already. Raises Conflict if another transaction stores it meanwhile."""
        ...

    async def get(self, version_id: str) -> StoredVersion | None: ...

    async def newest(
        self, project_id: str, limit: int, before: tuple[datetime, str] | None = None
    ) -> list[StoredVersion]:
        """The project's versions newest first, from just before `before`
        (created at, version id) when given."""
        ...

    async def chunk(self, manifest_id: str, index: int) -> ManifestChunk | None: ...
