"""What the ingest APIs do, shared by REST and gRPC."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from labelmesh.core.envelopes import new_envelope
from labelmesh.core.errors import Conflict, InvalidField, NotFound
from labelmesh.core.projects import ProjectDirectory
from labelmesh.core.storage import ObjectStore
from labelmesh.core.uow import Transaction, UnitOfWork
from labelmesh.ingest.domain import PreparedItem, Upload, prepare
from labelmesh.ingest.drafts import deleted_event, ingested_events, stored
from labelmesh.ingest.imported import UPLOAD_SOURCE
from labelmesh.ingest.metrics import IngestMetrics
from labelmesh.ingest.ports import ItemRepository
from labelmesh.ingest.records import StoredItem
from labelmesh.v1.events_pb2 import Actor, DataType, Envelope, IngestRejected

SERVICE = "ingest"
MAX_BATCH = 1000
# Tries to write a batch: as new, then after the dedup check, then once more after
# losing a race with a concurrent upload of the same content.
WRITE_ATTEMPTS = 3
MEDIA_WRITES = 16
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Batch:
    """Where a batch stands in what was sent, for the names of its errors."""

    # The request field that lists the items: "items", or "rows" of a manifest.
    field: str = "items"
    # The position of the batch's first item in a longer stream or file.
    first_index: int = 0
    # The source of items that name none.
    default_source: str = UPLOAD_SOURCE
    # Each item's own number, when the batch holds some of a file's rows, not a
    # run of them: its errors and its outcome's index are that number.
    numbers: Sequence[int] = ()

    def number(self, position: int) -> int:
        return self.numbers[position] if self.numbers else self.first_index + position


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
    # One batch is written at a time: SecantusDB takes two concurrent bulk inserts
    # into one collection in well over twice the time of one after the other, while
    # the next batch's validation can run during this one's write.
    _writing: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

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
        return await self.store_batch(project_id, uploads, actor, Batch(first_index=first_index))

    async def store_batch(
        self,
        project_id: str,
        entries: Sequence[Upload | InvalidField],
        actor: Actor,
        batch: Batch,
    ) -> list[UploadOutcome]:
        """`upload`, for imports: an entry that failed before (a URL that could
        not be fetched) is that entry's error; the others are uploads."""
        if not entries:
            raise InvalidField(batch.field, "at least one item is required")
        if len(entries) > MAX_BATCH:
            raise InvalidField(batch.field, f"at most {MAX_BATCH} items per request")
        # Hashing and decoding up to MAX_BATCH files is CPU work: it runs off the
        # event loop while the project is looked up.
        project, checked = await asyncio.gather(
            self.projects.get(project_id),
            asyncio.to_thread(self._prepare_all, project_id, entries, batch),
        )
        if project is None:
            raise NotFound("project", project_id)
        errors = {i: r for i, r in enumerate(checked) if isinstance(r, InvalidField)}
        prepared = {i: r for i, r in enumerate(checked) if isinstance(r, PreparedItem)}
        # Identical content is stored once per project: repeats get the first item's id.
        first_by_hash: dict[str, PreparedItem] = {}
        for item in prepared.values():
            first_by_hash.setdefault(item.sha256, item)
        candidates = list(first_by_hash.values())
        now = datetime.now(UTC)
        records = {item.sha256: stored(item, now) for item in candidates}
        # The events take longer to build: a thread builds them while the records are written.
        events = asyncio.ensure_future(
            asyncio.to_thread(ingested_events, project_id, candidates, actor, SERVICE)
        )
        rejected = [self._rejected(project_id, error, actor) for error in errors.values()]
        # Text is first written as new without a dedup check: content stored before
        # has the same natural key, which refuses the write, and the batch is then
        # checked and written again. Files are checked first, so that no media is
        # written for content already stored.
        check = any(not item.inline for item in candidates)
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            existing = (
                await self.items.ids_by_hash(project_id, list(first_by_hash)) if check else {}
            )
            new = [item for item in candidates if item.sha256 not in existing]
            try:
                await self._write(new, records, events, rejected)
            except Conflict:
                if attempt == WRITE_ATTEMPTS:
                    raise
                check = True
                continue
            outcomes = outcomes_of(errors, prepared, first_by_hash, existing)
            self._count(new, outcomes)
            if batch.numbers:
                return [replace(o, index=batch.number(o.index)) for o in outcomes]
            return outcomes
        raise AssertionError("unreachable")

    async def _write(
        self,
        new: list[PreparedItem],
        records: dict[str, StoredItem],
        events: asyncio.Future[dict[str, Envelope]],
        rejected: list[Envelope],
    ) -> None:
        """Store the new items and emit their events (and the rejections) in one
        transaction; `records` and `events` are by content hash."""

        async def write(tx: Transaction) -> None:
            if new:
                await self.items.insert(tx, [records[item.sha256] for item in new])
            built = await events
            tx.emit(*(built[item.sha256] for item in new), *rejected)

        media = [item for item in new if item.media_key]
        await self._store_media(media)
        try:
            async with self._writing:
                await self.uow.run(write)
        except BaseException:
            # Content stored meanwhile or before (Conflict), or a failed write:
            # the media written for this batch must not stay behind.
            await self._delete_media(media)
            raise

    def _prepare_all(
        self, project_id: str, entries: Sequence[Upload | InvalidField], batch: Batch
    ) -> list[PreparedItem | InvalidField]:
        results: list[PreparedItem | InvalidField] = []
        for index, entry in enumerate(entries):
            if isinstance(entry, InvalidField):
                results.append(entry)
                continue
            try:
                at = f"{batch.field}[{batch.number(index)}]"
                item = prepare(entry, project_id, at, self.max_item_bytes, batch.default_source)
                results.append(item)
            except InvalidField as exc:
                results.append(exc)
        return results

    def _rejected(self, project_id: str, error: InvalidField, actor: Actor) -> Envelope:
        return new_envelope(
            IngestRejected(field=error.field, reason=error.reason),
            producer=SERVICE,
            actor=actor,
            project_id=project_id,
        )

    async def _store_media(self, items: list[PreparedItem]) -> None:
        if not items:
            return
        slots = asyncio.Semaphore(MEDIA_WRITES)

        async def put(item: PreparedItem) -> None:
            async with slots:
                await self.store.put(item.media_key, item.content, item.content_type)

        results = await asyncio.gather(*(put(i) for i in items), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            await self._delete_media(items)
            raise failures[0]

    async def _delete_media(self, items: list[PreparedItem]) -> None:
        await asyncio.gather(
            *(self.store.delete(i.media_key) for i in items), return_exceptions=True
        )

    def _count(self, new: list[PreparedItem], outcomes: list[UploadOutcome]) -> None:
        stored_types = Counter(DataType.Name(item.data_type) for item in new)
        for data_type, count in stored_types.items():
            self.metrics.items.labels("stored", data_type).inc(count)
        self.metrics.bytes.inc(sum(len(item.content) for item in new))
        rejected = sum(1 for outcome in outcomes if outcome.error is not None)
        duplicates = sum(1 for outcome in outcomes if outcome.duplicate)
        if rejected:
            self.metrics.items.labels("rejected", "unknown").inc(rejected)
        if duplicates:
            self.metrics.items.labels("duplicate", "unknown").inc(duplicates)

    async def delete_items(
        self, reasons: Mapping[str, str], actor: Actor, source: str
    ) -> list[StoredItem]:
        """Delete the items of these ids that came in from `source`, each for
        its reason, and emit their ItemDeleted events in one transaction; then
        the media copied for them. Ids of items not stored are skipped."""
        if not reasons:
            return []
        found = [i for i in await self.items.get_many(list(reasons)) if i.source == source]
        if not found:
            return []

        async def write(tx: Transaction) -> None:
            await self.items.delete(tx, [item.item_id for item in found])
            tx.emit(*(deleted_event(i, reasons[i.item_id], actor, SERVICE) for i in found))

        await self.uow.run(write)
        keys = [item.media_key for item in found if item.media_key]
        results = await asyncio.gather(
            *(self.store.delete(k) for k in keys), return_exceptions=True
        )
        for key, result in zip(keys, results, strict=True):
            if isinstance(result, Exception):
                log.warning("the media %s of a deleted item stays behind: %r", key, result)
        return found

    async def get_item(self, item_id: str) -> StoredItem:
        item = await self.items.get(item_id)
        if item is None:
            raise NotFound("item", item_id)
        return item

    async def media(self, item_id: str) -> tuple[bytes, str]:
        """An item's media bytes and content type."""
        return await self.media_of(await self.get_item(item_id))

    async def media_of(self, item: StoredItem) -> tuple[bytes, str]:
        """The media bytes and content type of an item read before."""
        if not item.media_key:
            return item.text.encode(), item.content_type
        return await self.store.get(item.media_key), item.content_type


def outcomes_of(
    errors: dict[int, InvalidField],
    prepared: dict[int, PreparedItem],
    first_by_hash: dict[str, PreparedItem],
    existing: dict[str, str],
) -> list[UploadOutcome]:
    """Each upload's outcome, in upload order: refused, stored, or a duplicate of
    an item stored before or earlier in the batch."""
    outcomes = [UploadOutcome(index, error=error) for index, error in errors.items()]
    for index, item in prepared.items():
        first = first_by_hash[item.sha256]
        item_id = existing.get(item.sha256, first.item_id)
        duplicate = item.sha256 in existing or first is not item
        outcomes.append(UploadOutcome(index, item_id=item_id, duplicate=duplicate))
    outcomes.sort(key=lambda outcome: outcome.index)
    return outcomes
