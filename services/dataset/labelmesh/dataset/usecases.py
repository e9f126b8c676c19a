"""What the dataset APIs do, shared by REST and gRPC."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from labelmesh.core.envelopes import new_envelope
from labelmesh.core.errors import Conflict, InvalidField, NotFound
from labelmesh.core.labels import class_of
from labelmesh.core.projects import ProjectDirectory
from labelmesh.core.uow import Transaction, UnitOfWork
from labelmesh.dataset.browsing import Walk, decode_cursor, wanted
from labelmesh.dataset.domain import (
    Manifest,
    check_augmentation,
    check_filter,
    dataset_item,
    item_change,
    order_key,
    summarize,
    version_settings,
)
from labelmesh.dataset.metrics import DatasetMetrics
from labelmesh.dataset.ports import ItemProjection, VersionRepository
from labelmesh.dataset.rebalance import Rebalancer
from labelmesh.dataset.records import ItemSummary, ManifestChunk, ProjectedItem, StoredVersion
from labelmesh.dataset.splits import assign, check_ratios, units_of
from labelmesh.v1.dataset_service_pb2 import DatasetItem, DiffSummary, ItemChange, ListItemsRequest
from labelmesh.v1.events_pb2 import (
    Actor,
    Augmentation,
    DatasetFilter,
    DatasetVersion,
    DatasetVersionCreated,
    ProjectSpec,
    Rebalance,
    RebalanceMethod,
    SplitSpec,
)

SERVICE = "dataset"
# Items per manifest chunk, and items read from the projection at a time.
CHUNK_ITEMS = 1000
READ_BATCH = 1000
MAX_NAME = 200
MAX_PAGE = 1000
# An item's stored forms: its serialized message and its JSONL line.
Stored = tuple[bytes, bytes]
# Writes a version's items, in its order, through the manifest that hashes them.
Taker = Callable[[Manifest], AsyncIterator[list[Stored]]]


@dataclass(frozen=True)
class VersionWork:
    """Who makes a version, of what."""

    project_id: str
    name: str
    filter: DatasetFilter
    actor: Actor
    actor_label: str
    split: SplitSpec = field(default_factory=SplitSpec)
    derived_from: str = ""
    rebalance: Rebalance = field(default_factory=Rebalance)
    augmentation: Augmentation = field(default_factory=Augmentation)

    @property
    def splits(self) -> bool:
        """Whether the request asks for a split at all."""
        return bool(self.split.ratios) or self.split.ByteSize() > 0


@dataclass(eq=False)
class Datasets:
    items: ItemProjection
    versions: VersionRepository
    projects: ProjectDirectory
    uow: UnitOfWork
    metrics: DatasetMetrics

    async def project(self, project_id: str) -> ProjectSpec:
        project = await self.projects.get(project_id)
        if project is None:
            raise NotFound("project", project_id)
        return project

    async def list_items(self, request: ListItemsRequest) -> tuple[list[ItemSummary], str]:
        """A page of the project's items that every filter of `request`
        matches, in their project's order, and the next page's token.

        One facet is looked up by index a window of places at a time, the
        one of the likeliest few that matched fewest of the first places; a
        request makes at most a fixed number of lookups, and may return a
        short page, even an empty one, with a token to go on from.
        """
        want = wanted(request)
        cursor = decode_cursor(request.page_token)
        await self.project(request.project_id)
        project_id = request.project_id
        walk = Walk.begin(want, cursor, await self.items.extent(project_id))
        if (probed := walk.probe_span()) is not None:
            walk.choose(
                {f: await self.items.browse(project_id, f, *probed) for f in want.probes},
                probed[1],
            )
        while (span := walk.span()) is not None:
            walk.take(await self.items.browse(project_id, walk.lead, *span), span[1])
        self.metrics.browse_lookups.observe(walk.lookups)
        return walk.page, walk.next_token()

    async def create_version(self, work: VersionWork) -> tuple[DatasetVersion, bool]:
        """Snapshot the project's accepted labels that `work.filter` takes.

        The manifest is written chunk by chunk as the projection is read, so
        memory holds one chunk whatever the project's size; then the version
        and its DatasetVersionCreated event are written in one transaction.
        The same labels under the same settings hash to the same id: the
        version made before is returned, and the new chunks are dropped.
        """
        project = await self.project(work.project_id)
        if len(work.name) > MAX_NAME:
            raise InvalidField("name", f"at most {MAX_NAME} characters")
        if work.augmentation.ByteSize():
            check_augmentation(work.augmentation, project.data_type)
        if work.derived_from:
            settings, taken = await self._derived(work)
        else:
            settings, taken = await self._from_labels(work, project)
        manifest = Manifest(settings)
        manifest_id = uuid.uuid4().hex
        try:
            chunks = await self._write_manifest(manifest_id, taken(manifest))
            version = self._version(settings, manifest, work)
            created = await self._store(StoredVersion(version, manifest_id, chunks), work)
        except BaseException:
            await self.versions.drop_manifest(manifest_id)
            raise
        if not created:
            await self.versions.drop_manifest(manifest_id)
            return (await self.version(version.version_id)).version, False
        self.metrics.versions.inc()
        self.metrics.version_items.inc(manifest.items)
        return version, True

    async def _store(self, stored: StoredVersion, work: VersionWork) -> bool:
        """Store the version and its event; False if it was made before, or at
        the same moment elsewhere."""

        async def write(tx: Transaction) -> bool:
            added = await self.versions.add(tx, stored)
            if added:
                created = DatasetVersionCreated(version=stored.version)
                tx.emit(
                    new_envelope(
                        created, producer=SERVICE, actor=work.actor, project_id=work.project_id
                    )
                )
            return added

        try:
            return await self.uow.run(write)
        except Conflict:
            return False

    async def _splits(self, work: VersionWork) -> dict[str, str]:
        """Each item's split. A first pass over the projection gathers what
        stratifying needs: each item's group and classes, a few bytes each."""
        placed: dict[str, str] = {}
        if work.split.parent_version_id:
            parent = await self.versions.get(work.split.parent_version_id)
            if parent is None or parent.version.project_id != work.project_id:
                raise InvalidField("split.parent_version_id", "not a version of this project")
            async for item in self.manifest(parent):
                if item.split:
                    placed[item.item_id] = item.split
        keys: list[tuple[str, str, list[str]]] = []
        async for batch in self.items.accepted(work.project_id, READ_BATCH):
            keys += await asyncio.to_thread(_split_keys, batch, work.filter, work.split.group_by)
        units = units_of(keys)
        spec = work.split
        return await asyncio.to_thread(assign, units, dict(spec.ratios), spec.seed, placed)

    async def _from_labels(
        self, work: VersionWork, project: ProjectSpec
    ) -> tuple[DatasetVersion, Taker]:
        """The settings of a version of the projection, and its items."""
        check_filter(work.filter, project)
        if work.rebalance.ByteSize():
            raise InvalidField("rebalance", "needs derived_from: a version to rebalance")
        if work.splits:
            check_ratios(dict(work.split.ratios))
        splits = await self._splits(work) if work.splits else {}
        settings = version_settings(
            project, work.filter, project.review_policy.version, project.auto_annotation.version
        )
        if work.splits:
            settings.split.CopyFrom(work.split)
        settings.augmentation.CopyFrom(work.augmentation)

        async def taken(manifest: Manifest) -> AsyncIterator[list[Stored]]:
            async for batch in self.items.accepted(work.project_id, READ_BATCH):
                # Filtering and serializing a batch is CPU work: off the event loop.
                yield await asyncio.to_thread(_take, batch, work.filter, manifest, splits)

        return settings, taken

    async def _derived(self, work: VersionWork) -> tuple[DatasetVersion, Taker]:
        """The settings of a rebalanced version of a parent, and its items: a
        first pass over the parent counts its classes, a second rebalances."""
        parent = await self.versions.get(work.derived_from)
        if parent is None or parent.version.project_id != work.project_id:
            raise InvalidField("derived_from", "not a version of this project")
        if work.filter.ByteSize() or work.splits:
            raise InvalidField("filter", "a derived version keeps its parent's filter and split")
        if work.rebalance.method == RebalanceMethod.REBALANCE_METHOD_UNSPECIFIED:
            raise InvalidField("rebalance.method", "must be UNDERSAMPLE or WEIGHTS")
        settings = DatasetVersion(
            project_id=work.project_id,
            filter=parent.version.filter,
            classes=parent.version.classes,
            schema_sha256=parent.version.schema_sha256,
            policy_version=parent.version.policy_version,
            rule_version=parent.version.rule_version,
            split=parent.version.split,
            derived_from=parent.version.version_id,
            rebalance=work.rebalance,
            skeletons=parent.version.skeletons,
            augmentation=work.augmentation
            if work.augmentation.ByteSize()
            else parent.version.augmentation,
        )
        rebalancer = Rebalancer(parent.version, work.rebalance)
        async for chunk in self.chunks(parent):
            await asyncio.to_thread(rebalancer.count, chunk)
        rebalancer.finish()

        def rebalanced(chunk: list[DatasetItem], manifest: Manifest) -> list[Stored]:
            kept = (rebalancer.apply(item) for item in chunk)
            return [manifest.add(item) for item in kept if item is not None]

        async def taken(manifest: Manifest) -> AsyncIterator[list[Stored]]:
            async for chunk in self.chunks(parent):
                yield await asyncio.to_thread(rebalanced, chunk, manifest)

        return settings, taken

    async def _write_manifest(self, manifest_id: str, taken: AsyncIterator[list[Stored]]) -> int:
        chunk: list[Stored] = []
        written = 0
        async for batch in taken:
            chunk += batch
            while len(chunk) >= CHUNK_ITEMS:
                await self.versions.put_chunks(
                    [_manifest_chunk(manifest_id, written, chunk[:CHUNK_ITEMS])]
                )
                chunk = chunk[CHUNK_ITEMS:]
                written += 1
        if chunk:
            await self.versions.put_chunks([_manifest_chunk(manifest_id, written, chunk)])
            written += 1
        return written

    def _version(
        self, settings: DatasetVersion, manifest: Manifest, work: VersionWork
    ) -> DatasetVersion:
        version = DatasetVersion()
        version.CopyFrom(settings)
        version.version_id = manifest.hexdigest()
        version.name = work.name
        version.item_count = manifest.items
        version.label_count = manifest.labels
        version.class_counts.update(manifest.class_counts)
        version.split_counts.update(manifest.split_counts)
        version.balance.extend(manifest.balance(settings.classes, sorted(settings.split.ratios)))
        # To the millisecond, as MongoDB keeps it, so that page tokens match.
        now = datetime.now(UTC)
        version.created_at.FromDatetime(now.replace(microsecond=now.microsecond // 1000 * 1000))
        version.created_by = work.actor_label
        return version

    async def version(self, version_id: str) -> StoredVersion:
        stored = await self.versions.get(version_id)
        if stored is None:
            raise NotFound("dataset version", version_id)
        return stored

    async def list_versions(
        self, project_id: str, page_size: int, token: str
    ) -> tuple[list[DatasetVersion], str]:
        """A page of the project's versions, newest first, and the next page's token."""
        await self.project(project_id)
        size = _page_size(page_size, 50)
        before = _decode_version_token(token) if token else None
        found = await self.versions.newest(project_id, size + 1, before)
        page = [s.version for s in found[:size]]
        last = page[-1] if page else None
        more = len(found) > size and last is not None
        next_token = _encode_version_token(last) if more and last else ""
        return page, next_token

    async def items_page(
        self, stored: StoredVersion, page_size: int, token: str
    ) -> tuple[list[DatasetItem], str]:
        """A page of a version's items in its order, and the next page's token."""
        size = _page_size(page_size, 100)
        chunk, offset = _decode_items_token(token) if token else (0, 0)
        items: list[DatasetItem] = []
        while len(items) < size and chunk < stored.chunks:
            found = await self.versions.chunk(stored.manifest_id, chunk)
            if found is None:
                raise NotFound("manifest chunk", f"{stored.version.version_id}:{chunk}")
            taken = found.items[offset : offset + size - len(items)]
            items += [DatasetItem.FromString(raw) for raw in taken]
            offset += len(taken)
            if offset >= len(found.items):
                chunk, offset = chunk + 1, 0
        next_token = _encode_items_token(chunk, offset) if chunk < stored.chunks else ""
        return items, next_token

    async def manifest_chunks(self, stored: StoredVersion) -> AsyncIterator[ManifestChunk]:
        """A version's stored chunks, in its order."""
        for index in range(stored.chunks):
            found = await self.versions.chunk(stored.manifest_id, index)
            if found is None:
                raise NotFound("manifest chunk", f"{stored.version.version_id}:{index}")
            yield found

    async def chunks(self, stored: StoredVersion) -> AsyncIterator[list[DatasetItem]]:
        """A version's items, in its order, a stored chunk at a time."""
        async for found in self.manifest_chunks(stored):
            yield [DatasetItem.FromString(raw) for raw in found.items]

    async def jsonl(self, stored: StoredVersion) -> AsyncIterator[bytes]:
        """A version as JSONL, a stored chunk's lines at a time."""
        async for found in self.manifest_chunks(stored):
            yield b"".join(found.lines)

    async def manifest(self, stored: StoredVersion) -> AsyncIterator[DatasetItem]:
        """Every item of a version, in its order, one chunk in memory at a time."""
        async for chunk in self.chunks(stored):
            for item in chunk:
                yield item

    async def diff(
        self, before: StoredVersion, after: StoredVersion, summary: DiffSummary
    ) -> AsyncIterator[ItemChange]:
        """What changed from `before` to `after`, in version order, both read as
        they stream; `summary` counts the changes as they are yielded."""
        if before.version.project_id != after.version.project_id:
            raise InvalidField("to_version_id", "belongs to another project than from_version_id")
        old, new = self.manifest(before), self.manifest(after)
        left, right = await anext(old, None), await anext(new, None)
        while left is not None or right is not None:
            if right is None or (
                left is not None and order_key(left.item_id) < order_key(right.item_id)
            ):
                change, left = item_change(left, None), await anext(old, None)
            elif left is None or order_key(right.item_id) < order_key(left.item_id):
                change, right = item_change(None, right), await anext(new, None)
            else:
                change = item_change(left, right)
                left, right = await anext(old, None), await anext(new, None)
            if change is not None:
                summarize([change], summary)
                yield change


def _manifest_chunk(manifest_id: str, index: int, stored: list[Stored]) -> ManifestChunk:
    return ManifestChunk(
        manifest_id, index, tuple(raw for raw, _ in stored), tuple(line for _, line in stored)
    )


def _take(
    batch: list[ProjectedItem], filter: DatasetFilter, manifest: Manifest, splits: dict[str, str]
) -> list[Stored]:
    taken = []
    for item in batch:
        found = dataset_item(item, filter)
        if found is not None:
            found.split = splits.get(item.item_id, "")
            taken.append(manifest.add(found))
    return taken


def _split_keys(
    batch: list[ProjectedItem], filter: DatasetFilter, group_by: str
) -> list[tuple[str, str, list[str]]]:
    keys = []
    for item in batch:
        found = dataset_item(item, filter)
        if found is not None:
            group = item.metadata.get(group_by, "") if group_by else ""
            keys.append((item.item_id, group, [class_of(label) or "" for label in found.labels]))
    return keys


def _page_size(asked: int, default: int) -> int:
    if asked < 0:
        raise InvalidField("page_size", "must not be negative")
    return min(asked or default, MAX_PAGE)


def _encode_version_token(version: DatasetVersion) -> str:
    at = version.created_at.ToDatetime(UTC).isoformat()
    return base64.urlsafe_b64encode(f"{at}|{version.version_id}".encode()).decode()


def _decode_version_token(token: str) -> tuple[datetime, str]:
    try:
        at, version_id = base64.urlsafe_b64decode(token.encode()).decode().split("|")
        return datetime.fromisoformat(at), version_id
    except ValueError:
        raise InvalidField("page_token", "not a token this service gave") from None


def _encode_items_token(chunk: int, offset: int) -> str:
    return f"{chunk}.{offset}"


def _decode_items_token(token: str) -> tuple[int, int]:
    try:
        chunk, offset = (int(part) for part in token.split("."))
    except ValueError:
        raise InvalidField("page_token", "not a token this service gave") from None
    if chunk < 0 or offset < 0:
        raise InvalidField("page_token", "not a token this service gave")
    return chunk, offset
