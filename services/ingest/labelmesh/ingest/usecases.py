"""What the ingest APIs do, shared by REST and gRPC."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from labelmesh.core.envelopes import new_envelope
from labelmesh.core.errors import InvalidField, NotFound
from labelmesh.core.fields import carry_fields
from labelmesh.core.projects import ProjectDirectory
from labelmesh.core.storage import ObjectStore
from labelmesh.core.uow import Transaction, UnitOfWork
from labelmesh.ingest.domain import PreparedItem, Upload, prepare
from labelmesh.ingest.metrics import IngestMetrics
from labelmesh.ingest.ports import ItemRepository
from labelmesh.ingest.records import StoredItem
from labelmesh.v1.events_pb2 import Actor, DataType, Envelope, IngestRejected, ItemIngested

SERVICE = "ingest"
MAX_BATCH = 1000
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UploadOutcome:
    """The result of one upload of a batch."""

    index: int
    item_id: str = ""
    duplicate: bool = False
    error: InvalidField | None = None


@dataclass(eq=False)
class Ingest:
    items: ItemRepository
    projects: ProjectDirectory
    store: ObjectStore
    uow: UnitOfWork
    metrics: IngestMetrics
    max_item_bytes: int

    async def upload(
        self,
        project_id: str,
        uploads: Sequence[Upload],
        actor: Actor,
        first_index: int = 0,
    ) -> list[UploadOutcome]:
        """Store a batch. Each upload succeeds or fails on its own; nothing is half-written.

        `first_index` is the position of the first upload in a longer stream, so
        that errors name the item by its place in the whole stream.
        """
        if not uploads:
            raise InvalidField("items", "at least one item is required")
        if len(uploads) > MAX_BATCH:
            raise InvalidField("items", f"at most {MAX_BATCH} items per request")
        if await self.projects.get(project_id) is None:
            raise NotFound("project", project_id)

        outcomes: dict[int, UploadOutcome] = {}
        prepared: dict[int, PreparedItem] = {}
        # Hashing and decoding up to MAX_BATCH files is CPU work: keep it off the event loop.
        checked = await asyncio.to_thread(self._prepare_all, project_id, uploads, first_index)
        for index, result in enumerate(checked):
            if isinstance(result, InvalidField):
                outcomes[index] = UploadOutcome(index, error=result)
            else:
                prepared[index] = result

        # Identical content is stored once per project: repeats get the first item's id.
        first_by_hash: dict[str, PreparedItem] = {}
        for item in prepared.values():
            first_by_hash.setdefault(item.sha256, item)
        existing = await self.items.ids_by_hash(project_id, list(first_by_hash))
        new_items = [item for sha, item in first_by_hash.items() if sha not in existing]
        for index, item in prepared.items():
            first = first_by_hash[item.sha256]
            item_id = existing.get(item.sha256, first.item_id)
            duplicate = item.sha256 in existing or first is not item
            outcomes[index] = UploadOutcome(index, item_id=item_id, duplicate=duplicate)

        events = self._events(project_id, new_items, outcomes, actor)

        now = datetime.now(UTC)

        async def write(tx: Transaction) -> None:
            if new_items:
                await self.items.insert(tx, [stored(item, now) for item in new_items])
            tx.emit(*events)

        await self._store_media(new_items)
        try:
            await self.uow.run(write)
        except BaseException:
            # A concurrent upload of the same content (Conflict) or a failed write:
            # the media written for this batch must not stay behind.
            await asyncio.gather(
                *(self.store.delete(i.media_key) for i in new_items), return_exceptions=True
            )
            raise
        self._count(new_items, outcomes.values())
        return [outcomes[i] for i in range(len(uploads))]

    def _prepare_all(
        self, project_id: str, uploads: Sequence[Upload], first_index: int
    ) -> list[PreparedItem | InvalidField]:
        results: list[PreparedItem | InvalidField] = []
        for index, upload in enumerate(uploads):
            try:
                at = f"items[{first_index + index}]"
                results.append(prepare(upload, project_id, at, self.max_item_bytes))
            except InvalidField as exc:
                results.append(exc)
        return results

    async def _store_media(self, items: list[PreparedItem]) -> None:
        slots = asyncio.Semaphore(16)

        async def put(item: PreparedItem) -> None:
            async with slots:
                await self.store.put(item.media_key, item.content, item.content_type)

        results = await asyncio.gather(*(put(i) for i in items), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            await asyncio.gather(
                *(self.store.delete(i.media_key) for i in items), return_exceptions=True
            )
            raise failures[0]

    def _events(
        self,
        project_id: str,
        items: list[PreparedItem],
        outcomes: dict[int, UploadOutcome],
        actor: Actor,
    ) -> list[Envelope]:
        events = [
            new_envelope(
                ItemIngested(
                    data_type=item.data_type,
                    media_key=item.media_key,
                    content_sha256=item.sha256,
                    size_bytes=len(item.content),
                    content_type=item.content_type,
                    filename=item.filename,
                    text=item.text,
                    metadata=item.metadata,
                ),
                producer=SERVICE,
                actor=actor,
                project_id=project_id,
                item_id=item.item_id,
            )
            for item in items
        ]
        for outcome in outcomes.values():
            if outcome.error is not None:
                rejected = IngestRejected(field=outcome.error.field, reason=outcome.error.reason)
                events.append(
                    new_envelope(
                        rejected,
                        producer=SERVICE,
                        actor=actor,
                        project_id=project_id,
                    )
                )
        return events

    def _count(self, items: list[PreparedItem], outcomes: Iterable[UploadOutcome]) -> None:
        for item in items:
            self.metrics.items.labels("stored", DataType.Name(item.data_type)).inc()
            self.metrics.bytes.inc(len(item.content))
        for outcome in outcomes:
            if outcome.error is not None:
                self.metrics.items.labels("rejected", "unknown").inc()
            elif outcome.duplicate:
                self.metrics.items.labels("duplicate", "unknown").inc()

    async def get_item(self, item_id: str) -> StoredItem:
        item = await self.items.get(item_id)
        if item is None:
            raise NotFound("item", item_id)
        return item

    async def media(self, item_id: str) -> tuple[bytes, str]:
        """An item's media bytes and content type."""
        item = await self.get_item(item_id)
        return await self.store.get(item.media_key), item.content_type


def stored(item: PreparedItem, at: datetime) -> StoredItem:
    return carry_fields(StoredItem, item, size_bytes=len(item.content), created_at=at)
