"""Taking in what a bucket's event notifications name: a created object becomes
an item as a sync would make it, a removed one takes its item along when the
bucket mirrors deletions. Redelivered notifications change nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from labelmesh.core.errors import InvalidField
from labelmesh.ingest.buckets.ports import BucketUnreadable
from labelmesh.ingest.buckets.records import ListedObject, StoredBucket
from labelmesh.ingest.buckets.registration import object_uri
from labelmesh.ingest.buckets.sync import READS, ObjectIntake
from labelmesh.v1.events_pb2 import Actor
from labelmesh.v1.ingest_service_pb2 import BucketEventKind

MAX_EVENTS = 1000
CREATED, REMOVED = (
    BucketEventKind.BUCKET_EVENT_KIND_CREATED,
    BucketEventKind.BUCKET_EVENT_KIND_REMOVED,
)


@dataclass(frozen=True)
class ObjectEvent:
    kind: int
    key: str


@dataclass(frozen=True)
class EventOutcome:
    """What became of one event; `error` says why nothing was done for it."""

    index: int
    item_id: str = ""
    duplicate: bool = False
    deleted: bool = False
    error: InvalidField | None = None


@dataclass(eq=False)
class BucketNotifications:
    intake: ObjectIntake

    async def take_in(
        self, stored: StoredBucket, events: Sequence[ObjectEvent], actor: Actor
    ) -> list[EventOutcome]:
        if not events:
            raise InvalidField("events", "at least one event is required")
        if len(events) > MAX_EVENTS:
            raise InvalidField("events", f"at most {MAX_EVENTS} events per request")
        errors = {i: e for i, event in enumerate(events) if (e := _problem(stored, i, event))}
        # The last event of a key says what became of it.
        last = {e.key: e.kind for i, e in enumerate(events) if i not in errors}
        found = await self._stat_all(stored, [k for k, kind in last.items() if kind == CREATED])
        unreadable = {k: f.reason for k, f in found.items() if isinstance(f, BucketUnreadable)}
        listed = [f for f in found.values() if isinstance(f, ListedObject)]
        # A created object deleted since is taken as removed.
        gone = [
            k for k, kind in last.items() if kind == REMOVED or (k in found and found[k] is None)
        ]
        by_key = await self._created(stored, listed, actor)
        by_key |= await self._removed(stored, gone, actor)
        outcomes = []
        for index, event in enumerate(events):
            if index in errors:
                outcomes.append(EventOutcome(index, error=errors[index]))
            elif event.key in unreadable:
                error = InvalidField(f"events[{index}].key", unreadable[event.key])
                outcomes.append(EventOutcome(index, error=error))
            else:
                outcomes.append(_placed(by_key[event.key], index))
        return outcomes

    async def _stat_all(
        self, stored: StoredBucket, keys: Sequence[str]
    ) -> dict[str, ListedObject | BucketUnreadable | None]:
        reader = self.intake.readers.reader(stored)
        slots = asyncio.Semaphore(READS)

        async def stat(key: str) -> ListedObject | BucketUnreadable | None:
            async with slots:
                try:
                    return await reader.stat(key)
                except BucketUnreadable as exc:
                    return exc

        found = await asyncio.gather(*(stat(key) for key in keys))
        return dict(zip(keys, found, strict=True))

    async def _created(
        self, stored: StoredBucket, listed: Sequence[ListedObject], actor: Actor
    ) -> dict[str, EventOutcome]:
        bucket_id = stored.bucket.bucket_id
        known = await self.intake.objects.find(bucket_id, [o.key for o in listed])
        outcomes = {
            o.key: EventOutcome(0, known[o.key].item_id, duplicate=True)
            for o in listed
            if o.key in known and known[o.key].etag == o.etag
        }
        wanted = [o for o in listed if o.key not in outcomes]
        for taken in await self.intake.take_in(stored, wanted, actor):
            outcome = taken.outcome
            outcomes[taken.listed.key] = EventOutcome(
                0, outcome.item_id, outcome.duplicate, error=outcome.error
            )
        return outcomes

    async def _removed(
        self, stored: StoredBucket, keys: Sequence[str], actor: Actor
    ) -> dict[str, EventOutcome]:
        bucket = stored.bucket
        known = await self.intake.objects.find(bucket.bucket_id, keys)
        deleted: set[str] = set()
        if bucket.mirror_deletions:
            reasons = {
                r.item_id: f"object deleted: {object_uri(bucket, r.key)}"
                for r in known.values()
                if r.item_id
            }
            leaving = {f"{bucket.bucket_id}/{key}" for key in known}
            deleted = await self.intake.delete_unreferenced(reasons, leaving, actor)
        await self.intake.objects.remove(bucket.bucket_id, list(known))
        outcomes = {}
        for key in keys:
            item_id = known[key].item_id if key in known else ""
            outcomes[key] = EventOutcome(0, item_id, deleted=bool(item_id) and item_id in deleted)
        return outcomes


def _problem(stored: StoredBucket, index: int, event: ObjectEvent) -> InvalidField | None:
    at = f"events[{index}]"
    if event.kind not in (CREATED, REMOVED):
        return InvalidField(f"{at}.kind", "BUCKET_EVENT_KIND_CREATED or _REMOVED is required")
    if not event.key:
        return InvalidField(f"{at}.key", "required")
    prefix = stored.bucket.prefix
    if not event.key.startswith(prefix):
        return InvalidField(f"{at}.key", f"{event.key!r} is not under the prefix {prefix!r}")
    return None


def _placed(outcome: EventOutcome, index: int) -> EventOutcome:
    return EventOutcome(index, outcome.item_id, outcome.duplicate, outcome.deleted, outcome.error)
