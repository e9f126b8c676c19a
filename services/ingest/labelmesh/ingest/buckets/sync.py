"""Taking a bucket's objects in: a sync lists the keys after its cursor (all of
them when full), reads only the objects that are new or whose ETag changed, and
stores them as items a batch at a time; event notifications take single
objects in the same way.

Each page of listed keys is one lookup of their records. Items are stored
before their records are written, and items are idempotent by content, so a
sync stopped between the two stores nothing twice: it reads those objects
again and finds their items.
"""

from __future__ import annotations

import asyncio
import dataclasses
import posixpath
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from labelmesh.core.errors import InvalidField
from labelmesh.ingest.buckets.ports import (
    BucketReader,
    BucketReaders,
    BucketUnreadable,
    ObjectRecords,
)
from labelmesh.ingest.buckets.records import ListedObject, ObjectRecord, StoredBucket
from labelmesh.ingest.buckets.registration import BUCKET_SOURCE, object_uri
from labelmesh.ingest.domain import MediaRef, Upload
from labelmesh.ingest.sniff import sniffed_type
from labelmesh.ingest.usecases import MAX_BATCH, Batch, Ingest, UploadOutcome
from labelmesh.v1.events_pb2 import Actor
from labelmesh.v1.ingest_service_pb2 import Bucket, BucketMode, SyncFailure, SyncState

PAGE = 1000
READS = 16
MAX_FAILURES = 100
# How long the presigned URLs in items' events read their media; ingest gives
# fresh ones when an item's media is asked for.
URL_LIFETIME = timedelta(days=7)
Entry = Upload | InvalidField
UNSUPPORTED = "the content is not an image, audio, video or UTF-8 text"


@dataclass(frozen=True)
class TakenIn:
    """What became of one object: whether its bytes were read, its record (None
    when they could not be) and its outcome."""

    listed: ListedObject
    read: bool
    record: ObjectRecord | None
    outcome: UploadOutcome
    # Whether the item the object was before it was overwritten was deleted.
    replaced: bool = False


@dataclass(eq=False)
class ObjectIntake:
    """Reads objects and stores them as items; keeps their records."""

    ingest: Ingest
    objects: ObjectRecords
    readers: BucketReaders
    # What the objects read for one batch may hold together.
    max_batch_bytes: int

    async def take_in(
        self, stored: StoredBucket, listed: Sequence[ListedObject], actor: Actor
    ) -> list[TakenIn]:
        """Store each object as an item and write the records of those read;
        when the bucket mirrors deletions, an overwritten object's old item goes."""
        bucket = stored.bucket
        known = await self.objects.find(bucket.bucket_id, [o.key for o in listed])
        taken: list[TakenIn] = []
        reader = self.readers.reader(stored)
        for group in _groups(listed, self.max_batch_bytes):
            taken += await self._take_in_group(stored, reader, group, actor)
        records = [t.record for t in taken if t.record is not None]
        await self.objects.put(bucket.bucket_id, records)
        if not bucket.mirror_deletions:
            return taken
        earlier = {
            r.key: known[r.key].item_id
            for r in records
            if r.key in known and known[r.key].item_id not in ("", r.item_id)
        }
        reasons = {
            item_id: f"object overwritten: {object_uri(bucket, key)}"
            for key, item_id in earlier.items()
        }
        deleted = await self.delete_unreferenced(reasons, set(), actor)
        return [
            dataclasses.replace(t, replaced=earlier.get(t.listed.key) in deleted) for t in taken
        ]

    async def delete_unreferenced(
        self, reasons: Mapping[str, str], leaving: set[str], actor: Actor
    ) -> set[str]:
        """Delete the items no object maps to once the records of `leaving`
        ("<bucket id>/<key>") are gone; those that came in by other means stay."""
        owners = await self.objects.owners(list(reasons))
        orphans = {
            item_id: reason
            for item_id, reason in reasons.items()
            if not owners.get(item_id, set()) - leaving
        }
        deleted = await self.ingest.delete_items(orphans, actor, source=BUCKET_SOURCE)
        return {item.item_id for item in deleted}

    async def _take_in_group(
        self,
        stored: StoredBucket,
        reader: BucketReader,
        group: Sequence[ListedObject],
        actor: Actor,
    ) -> list[TakenIn]:
        slots = asyncio.Semaphore(READS)

        async def upload_of(
            position: int, listed: ListedObject
        ) -> tuple[Upload | InvalidField, bool]:
            async with slots:
                return await self._upload_of(stored, reader, position, listed)

        entries = await asyncio.gather(*(upload_of(i, o) for i, o in enumerate(group)))
        batch = Batch("objects", default_source=BUCKET_SOURCE)
        project_id = stored.bucket.project_id
        uploads = [entry for entry, _ in entries]
        outcomes = await self.ingest.store_batch(project_id, uploads, actor, batch)
        limit = self.ingest.max_item_bytes
        scan = _scan_mark(stored)
        taken = []
        for listed, (entry, read), outcome in zip(group, entries, outcomes, strict=True):
            error = outcome.error.reason if outcome.error else ""
            record = ObjectRecord(listed.key, listed.etag, outcome.item_id, error, scan)
            unreadable = isinstance(entry, InvalidField) and not read and listed.size <= limit
            taken.append(TakenIn(listed, read, None if unreadable else record, outcome))
        return taken

    async def _upload_of(
        self, stored: StoredBucket, reader: BucketReader, position: int, listed: ListedObject
    ) -> tuple[Entry, bool]:
        """The object as an upload, or why not; and whether its bytes were read.
        An object too large is refused unread and recorded; one that could not
        be read is not recorded, so a later sync reads it again."""
        at = f"objects[{position}]"
        limit = self.ingest.max_item_bytes
        if listed.size > limit:
            return InvalidField(f"{at}.content", f"{listed.size} bytes exceeds {limit}"), False
        try:
            content = await reader.read(listed.key)
        except BucketUnreadable as exc:
            return InvalidField(f"{at}.key", exc.reason), False
        content_type = sniffed_type(content)
        if content_type is None:
            return InvalidField(f"{at}.content", UNSUPPORTED), True
        bucket = stored.bucket
        uri = object_uri(bucket, listed.key)
        media_ref = None
        if bucket.mode == BucketMode.BUCKET_MODE_REFERENCE:
            expires_at = datetime.now(UTC) + URL_LIFETIME
            url = reader.presigned_url(listed.key, URL_LIFETIME)
            media_ref = MediaRef(bucket.bucket_id, uri, url, expires_at)
        upload = Upload(
            filename=posixpath.basename(listed.key),
            content_type=content_type,
            content=content,
            source=BUCKET_SOURCE,
            source_uri=uri,
            media_ref=media_ref,
        )
        return upload, True


def _scan_mark(stored: StoredBucket) -> int:
    """The scan a record written now carries: that of the full listing under
    way, so it counts as seen; else that of the last one completed, so the
    next one finds it unseen if its object goes."""
    bucket = stored.bucket
    running_full = bucket.full and bucket.state == SyncState.SYNC_STATE_RUNNING
    return stored.generation + 1 if running_full else stored.generation


def _groups(objects: Sequence[ListedObject], max_bytes: int) -> Iterator[list[ListedObject]]:
    """Runs of objects whose listed sizes together fit `max_bytes` (one that
    alone is larger goes alone, and fails on its size), at most a batch each."""
    group: list[ListedObject] = []
    held = 0
    for listed in objects:
        if group and (held + listed.size > max_bytes or len(group) == MAX_BATCH):
            yield group
            group, held = [], 0
        group.append(listed)
        held += listed.size
    if group:
        yield group


@dataclass(eq=False)
class BucketSync:
    """One sync of one bucket, run by the worker that claimed it."""

    intake: ObjectIntake
    check_endpoint: Callable[[Bucket], Awaitable[None]]

    async def run(self, stored: StoredBucket, save: Callable[[], Awaitable[None]]) -> None:
        """List and take in, saving the progress after each page; raises
        BucketUnreadable when the bucket cannot be listed."""
        bucket = stored.bucket
        await self.check_endpoint(bucket)
        reader = self.intake.readers.reader(stored)
        after = "" if bucket.full else bucket.cursor
        while page := await reader.list_after(after, PAGE):
            await self._take_in_page(stored, page)
            after = page[-1].key
            bucket.cursor = max(bucket.cursor, after)
            await save()
        if bucket.full:
            await self._forget_unseen(stored)
            stored.generation += 1

    async def _take_in_page(self, stored: StoredBucket, page: Sequence[ListedObject]) -> None:
        bucket = stored.bucket
        bucket.counts.listed += len(page)
        known = await self.intake.objects.find(bucket.bucket_id, [o.key for o in page])
        wanted = [o for o in page if o.key not in known or known[o.key].etag != o.etag]
        if bucket.full:
            wanted_keys = {o.key for o in wanted}
            seen = [o.key for o in page if o.key not in wanted_keys]
            await self.intake.objects.mark_scanned(bucket.bucket_id, seen, stored.generation + 1)
        if not wanted:
            return
        for taken in await self.intake.take_in(stored, wanted, bucket.synced_by):
            _count(bucket, taken)

    async def _forget_unseen(self, stored: StoredBucket) -> None:
        """After a full listing: the records of objects it did not see go, and
        with them, when the bucket mirrors deletions, the items they were."""
        bucket = stored.bucket
        objects = self.intake.objects
        while unseen := await objects.unseen(bucket.bucket_id, stored.generation, PAGE):
            if bucket.mirror_deletions:
                reasons = {
                    r.item_id: f"object deleted: {object_uri(bucket, r.key)}"
                    for r in unseen
                    if r.item_id
                }
                leaving = {f"{bucket.bucket_id}/{r.key}" for r in unseen}
                deleted = await self.intake.delete_unreferenced(reasons, leaving, bucket.synced_by)
                bucket.counts.deleted += len(deleted)
            await objects.remove(bucket.bucket_id, [r.key for r in unseen])


def _count(bucket: Bucket, taken: TakenIn) -> None:
    counts = bucket.counts
    outcome = taken.outcome
    if taken.read:
        counts.read += 1
    if taken.replaced:
        counts.deleted += 1
    if outcome.error is not None:
        counts.failed += 1
        if len(bucket.failures) < MAX_FAILURES:
            bucket.failures.append(SyncFailure(key=taken.listed.key, reason=outcome.error.reason))
    elif outcome.duplicate:
        counts.duplicates += 1
    else:
        counts.stored += 1
