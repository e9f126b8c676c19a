"""In-memory twin of the ingest service's item repository."""

from __future__ import annotations

from collections.abc import Sequence

from labelmesh.core.errors import Conflict
from labelmesh.core.uow import Transaction
from labelmesh.ingest.records import StoredItem
from labelmesh.testing.memory import MemoryState


class InMemoryItemRepository:
    def __init__(self, state: MemoryState) -> None:
        self.items: dict[str, StoredItem] = state.table("ingest.items")

    async def ids_by_hash(self, project_id: str, hashes: Sequence[str]) -> dict[str, str]:
        wanted = set(hashes)
        return {
            i.sha256: i.item_id
            for i in self.items.values()
            if i.project_id == project_id and i.sha256 in wanted
        }

    async def insert(self, tx: Transaction, items: Sequence[StoredItem]) -> None:
        taken = {(i.project_id, i.sha256) for i in self.items.values()}
        for item in items:
            key = (item.project_id, item.sha256)
            if item.item_id in self.items or key in taken:
                raise Conflict("identical content was uploaded concurrently; retry")
            taken.add(key)
            self.items[item.item_id] = item

    async def get(self, item_id: str) -> StoredItem | None:
        return self.items.get(item_id)
