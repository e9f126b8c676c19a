"""Importing the items a CSV or JSONL manifest lists: text, URLs fetched like
URL imports, and objects already in ingest's object store, a batch of rows at a
time while the file is read."""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO

from labelmesh.core.errors import InvalidField, NotFound
from labelmesh.core.storage import ObjectNotFound, ObjectStore
from labelmesh.ingest.domain import Upload
from labelmesh.ingest.fetching import BatchFull, BytePool
from labelmesh.ingest.manifest import (
    ROWS,
    ManifestRow,
    Row,
    batches,
    checked_mapping,
    manifest_row,
    object_key_problem,
    rows_of,
)
from labelmesh.ingest.sniff import sniffed_type
from labelmesh.ingest.url_import import UrlImport, UrlItem
from labelmesh.ingest.usecases import MAX_BATCH, Batch, Ingest, UploadOutcome
from labelmesh.v1.events_pb2 import Actor
from labelmesh.v1.ingest_service_pb2 import ManifestFormat, ManifestMapping

MANIFEST_SOURCE = "manifest"
# A row as read, or why it cannot be; and numbered in the file.
Parsed = ManifestRow | InvalidField
Numbered = tuple[int, Parsed]
Entry = Upload | InvalidField | BatchFull


@dataclass(eq=False)
class ManifestImport:
    ingest: Ingest
    urls: UrlImport
    store: ObjectStore
    batch_rows: int = MAX_BATCH

    async def import_manifest(
        self,
        project_id: str,
        file: IO[bytes],
        format_: ManifestFormat,
        mapping: ManifestMapping,
        actor: Actor,
    ) -> list[UploadOutcome]:
        """Store each row's item; a row that fails fails alone, naming e.g.
        `rows[12].url`. Each batch of rows is one transaction: a failure stops the
        import after the batches before it, and importing again is harmless, as
        what was stored comes back as duplicates."""
        checked_mapping(mapping)
        if await self.ingest.projects.get(project_id) is None:
            raise NotFound("project", project_id)
        rows = batches(rows_of(file, format_, mapping), self.batch_rows)
        outcomes: list[UploadOutcome] = []
        start = 0
        until = self.urls.fetch_until()
        # Rows are read and parsed off the event loop, a batch at a time.
        while numbered := await asyncio.to_thread(_next_batch, rows, mapping, start):
            outcomes.extend(await self._store_rows(project_id, numbered, actor, until))
            start += len(numbered)
        if not outcomes:
            raise InvalidField("file", "no data rows")
        return outcomes

    async def _store_rows(
        self, project_id: str, numbered: list[Numbered], actor: Actor, until: float
    ) -> list[UploadOutcome]:
        """Store a batch's rows. The media its URLs and objects bring is held to a
        request's byte pool: rows that do not fit wait for the next round."""
        outcomes: list[UploadOutcome] = []
        pending = numbered
        while pending:
            entries = await self._entries(project_id, pending, until)
            ready = [(n, e) for (n, _), e in zip(pending, entries, strict=True) if not _full(e)]
            waiting = [row for row, e in zip(pending, entries, strict=True) if _full(e)]
            if not ready:
                # Not one fits an empty pool (a pool smaller than one item): they fail.
                ready = [(n, _as_error(e, n)) for (n, _), e in zip(pending, entries, strict=True)]
                waiting = []
            batch = Batch(ROWS, default_source=MANIFEST_SOURCE, numbers=[n for n, _ in ready])
            uploads = [_as_error(e, n) for n, e in ready]
            outcomes.extend(await self.ingest.store_batch(project_id, uploads, actor, batch))
            pending = waiting
        outcomes.sort(key=lambda outcome: outcome.index)
        return outcomes

    async def _entries(
        self, project_id: str, numbered: Sequence[Numbered], until: float
    ) -> list[Entry]:
        entries: list[Entry | None] = [None] * len(numbered)
        fetches: list[tuple[int, str, UrlItem]] = []
        reads: list[tuple[int, str, ManifestRow]] = []
        for position, (number, row) in enumerate(numbered):
            at = f"{ROWS}[{number}]"
            if isinstance(row, InvalidField):
                entries[position] = row
            elif row.kind == "text":
                entries[position] = Upload(
                    text=row.value,
                    metadata=row.metadata,
                    annotations=row.annotations,
                    predictions=row.predictions,
                )
            elif row.kind == "url":
                item = UrlItem(row.value, row.metadata, row.annotations, row.predictions)
                fetches.append((position, at, item))
            else:
                reads.append((position, at, row))
        pool = BytePool(self.urls.max_batch_bytes)
        fetched, read = await asyncio.gather(
            self.urls.fetch_all([(at, item) for _, at, item in fetches], MANIFEST_SOURCE, until),
            self._read_objects(project_id, [(at, row) for _, at, row in reads], pool),
        )
        for (position, _, _), entry in zip(fetches, fetched, strict=True):
            entries[position] = entry
        for (position, _, _), entry in zip(reads, read, strict=True):
            entries[position] = entry
        done = [entry for entry in entries if entry is not None]
        assert len(done) == len(entries), "every row has its entry"
        return done

    async def _read_objects(
        self, project_id: str, rows: Sequence[tuple[str, ManifestRow]], pool: BytePool
    ) -> list[Entry]:
        slots = asyncio.Semaphore(self.urls.concurrency)

        async def one(at: str, row: ManifestRow) -> Entry:
            async with slots:
                return await self._read_object(project_id, at, row, pool)

        return list(await asyncio.gather(*(one(at, row) for at, row in rows)))

    async def _read_object(
        self, project_id: str, at: str, row: ManifestRow, pool: BytePool
    ) -> Entry:
        field, key = f"{at}.object_key", row.value
        problem = object_key_problem(key, project_id)
        if problem:
            return InvalidField(field, problem)
        limit = self.ingest.max_item_bytes
        try:
            size = await self.store.size(key)
            if size > limit:
                return InvalidField(field, f"{size} bytes exceeds {limit}")
            if not pool.take(size):
                return BatchFull(pool.capacity)
            content = await self.store.get(key)
        except ObjectNotFound:
            return InvalidField(field, f"no object {key!r} in ingest's object store")
        media_type = sniffed_type(content)
        if media_type is None:
            return InvalidField(field, "the content is not an image, audio, video or UTF-8 text")
        return Upload(
            filename=posixpath.basename(key),
            content_type=media_type,
            content=content,
            metadata=row.metadata,
            annotations=row.annotations,
            predictions=row.predictions,
            source_uri=key,
        )


def _full(entry: Entry) -> bool:
    return isinstance(entry, BatchFull)


def _as_error(entry: Entry, number: int) -> Upload | InvalidField:
    if isinstance(entry, BatchFull):
        return InvalidField(f"{ROWS}[{number}]", entry.reason)
    return entry


def _next_batch(
    rows: Iterator[list[Row | InvalidField]], mapping: ManifestMapping, start: int
) -> list[Numbered]:
    """The next batch of rows, parsed and numbered from `start`; empty at the end."""
    return [(start + i, _parsed(row, mapping, start + i)) for i, row in enumerate(next(rows, []))]


def _parsed(row: Row | InvalidField, mapping: ManifestMapping, number: int) -> Parsed:
    if isinstance(row, InvalidField):
        return row
    try:
        return manifest_row(row, mapping, f"{ROWS}[{number}]")
    except InvalidField as exc:
        return exc
