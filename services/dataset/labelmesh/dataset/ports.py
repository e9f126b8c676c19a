"""The dataset service's storage ports; MongoDB adapters and in-memory twins implement them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Protocol

from labelmesh.core.uow import Transaction
from labelmesh.dataset.records import ItemSummary, ManifestChunk, ProjectedItem, StoredVersion
from labelmesh.v1.dataset_service_pb2 import ExportJob


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

    async def place(self, tx: Transaction, project_id: str, count: int) -> int:
        """Reserve the next `count` places of the project's browsing order;
        returns the first. Places start at 1."""
        ...

    async def extent(self, project_id: str) -> int:
        """One past the last place the project's items were given."""
        ...

    async def browse(self, project_id: str, facet: str, first: int, stop: int) -> list[ItemSummary]:
        """The project's items that have `facet`, placed from `first` to
        before `stop`, in any order."""
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


class ExportJobRepository(Protocol):
    """Export jobs. A job is claimed by one worker at a time under a lease the
    worker renews as it goes; a job whose lease ran out is claimed again."""

    async def add(self, job: ExportJob) -> ExportJob | None:
        """Store a new job; the stored one instead (and nothing written) if its id is taken."""
        ...

    async def get(self, job_id: str) -> ExportJob | None: ...

    async def requeue(self, job: ExportJob) -> bool:
        """Put a failed job back in the queue as `job`; False if it is no longer failed."""
        ...

    async def claim(self, worker: str, now: datetime, lease_until: datetime) -> ExportJob | None:
        """Take the oldest job that is queued, or running under a lease that ran out."""
        ...

    async def save(self, job: ExportJob, worker: str, lease_until: datetime) -> bool:
        """Store the claimed job's progress or outcome and renew its lease;
        False (and nothing written) if `worker` no longer holds it."""
        ...

    async def waiting(self) -> int:
        """How many jobs are queued."""
        ...
