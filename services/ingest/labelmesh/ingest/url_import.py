"""Importing items from URLs: each is fetched (a bounded number at a time) and
then stored exactly like an uploaded file, the whole request in one batch."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from labelmesh.core.errors import InvalidField, NotFound
from labelmesh.ingest.domain import Upload
from labelmesh.ingest.fetching import BatchFull, BytePool, Fetched, FetchFailed
from labelmesh.ingest.imported import annotations_of, checked_source, predictions_of
from labelmesh.ingest.metrics import IngestMetrics
from labelmesh.ingest.ports import UrlFetcher
from labelmesh.ingest.usecases import Batch, Ingest, UploadOutcome
from labelmesh.v1.events_pb2 import Actor

URL_SOURCE = "url"
MAX_URLS = 256


@dataclass(frozen=True)
class UrlItem:
    """One URL to import and what its item comes with."""

    url: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    # ImportedAnnotation (ImportedPrediction) messages or their proto-JSON.
    annotations: Sequence[object] = ()
    predictions: Sequence[object] = ()
    source: str = ""


@dataclass(eq=False)
class UrlImport:
    ingest: Ingest
    fetcher: UrlFetcher
    metrics: IngestMetrics
    # URLs fetched at once, per request.
    concurrency: int
    # The bytes one request's fetches may hold together, as a file upload's request may.
    max_batch_bytes: int
    # The request deadline: fetches end in time for what they bring to be stored.
    deadline_seconds: float = 300.0

    def fetch_until(self) -> float:
        """The event-loop time by which a request's fetches are to end, leaving a
        fifth of its deadline for storing what they brought."""
        return asyncio.get_running_loop().time() + self.deadline_seconds * 0.8

    async def import_urls(
        self, project_id: str, items: Sequence[UrlItem], actor: Actor
    ) -> list[UploadOutcome]:
        """Fetch and store each URL; one that fails fails alone, naming `items[i].url`."""
        if len(items) > MAX_URLS:
            raise InvalidField("items", f"at most {MAX_URLS} URLs per request")
        if not items:
            raise InvalidField("items", "at least one URL is required")
        if await self.ingest.projects.get(project_id) is None:
            raise NotFound("project", project_id)
        places = [f"items[{i}]" for i in range(len(items))]
        pairs = list(zip(places, items, strict=True))
        fetched = await self.fetch_all(pairs, URL_SOURCE, self.fetch_until())
        entries = [
            InvalidField(f"{at}.url", entry.reason) if isinstance(entry, BatchFull) else entry
            for at, entry in zip(places, fetched, strict=True)
        ]
        return await self.ingest.store_batch(
            project_id, entries, actor, Batch(default_source=URL_SOURCE)
        )

    async def fetch_all(
        self, items: Sequence[tuple[str, UrlItem]], default_source: str, until: float
    ) -> list[Upload | InvalidField | BatchFull]:
        """Each (`at`, item) as an upload of the bytes at the item's URL, or the
        error naming `<at>.url` and why; at most `concurrency` fetches at a time,
        each ending by the event-loop time `until`. BatchFull: the item did not
        fit into these fetches' byte pool."""
        slots = asyncio.Semaphore(self.concurrency)
        pool = BytePool(self.max_batch_bytes)

        async def one(at: str, item: UrlItem) -> Upload | InvalidField | BatchFull:
            try:
                # What needs no fetch is checked first, so that no fetch is wasted.
                source = checked_source(item.source, default_source, f"{at}.source")
                annotations = annotations_of(item.annotations, f"{at}.annotations")
                predictions = predictions_of(item.predictions, f"{at}.predictions")
            except InvalidField as exc:
                return exc
            async with slots:
                try:
                    fetched = await self._fetch_by(item.url, pool, until)
                except FetchFailed as exc:
                    self.metrics.url_fetches.labels(exc.outcome).inc()
                    if isinstance(exc, BatchFull):
                        return exc
                    return InvalidField(f"{at}.url", exc.reason)
            self.metrics.url_fetches.labels("fetched").inc()
            self.metrics.url_fetched_bytes.inc(len(fetched.content))
            return Upload(
                filename=fetched.filename,
                content_type=fetched.content_type,
                content=fetched.content,
                metadata=dict(item.metadata),
                annotations=annotations,
                predictions=predictions,
                source=source,
                source_uri=item.url,
            )

        return list(await asyncio.gather(*(one(at, item) for at, item in items)))

    async def _fetch_by(self, url: str, pool: BytePool, until: float) -> Fetched:
        """Fetch `url`, ending by the event-loop time `until`."""
        try:
            async with asyncio.timeout_at(until):
                return await self.fetcher.fetch(url, pool)
        except TimeoutError:
            reason = "the request's time ran out before the URL's answer"
            raise FetchFailed("timeout", reason) from None
