"""The loop that runs bucket syncs, one at a time per replica.

A sync is claimed under a lease that each save of its progress renews (after
every page of listed keys); if the replica dies, the lease runs out and another
replica goes on from the cursor saved last."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

from labelmesh.core.claim_loop import run_claims
from labelmesh.ingest.buckets.ports import BucketRepository, BucketUnreadable
from labelmesh.ingest.buckets.records import StoredBucket
from labelmesh.ingest.buckets.sync import BucketSync
from labelmesh.ingest.metrics import IngestMetrics
from labelmesh.v1.ingest_service_pb2 import SyncCounts, SyncState

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
POLL_SECONDS = 5.0


class LostLease(Exception):
    """Another worker took the sync over; this one stops."""


class SyncWorker:
    def __init__(self, buckets: BucketRepository, sync: BucketSync, metrics: IngestMetrics) -> None:
        self.buckets = buckets
        self.sync = sync
        self.metrics = metrics
        self.name = f"bucket-sync-{uuid.uuid4().hex[:12]}"
        self.waiting = asyncio.Event()

    def wake(self) -> None:
        self.waiting.set()

    async def run(self) -> None:
        """Run syncs as they are queued, until cancelled."""
        await run_claims(self.run_next, self.waiting, POLL_SECONDS, "a bucket sync")

    async def run_next(self) -> bool:
        """Claim and run one sync; False if none was waiting."""
        now = datetime.now(UTC)
        stored = await self.buckets.claim(self.name, now, now + LEASE)
        if stored is None:
            return False
        bucket = stored.bucket
        if not bucket.HasField("sync_started_at"):
            bucket.sync_started_at.FromDatetime(now)
        bucket.state = SyncState.SYNC_STATE_RUNNING
        bucket.error = ""
        started = time.monotonic()
        # What the metrics have counted of this sync (one taken over brings its counts).
        reported = SyncCounts()
        reported.CopyFrom(bucket.counts)
        try:
            await self.sync.run(stored, lambda: self._save(stored, reported))
            bucket.state = SyncState.SYNC_STATE_SUCCEEDED
        except LostLease:
            log.warning("the sync of bucket %s was taken over by another worker", bucket.bucket_id)
            return True
        except BucketUnreadable as exc:
            bucket.state = SyncState.SYNC_STATE_FAILED
            bucket.error = exc.reason
        except Exception as exc:
            log.exception("the sync of bucket %s failed", bucket.bucket_id)
            bucket.state = SyncState.SYNC_STATE_FAILED
            bucket.error = f"internal error: {type(exc).__name__}; syncing again resumes"
        bucket.sync_finished_at.FromDatetime(datetime.now(UTC))
        with contextlib.suppress(LostLease):
            await self._save(stored, reported)
        state = SyncState.Name(bucket.state).removeprefix("SYNC_STATE_").lower()
        self.metrics.bucket_syncs.labels(state).inc()
        self.metrics.bucket_sync_seconds.observe(time.monotonic() - started)
        return True

    async def _save(self, stored: StoredBucket, reported: SyncCounts) -> None:
        if not await self.buckets.save(stored, self.name, datetime.now(UTC) + LEASE):
            raise LostLease()
        counts = stored.bucket.counts
        for field in SyncCounts.DESCRIPTOR.fields:
            added = getattr(counts, field.name) - getattr(reported, field.name)
            if added > 0:
                self.metrics.bucket_objects.labels(field.name).inc(added)
        reported.CopyFrom(counts)
