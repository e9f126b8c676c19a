"""Batched, concurrent uploads with a status per record, a resumable log and
retries of what failed.

Records are grouped by how they are sent (JSON text, multipart files, URLs
for the server to fetch) and by data type, each with its own batch size.
`concurrency` batches are in flight at once; the source is read only as fast
as batches go out, so memory stays flat whatever its size. Re-sending is
safe: the server recognises content it stored before by its hash and reports
it as a duplicate of the first item.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from labelmesh.sdk.errors import ApiError, LabelMeshError
from labelmesh.sdk.models import UploadResult, upload_results
from labelmesh.sdk.records import UploadRecord
from labelmesh.sdk.transport import Transport
from labelmesh.sdk.upload_log import LogEntry, Status, UploadLog, latest

# Records per request by data type: many small texts, few large videos.
DEFAULT_BATCH_SIZES = {
    "text": 1000,
    "image": 32,
    "audio": 8,
    "video": 2,
    "other": 16,
    "url": 64,
}
# The server refuses the first 1,000 items of a request, and URL imports past 256.
MAX_BATCH_SIZES = {"text": 1000, "url": 256}
MAX_BATCH_SIZE = 128
# A multipart batch is sent early once its files reach this size; ingest takes
# 16 MiB of a request beside its largest file.
MAX_BATCH_BYTES = 12 * 1024 * 1024
DEFAULT_CONCURRENCY = 4


@dataclass
class UploadReport:
    """What an upload did, counted as it goes."""

    total: int | None = None
    stored: int = 0
    duplicates: int = 0
    failed: int = 0
    skipped: int = 0
    bytes_sent: int = 0
    started: float = field(default_factory=time.monotonic)
    log_path: Path | None = None
    failures: list[LogEntry] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.stored + self.duplicates + self.failed + self.skipped

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> float:
        """Records sent per second, skipped ones not counted."""
        sent = self.done - self.skipped
        return sent / self.elapsed if self.elapsed > 0 else 0.0

    def count(self, entry: LogEntry) -> None:
        if entry.status == "stored":
            self.stored += 1
        elif entry.status == "duplicate":
            self.duplicates += 1
        else:
            self.failed += 1
            if len(self.failures) < 1000:
                self.failures.append(entry)


Progress = Callable[[UploadReport], None]


@dataclass(frozen=True)
class Batch:
    group: str
    records: list[UploadRecord]


class Uploader:
    """Sends records to one project."""

    def __init__(
        self,
        transport: Transport,
        project_id: str,
        *,
        batch_size: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        log: str | Path | None = None,
        resume: bool = True,
        progress: Progress | None = None,
    ) -> None:
        if batch_size is not None and not 1 <= batch_size <= MAX_BATCH_SIZES["text"]:
            raise ValueError("batch_size must be between 1 and 1000")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._transport = transport
        self._project = project_id
        self._batch_size = batch_size
        self._concurrency = concurrency
        self._log_path = Path(log) if log is not None else None
        self._resume = resume
        self._progress = progress

    async def run(self, records: Iterable[UploadRecord], total: int | None = None) -> UploadReport:
        """Upload every record; a record whose log entry says it is stored (or a
        duplicate) is skipped when resuming."""
        report = UploadReport(total=total, log_path=self._log_path)
        done = self._already_done()
        slots = asyncio.Semaphore(self._concurrency)
        pending: set[asyncio.Task[None]] = set()
        with ExitStack() as stack:
            log = stack.enter_context(UploadLog(self._log_path)) if self._log_path else None

            async def send(batch: Batch) -> None:
                try:
                    entries = await self._send(batch)
                    if log is not None:
                        log.write(entries)
                    for entry in entries:
                        report.count(entry)
                    self._notify(report)
                finally:
                    slots.release()

            async def launch(batch: Batch) -> None:
                await slots.acquire()
                task = asyncio.create_task(send(batch))
                pending.add(task)
                task.add_done_callback(pending.discard)

            try:
                groups: dict[str, list[UploadRecord]] = {}
                sizes: dict[str, int] = {}
                for record in records:
                    if record.key in done:
                        report.skipped += 1
                        continue
                    group = group_of(record)
                    batch = groups.setdefault(group, [])
                    batch.append(record)
                    sizes[group] = sizes.get(group, 0) + size_hint(record)
                    if len(batch) >= self._limit(group) or sizes[group] >= MAX_BATCH_BYTES:
                        await launch(Batch(group, groups.pop(group)))
                        sizes[group] = 0
                for group, batch in groups.items():
                    await launch(Batch(group, batch))
                if pending:
                    await asyncio.gather(*pending)
            finally:
                # An interrupted upload leaves no request running; what was not
                # logged is sent again when the upload resumes.
                for task in list(pending):
                    task.cancel()
        self._notify(report)
        return report

    def _already_done(self) -> set[str]:
        if not self._resume or self._log_path is None or not self._log_path.exists():
            return set()
        return {k for k, e in latest(self._log_path).items() if e.status != "failed"}

    def _limit(self, group: str) -> int:
        kind = group.split(":")[-1]
        ceiling = MAX_BATCH_SIZES.get(kind, MAX_BATCH_SIZE)
        return min(self._batch_size or DEFAULT_BATCH_SIZES[kind], ceiling)

    def _notify(self, report: UploadReport) -> None:
        if self._progress is not None:
            self._progress(report)

    async def _send(self, batch: Batch) -> list[LogEntry]:
        """The batch's entries, one per record: from the server's results, or all
        failed with the reason the whole request failed. A file that cannot be
        read fails alone."""
        everything = batch.records
        unreadable: dict[int, LogEntry] = {}
        contents: list[bytes] = []
        if batch.group.startswith("file:"):
            read = await asyncio.to_thread(read_all, everything)
            for position, (record, content) in enumerate(zip(everything, read, strict=True)):
                if isinstance(content, OSError):
                    unreadable[position] = failed(record, str(content))
                else:
                    contents.append(content)
        sent = [(p, r) for p, r in enumerate(everything) if p not in unreadable]
        records = [record for _, record in sent]
        try:
            results = await self._request(batch.group, records, contents) if records else []
        except LabelMeshError as exc:
            reason = exc.message if isinstance(exc, ApiError) else str(exc)
            return [unreadable.get(p) or failed(r, reason) for p, r in enumerate(everything)]
        by_index = {result.index: result for result in results}
        entries = dict(unreadable)
        for index, (position, record) in enumerate(sent):
            entries[position] = entry_of(record, by_index.get(index))
        return [entries[position] for position in range(len(everything))]

    async def _request(
        self, group: str, records: list[UploadRecord], contents: list[bytes]
    ) -> list[UploadResult]:
        project = self._project
        if group in ("text", "url"):
            path = "items" if group == "text" else "imports/urls"
            body = {"items": [{group: getattr(r, group), **r.extras()} for r in records]}
            answer = await self._transport.json(
                "POST", "ingest", f"/v1/projects/{project}/{path}", json=body
            )
        else:
            files = [
                ("files", (r.name, content, r.content_type or "application/octet-stream"))
                for r, content in zip(records, contents, strict=True)
            ]
            extras = [r.extras() for r in records]
            data = {"items": json.dumps(extras)} if any(extras) else None
            answer = await self._transport.json(
                "POST", "ingest", f"/v1/projects/{project}/files", files=files, data=data
            )
        return upload_results(answer)


def read_all(records: list[UploadRecord]) -> list[bytes | OSError]:
    """Each file record's bytes, or why it could not be read."""
    contents: list[bytes | OSError] = []
    for record in records:
        try:
            contents.append(record.read())
        except OSError as exc:
            contents.append(exc)
    return contents


def group_of(record: UploadRecord) -> str:
    """How a record is sent: as JSON text, by URL, or as a file of its data type."""
    if record.kind in ("text", "url"):
        return record.kind
    return f"file:{record.media_type}"


def size_hint(record: UploadRecord) -> int:
    if record.data is not None:
        return len(record.data)
    if record.path is not None:
        try:
            return Path(record.path).stat().st_size
        except OSError:
            return 0
    return len(record.text or "")


def entry_of(record: UploadRecord, result: UploadResult | None) -> LogEntry:
    if result is None:
        return failed(record, "the server returned no result for this record")
    if result.error is not None:
        return failed(record, str(result.error))
    status: Status = "duplicate" if result.duplicate else "stored"
    return LogEntry(record.key, status, item_id=result.item_id)


def failed(record: UploadRecord, reason: str) -> LogEntry:
    return LogEntry(record.key, "failed", error=reason, record=record)


def failed_records(log: str | Path) -> list[UploadRecord]:
    """The records whose newest entry in the log says they failed."""
    return [e.record for e in latest(log).values() if e.status == "failed" and e.record]
