"""What the ingest APIs call: each use case behind its caller's authorisation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from labelmesh.core.access import Permission, Principal, ProjectGate
from labelmesh.core.errors import InvalidField
from labelmesh.ingest.buckets.notifications import EventOutcome, ObjectEvent
from labelmesh.ingest.buckets.records import StoredBucket
from labelmesh.ingest.buckets.registry import Buckets
from labelmesh.ingest.domain import Upload
from labelmesh.ingest.manifest_import import ManifestImport
from labelmesh.ingest.records import StoredItem
from labelmesh.ingest.url_import import UrlImport, UrlItem
from labelmesh.ingest.usecases import Ingest, UploadOutcome
from labelmesh.v1.ingest_service_pb2 import (
    Bucket,
    ManifestFormat,
    ManifestMapping,
    RegisterBucketRequest,
)


@dataclass(frozen=True)
class SecuredIngest:
    ingest: Ingest
    gate: ProjectGate
    urls: UrlImport
    manifests: ManifestImport
    buckets: Buckets

    async def upload(
        self,
        caller: Principal,
        project_id: str,
        uploads: Sequence[Upload],
        first_index: int = 0,
    ) -> list[UploadOutcome]:
        await self.gate.check(caller, Permission.IMPORT_ITEMS, project_id)
        return await self.ingest.upload(project_id, uploads, caller.actor, first_index)

    async def item(self, caller: Principal, item_id: str) -> StoredItem:
        """The item, if the caller may read its project's items; NotFound otherwise."""
        item = await self.ingest.get_item(item_id)
        await self.gate.check(caller, Permission.READ_ITEMS, item.project_id)
        return item

    async def media_of(self, item: StoredItem) -> tuple[bytes, str]:
        """The media of an item the caller was allowed to read."""
        return await self.ingest.media_of(item)

    async def media_link(self, item: StoredItem) -> tuple[str, datetime] | None:
        """A fresh presigned URL of an item read before whose media stays in
        its bucket, and when it expires; None for media ingest keeps."""
        return await self.buckets.media_link(item) if item.media_uri else None

    async def import_urls(
        self, caller: Principal, project_id: str, items: Sequence[UrlItem]
    ) -> list[UploadOutcome]:
        await self.gate.check(caller, Permission.IMPORT_ITEMS, project_id)
        return await self.urls.import_urls(project_id, items, caller.actor)

    async def check_import(self, caller: Principal, project_id: str) -> None:
        """Refuse a caller who may not import into the project, before a long upload."""
        await self.gate.check(caller, Permission.IMPORT_ITEMS, project_id)

    async def import_manifest(
        self,
        caller: Principal,
        project_id: str,
        file: IO[bytes],
        format_: ManifestFormat,
        mapping: ManifestMapping,
    ) -> list[UploadOutcome]:
        await self.gate.check(caller, Permission.IMPORT_ITEMS, project_id)
        return await self.manifests.import_manifest(
            project_id, file, format_, mapping, caller.actor
        )

    async def register_bucket(
        self, caller: Principal, request: RegisterBucketRequest
    ) -> tuple[Bucket, bool]:
        if not request.project_id:
            raise InvalidField("project_id", "required")
        await self.gate.check(caller, Permission.IMPORT_ITEMS, request.project_id)
        return await self.buckets.register(request, caller.label)

    async def bucket(self, caller: Principal, bucket_id: str) -> Bucket:
        return (await self._bucket(caller, Permission.READ_ITEMS, bucket_id)).bucket

    async def project_buckets(self, caller: Principal, project_id: str) -> list[Bucket]:
        await self.gate.check(caller, Permission.READ_ITEMS, project_id)
        return await self.buckets.of_project(project_id)

    async def sync_bucket(
        self, caller: Principal, bucket_id: str, full: bool
    ) -> tuple[Bucket, bool]:
        await self._bucket(caller, Permission.IMPORT_ITEMS, bucket_id)
        return await self.buckets.sync(bucket_id, full, caller.actor)

    async def notify_bucket(
        self, caller: Principal, bucket_id: str, events: Sequence[ObjectEvent]
    ) -> list[EventOutcome]:
        await self._bucket(caller, Permission.IMPORT_ITEMS, bucket_id)
        return await self.buckets.notify(bucket_id, events, caller.actor)

    async def _bucket(
        self, caller: Principal, permission: Permission, bucket_id: str
    ) -> StoredBucket:
        stored = await self.buckets.stored(bucket_id)
        await self.gate.check(caller, permission, stored.bucket.project_id)
        return stored
