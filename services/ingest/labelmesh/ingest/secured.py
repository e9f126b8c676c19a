"""What the ingest APIs call: each use case behind its caller's authorisation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

from labelmesh.core.access import Permission, Principal, ProjectGate
from labelmesh.ingest.domain import Upload
from labelmesh.ingest.manifest_import import ManifestImport
from labelmesh.ingest.records import StoredItem
from labelmesh.ingest.url_import import UrlImport, UrlItem
from labelmesh.ingest.usecases import Ingest, UploadOutcome
from labelmesh.v1.ingest_service_pb2 import ManifestFormat, ManifestMapping


@dataclass(frozen=True)
class SecuredIngest:
    ingest: Ingest
    gate: ProjectGate
    urls: UrlImport
    manifests: ManifestImport

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

    async def media(self, caller: Principal, item_id: str) -> tuple[bytes, str]:
        return await self.ingest.media_of(await self.item(caller, item_id))

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
