"""What the async client can do, one class per resource, each a thin layer
over the services' REST routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from labelmesh.sdk import sources
from labelmesh.sdk.bucket_location import BucketSettingError, checked_endpoint, location_of
from labelmesh.sdk.migrate.common import Migration
from labelmesh.sdk.models import (
    Annotation,
    AuditEntry,
    BrowsedItem,
    Bucket,
    DatasetVersion,
    ExportJob,
    Item,
    Label,
    Model,
    Page,
    Project,
    QueueStats,
    Result,
    ReviewTask,
    Task,
    UploadResult,
    Verification,
    upload_results,
)
from labelmesh.sdk.records import MediaType, UploadRecord
from labelmesh.sdk.transport import Transport
from labelmesh.sdk.uploads import Progress, Uploader, UploadReport, failed_records

T = TypeVar("T")


class Resource:
    def __init__(self, transport: Transport) -> None:
        self._t = transport


async def every_page(fetch: Callable[[str], Awaitable[Page[T]]]) -> AsyncIterator[T]:
    """Every item of a paged list, fetching pages as they are consumed."""
    token = ""
    while True:
        page = await fetch(token)
        for item in page.items:
            yield item
        token = page.next_page_token
        if not token:
            return


def when(moment: datetime | str | None) -> str | None:
    return moment.isoformat() if isinstance(moment, datetime) else moment


class Projects(Resource):
    async def create(
        self, name: str, data_type: str, classes: Sequence[str], **fields: Any
    ) -> Project:
        """A new project; `fields` are the API's other project settings
        (auto_accept_threshold, models, review_policy, ...)."""
        body = {"name": name, "data_type": data_type, "classes": list(classes), **fields}
        answer = await self._t.json("POST", "annotation", "/v1/projects", json=body, retry=False)
        return Project(**answer["project"])

    async def get(self, project_id: str) -> Project:
        answer = await self._t.json("GET", "annotation", f"/v1/projects/{project_id}")
        return Project(**answer["project"])

    async def list(self, page_size: int = 0, page_token: str = "") -> Page[Project]:
        params = {"page_size": page_size, "page_token": page_token}
        answer = await self._t.json("GET", "annotation", "/v1/projects", params=params)
        projects = [Project(**p) for p in answer.get("projects", [])]
        return Page[Project](items=projects, next_page_token=answer.get("next_page_token", ""))

    def iterate(self) -> AsyncIterator[Project]:
        return every_page(lambda token: self.list(page_token=token))

    async def queue(self, project_id: str) -> QueueStats:
        answer = await self._t.json("GET", "annotation", f"/v1/projects/{project_id}/queue")
        return QueueStats(**answer)


class Items(Resource):
    async def upload(
        self,
        project_id: str,
        records: sources.Source | Iterable[UploadRecord],
        *,
        batch_size: int | None = None,
        concurrency: int = 4,
        log: str | Path | None = None,
        resume: bool = True,
        progress: Progress | None = None,
    ) -> UploadReport:
        """Upload records in concurrent batches. With `log`, every record's
        outcome is written there, records it lists as done are skipped
        (`resume`), and `retry_from_log` sends again what failed."""
        uploader = Uploader(
            self._t,
            project_id,
            batch_size=batch_size,
            concurrency=concurrency,
            log=log,
            resume=resume,
            progress=progress,
        )
        total = records.total if isinstance(records, sources.Source) else None
        return await uploader.run(records, total)

    async def upload_folder(
        self,
        project_id: str,
        root: str | Path,
        types: Sequence[MediaType] | None = None,
        **options: Any,
    ) -> UploadReport:
        chosen = tuple(types or sources.EXTENSIONS)
        return await self.upload(project_id, sources.folder(root, chosen), **options)

    async def upload_urls(
        self, project_id: str, urls: Iterable[str], **options: Any
    ) -> UploadReport:
        return await self.upload(project_id, sources.urls(urls), **options)

    async def upload_csv(
        self, project_id: str, path: str | Path, columns: sources.Columns, **options: Any
    ) -> UploadReport:
        return await self.upload(project_id, sources.csv_file(path, columns), **options)

    async def upload_jsonl(
        self, project_id: str, path: str | Path, columns: sources.Columns, **options: Any
    ) -> UploadReport:
        return await self.upload(project_id, sources.jsonl_file(path, columns), **options)

    async def upload_records(
        self, project_id: str, records: Iterable[UploadRecord | Mapping[str, Any]], **options: Any
    ) -> UploadReport:
        return await self.upload(project_id, sources.records(records), **options)

    async def retry_from_log(
        self, project_id: str, log: str | Path, **options: Any
    ) -> UploadReport:
        """Send again only the records whose newest entry in `log` says they
        failed; their new outcomes are appended to the same log."""
        return await self.upload(
            project_id, sources.records(failed_records(log)), log=log, resume=False, **options
        )

    async def migrate(self, project_id: str, migration: Migration, **options: Any) -> UploadReport:
        """Upload what `labelmesh.sdk.migrate`'s readers made of another tool's
        export (`label_studio.read`, `cvat.read`, `coco.read`)."""
        source = sources.Source(migration.records, len(migration.records))
        return await self.upload(project_id, source, **options)

    async def upload_texts(
        self, project_id: str, texts: Sequence[str], metadata: Mapping[str, str] | None = None
    ) -> list[UploadResult]:
        """One request of up to 1,000 texts; each gets its own result."""
        items = [{"text": text, "metadata": dict(metadata or {})} for text in texts]
        answer = await self._t.json(
            "POST", "ingest", f"/v1/projects/{project_id}/items", json={"items": items}
        )
        return upload_results(answer)

    async def get(self, item_id: str) -> Item:
        return Item.of(await self._t.json("GET", "ingest", f"/v1/items/{item_id}"))

    async def media(self, item_id: str) -> bytes:
        response = await self._t.call("GET", "ingest", f"/v1/items/{item_id}/media")
        return response.content

    async def list(
        self,
        project_id: str,
        *,
        status: str = "",
        label_class: str = "",
        annotator: str = "",
        source: str = "",
        data_type: str = "",
        metadata: Mapping[str, str] | None = None,
        query: str = "",
        page_size: int = 0,
        page_token: str = "",
    ) -> Page[BrowsedItem]:
        """A page of the project's items that pass every filter given."""
        params = {
            "status": status,
            "class": label_class,
            "annotator": annotator,
            "source": source,
            "data_type": data_type,
            "metadata": [f"{k}:{v}" for k, v in (metadata or {}).items()],
            "q": query,
            "page_size": page_size,
            "page_token": page_token,
        }
        answer = await self._t.json(
            "GET", "dataset", f"/v1/projects/{project_id}/items", params=params
        )
        items = [BrowsedItem(**i) for i in answer.get("items", [])]
        return Page[BrowsedItem](items=items, next_page_token=answer.get("next_page_token", ""))

    def iterate(self, project_id: str, **filters: Any) -> AsyncIterator[BrowsedItem]:
        return every_page(lambda token: self.list(project_id, page_token=token, **filters))


class Tasks(Resource):
    async def next(self, project_id: str, annotator: str = "") -> Task | None:
        """The caller's next task in the project, or None when none waits."""
        body = {"annotator": annotator} if annotator else {}
        response = await self._t.call(
            "POST", "annotation", f"/v1/projects/{project_id}/tasks/next", json=body, retry=False
        )
        return Task(**response.json()["task"]) if response.status_code == 200 else None

    async def get(self, task_id: str) -> Task:
        return Task(**await self._t.json("GET", "annotation", f"/v1/tasks/{task_id}"))

    async def submit(self, task_id: str, labels: Sequence[Label], annotator: str = "") -> str:
        """Submit the caller's labels for a task; returns the annotation's id."""
        body: dict[str, Any] = {"labels": list(labels)}
        if annotator:
            body["annotator"] = annotator
        answer = await self._t.json(
            "POST", "annotation", f"/v1/tasks/{task_id}/annotations", json=body, retry=False
        )
        return str(answer["annotation_id"])


class Annotations(Resource):
    async def of_item(self, item_id: str) -> list[Annotation]:
        answer = await self._t.json("GET", "annotation", f"/v1/items/{item_id}/annotations")
        return [Annotation(**a) for a in answer.get("annotations", [])]

    async def history(self, item_id: str) -> Result:
        """Every version of every annotation of the item, from the audit log."""
        path = f"/v1/items/{item_id}/annotations/history"
        return Result(**await self._t.json("GET", "audit", path))


class Suggestions(Resource):
    async def accept(
        self, task_id: str, suggestion_ids: Sequence[str] = (), annotator: str = ""
    ) -> str:
        """Accept a task's suggestions (all of them when none is named) as the
        caller's annotation; returns its id."""
        body: dict[str, Any] = {"suggestion_ids": list(suggestion_ids)}
        if annotator:
            body["annotator"] = annotator
        path = f"/v1/tasks/{task_id}/suggestions/accept"
        answer = await self._t.json("POST", "annotation", path, json=body, retry=False)
        return str(answer["annotation_id"])

    async def reject(self, task_id: str, suggestion_id: str, reason: str = "") -> None:
        path = f"/v1/tasks/{task_id}/suggestions/{suggestion_id}/reject"
        await self._t.call("POST", "annotation", path, json={"reason": reason})


class Reviews(Resource):
    async def of_item(self, item_id: str) -> Result:
        return Result(**await self._t.json("GET", "review", f"/v1/items/{item_id}/reviews"))

    async def next(self, project_id: str, reviewer: str = "") -> ReviewTask | None:
        body = {"reviewer": reviewer} if reviewer else {}
        path = f"/v1/projects/{project_id}/review-tasks/next"
        response = await self._t.call("POST", "review", path, json=body, retry=False)
        return ReviewTask(**response.json()["task"]) if response.status_code == 200 else None

    async def get(self, review_task_id: str) -> ReviewTask:
        return ReviewTask(
            **await self._t.json("GET", "review", f"/v1/review-tasks/{review_task_id}")
        )

    async def decide(
        self,
        review_task_id: str,
        approved: bool,
        reason: str = "",
        labels: Sequence[Label] = (),
        reviewer: str = "",
    ) -> Result:
        body: dict[str, Any] = {
            "decision": "APPROVED" if approved else "REJECTED",
            "reason": reason,
            "labels": list(labels),
        }
        if reviewer:
            body["reviewer"] = reviewer
        path = f"/v1/review-tasks/{review_task_id}/decision"
        return Result(**await self._t.json("POST", "review", path, json=body, retry=False))

    async def flag(self, item_id: str, reason: str, annotation_id: str = "") -> Result:
        body = {"reason": reason, "annotation_id": annotation_id}
        path = f"/v1/items/{item_id}/flag"
        return Result(**await self._t.json("POST", "review", path, json=body))

    async def policy(self, project_id: str) -> Result:
        path = f"/v1/projects/{project_id}/review-policy"
        return Result(**await self._t.json("GET", "review", path))

    async def configure_policy(self, project_id: str, policy: Mapping[str, Any]) -> Result:
        path = f"/v1/projects/{project_id}/review-policy"
        return Result(**await self._t.json("PUT", "review", path, json=dict(policy)))

    async def set_gold(self, project_id: str, answers: Mapping[str, Sequence[Label]]) -> Result:
        """Gold answers, by item id."""
        items = [{"item_id": item, "labels": list(labels)} for item, labels in answers.items()]
        path = f"/v1/projects/{project_id}/gold"
        return Result(**await self._t.json("POST", "review", path, json={"items": items}))


class Reports(Resource):
    async def _report(self, project_id: str, kind: str, **params: Any) -> Result:
        path = f"/v1/projects/{project_id}/reports/{kind}"
        return Result(**await self._t.json("GET", "review", path, params=params))

    async def annotations(
        self,
        project_id: str,
        annotator: str = "",
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Result:
        """Each annotation's quality score."""
        return await self._report(
            project_id, "annotations", annotator=annotator, since=when(since), until=when(until)
        )

    async def annotators(
        self,
        project_id: str,
        annotator: str = "",
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Result:
        return await self._report(
            project_id, "annotators", annotator=annotator, since=when(since), until=when(until)
        )

    async def reviewers(
        self,
        project_id: str,
        reviewer: str = "",
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Result:
        return await self._report(
            project_id, "reviewers", reviewer=reviewer, since=when(since), until=when(until)
        )

    async def agreement(
        self, project_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> Result:
        return await self._report(project_id, "agreement", since=when(since), until=when(until))


class Models(Resource):
    async def list(self) -> list[Model]:
        answer = await self._t.json("GET", "inference", "/v1/models")
        return [Model.of(m) for m in answer.get("models", [])]

    async def get(self, model_id: str) -> Model:
        return Model.of((await self._t.json("GET", "inference", f"/v1/models/{model_id}"))["model"])

    async def register(self, **body: Any) -> Model:
        """Register a remote model; `body` is the API's RegisterRequest."""
        answer = await self._t.json("POST", "inference", "/v1/models", json=body, retry=False)
        return Model.of(answer["model"])

    async def assist(
        self,
        project_id: str,
        item_ids: Sequence[str],
        model_id: str = "",
        min_confidence: float = 0.0,
    ) -> Result:
        """Suggestions for items, from the project's model or the one named."""
        body = {
            "project_id": project_id,
            "item_ids": list(item_ids),
            "model_id": model_id,
            "min_confidence": min_confidence,
        }
        return Result(**await self._t.json("POST", "inference", "/v1/assist", json=body))

    async def prediction(self, item_id: str) -> Result:
        path = f"/v1/items/{item_id}/prediction"
        return Result(**await self._t.json("GET", "inference", path))


class Datasets(Resource):
    async def create(self, project_id: str, name: str, **fields: Any) -> DatasetVersion:
        """A new version of the project's accepted labels; `fields` are the API's
        filter, split, derived_from, rebalance and augmentation."""
        path = f"/v1/projects/{project_id}/dataset-versions"
        answer = await self._t.json("POST", "dataset", path, json={"name": name, **fields})
        return DatasetVersion(**answer["version"])

    async def get(self, version_id: str) -> DatasetVersion:
        answer = await self._t.json("GET", "dataset", f"/v1/dataset-versions/{version_id}")
        return DatasetVersion(**answer["version"])

    async def list(
        self, project_id: str, page_size: int = 0, page_token: str = ""
    ) -> Page[DatasetVersion]:
        path = f"/v1/projects/{project_id}/dataset-versions"
        params = {"page_size": page_size, "page_token": page_token}
        answer = await self._t.json("GET", "dataset", path, params=params)
        versions = [DatasetVersion(**v) for v in answer.get("versions", [])]
        return Page[DatasetVersion](
            items=versions, next_page_token=answer.get("next_page_token", "")
        )

    def iterate(self, project_id: str) -> AsyncIterator[DatasetVersion]:
        return every_page(lambda token: self.list(project_id, page_token=token))

    async def balance_chart(self, version_id: str) -> bytes:
        """The version's labels per class and split, as a PNG."""
        path = f"/v1/dataset-versions/{version_id}/balance.png"
        return (await self._t.call("GET", "dataset", path)).content


class Exports(Resource):
    async def start(
        self, version_id: str, format: str, archive: str = "", include_media: bool = False
    ) -> ExportJob:
        """Start an export job; `format` is an ExportFormat such as
        `EXPORT_FORMAT_COCO`, `archive` an ArchiveFormat."""
        body: dict[str, Any] = {"format": format, "include_media": include_media}
        if archive:
            body["archive"] = archive
        path = f"/v1/dataset-versions/{version_id}/exports"
        return ExportJob(**(await self._t.json("POST", "dataset", path, json=body))["job"])

    async def get(self, job_id: str) -> ExportJob:
        return ExportJob(**(await self._t.json("GET", "dataset", f"/v1/exports/{job_id}"))["job"])

    async def wait(
        self,
        job_id: str,
        poll_seconds: float = 0.5,
        progress: Callable[[ExportJob], None] | None = None,
    ) -> ExportJob:
        """Poll the job until it succeeds or fails."""
        while True:
            job = await self.get(job_id)
            if progress is not None:
                progress(job)
            if job.finished:
                return job
            await asyncio.sleep(poll_seconds)

    async def download(
        self,
        job_id: str,
        destination: str | Path,
        progress: Callable[[int], None] | None = None,
    ) -> Path:
        """Stream a finished export's archive into a file; returns its path."""
        target = Path(destination)
        async with self._t.stream("dataset", f"/v1/exports/{job_id}/download") as response:
            handle = await asyncio.to_thread(target.open, "wb")
            try:
                async for chunk in response.aiter_bytes(1 << 20):
                    await asyncio.to_thread(handle.write, chunk)
                    if progress is not None:
                        progress(len(chunk))
            finally:
                handle.close()
        return target


BUCKET_MODES = {"reference": "BUCKET_MODE_REFERENCE", "copy": "BUCKET_MODE_COPY"}


def bucket_mode(mode: str) -> str:
    """The BucketMode of "reference" or "copy" (or of the enum's own name)."""
    if mode in BUCKET_MODES.values():
        return mode
    if mode.lower() in BUCKET_MODES:
        return BUCKET_MODES[mode.lower()]
    raise BucketSettingError("mode", f"{mode!r} is not reference or copy")


class Buckets(Resource):
    async def register(
        self,
        project_id: str,
        uri_or_bucket: str,
        *,
        endpoint: str,
        mode: str = "reference",
        prefix: str = "",
        region: str = "",
        secure: bool = True,
        mirror_deletions: bool = False,
        access_key_id: str = "",
        secret_access_key: str = "",
    ) -> Bucket:
        """Register a bucket (`s3://bucket/prefix`, or its name and `prefix`) at
        `endpoint` (host or host:port) as the project's source. Registering it
        again keeps its id and updates its settings. In "reference" mode media
        stays in the bucket; in "copy" mode it is copied into LabelMesh."""
        location = location_of(uri_or_bucket, prefix)
        if bool(access_key_id) != bool(secret_access_key):
            missing = "secret_access_key" if access_key_id else "access_key_id"
            raise BucketSettingError(missing, "give both keys, or neither for a public bucket")
        body = {
            "endpoint": checked_endpoint(endpoint),
            "secure": secure,
            "region": region,
            "bucket": location.bucket,
            "prefix": location.prefix,
            "mode": bucket_mode(mode),
            "mirror_deletions": mirror_deletions,
            "access_key_id": access_key_id,
            "secret_access_key": secret_access_key,
        }
        # The bucket's id derives from what it is, so a retried request
        # updates the same registration.
        path = f"/v1/projects/{project_id}/buckets"
        return Bucket(**(await self._t.json("POST", "ingest", path, json=body))["bucket"])

    async def get(self, bucket_id: str) -> Bucket:
        return Bucket(**(await self._t.json("GET", "ingest", f"/v1/buckets/{bucket_id}"))["bucket"])

    async def list(self, project_id: str) -> list[Bucket]:
        """The project's buckets, oldest first, each with its latest sync."""
        answer = await self._t.json("GET", "ingest", f"/v1/projects/{project_id}/buckets")
        return [Bucket(**b) for b in answer.get("buckets", [])]

    async def sync(self, bucket_id: str, full: bool = False) -> Bucket:
        """Queue a sync of the keys after the cursor (every key with `full`); a
        sync already queued or running is returned instead of a new one, which
        also makes a retried request (after a 429: too many syncs wait) harmless."""
        path = f"/v1/buckets/{bucket_id}/syncs"
        return Bucket(**(await self._t.json("POST", "ingest", path, json={"full": full}))["bucket"])

    async def wait(
        self,
        bucket_id: str,
        poll_seconds: float = 0.5,
        progress: Callable[[Bucket], None] | None = None,
    ) -> Bucket:
        """Poll the bucket until no sync is queued or running."""
        while True:
            bucket = await self.get(bucket_id)
            if progress is not None:
                progress(bucket)
            if not bucket.syncing:
                return bucket
            await asyncio.sleep(poll_seconds)


class Audit(Resource):
    async def query(
        self,
        project_id: str = "",
        *,
        actor: str = "",
        event_types: Sequence[str] = (),
        item_id: str = "",
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> Page[AuditEntry]:
        params = {
            "project_id": project_id,
            "actor": actor,
            "event_type": list(event_types),
            "item_id": item_id,
            "from": when(since),
            "to": when(until),
            "page_size": page_size,
            "page_token": page_token,
        }
        answer = await self._t.json("GET", "audit", "/v1/audit/entries", params=params)
        entries = [AuditEntry(**e) for e in answer.get("entries", [])]
        return Page[AuditEntry](items=entries, next_page_token=answer.get("next_page_token", ""))

    def iterate(self, project_id: str = "", **filters: Any) -> AsyncIterator[AuditEntry]:
        return every_page(lambda token: self.query(project_id, page_token=token, **filters))

    async def verify(self, project_id: str) -> Verification:
        path = f"/v1/projects/{project_id}/audit/verify"
        return Verification(**await self._t.json("GET", "audit", path))

    async def trail(self, item_id: str) -> list[AuditEntry]:
        answer = await self._t.json("GET", "audit", f"/v1/items/{item_id}/trail")
        return [AuditEntry(**e) for e in answer.get("entries", [])]

    async def verify_item(self, item_id: str) -> Result:
        return Result(**await self._t.json("GET", "audit", f"/v1/items/{item_id}/trail/verify"))


class Access(Resource):
    async def whoami(self) -> Result:
        return Result(**(await self._t.json("GET", "access", "/v1/whoami")).get("principal", {}))
