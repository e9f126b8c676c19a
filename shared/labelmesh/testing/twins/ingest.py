"""In-memory twin of the ingest service's item repository."""

from __future__ import annotations

from collections.abc import Sequence

from labelmesh.core.access import ProjectGate, directory_organizations
from labelmesh.core.errors import Conflict
from labelmesh.core.uow import Transaction
from labelmesh.ingest.adapters.fetcher import HttpFetcher
from labelmesh.ingest.addresses import AddressPolicy
from labelmesh.ingest.manifest_import import ManifestImport
from labelmesh.ingest.records import StoredItem
from labelmesh.ingest.secured import SecuredIngest
from labelmesh.ingest.url_import import UrlImport
from labelmesh.ingest.usecases import Ingest
from labelmesh.testing.memory import MemoryState


def secured_ingest(ingest: Ingest, policy: AddressPolicy | None = None) -> SecuredIngest:
    """The ingest use cases behind the project gate, URL imports fetching for real
    within `policy` (public addresses only by default)."""
    fetcher = HttpFetcher(
        policy or AddressPolicy(),
        max_bytes=ingest.max_item_bytes,
        connect_timeout=5,
        total_timeout=10,
    )
    urls = UrlImport(ingest, fetcher, ingest.metrics, concurrency=4, max_batch_bytes=1 << 30)
    manifests = ManifestImport(ingest, urls, ingest.store)
    gate = ProjectGate(directory_organizations(ingest.projects.get))
    return SecuredIngest(ingest, gate, urls, manifests)


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
