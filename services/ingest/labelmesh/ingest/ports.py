"""The ingest service's storage ports; MongoDB adapters and in-memory twins implement them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from labelmesh.core.uow import Transaction
from labelmesh.ingest.fetching import BytePool, Fetched
from labelmesh.ingest.records import StoredItem


class ItemRepository(Protocol):
    """A project's items, unique by content hash within the project."""

    async def ids_by_hash(self, project_id: str, hashes: Sequence[str]) -> dict[str, str]:
        """The ids of the project's items with these content hashes, by hash."""
        ...

    async def insert(self, tx: Transaction, items: Sequence[StoredItem]) -> None:
        """Store new items; raises Conflict if one's id or content hash is already stored."""
        ...

    async def get(self, item_id: str) -> StoredItem | None: ...

    async def get_many(self, item_ids: Sequence[str]) -> list[StoredItem]:
        """The items of these ids that are stored, in no particular order."""
        ...

    async def delete(self, tx: Transaction, item_ids: Sequence[str]) -> None:
        """Remove the items; ids not stored are skipped."""
        ...


class UrlFetcher(Protocol):
    """Fetches what a URL import names, within the service's address policy and limits."""

    async def fetch(self, url: str, pool: BytePool | None = None) -> Fetched:
        """The URL's content; raises FetchFailed with the outcome and the reason."""
        ...

    async def close(self) -> None: ...
