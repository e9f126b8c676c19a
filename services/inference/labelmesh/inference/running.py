"""Running one model over a set of items, for pre-labelling and AI Assist:
the items' inputs (media read from the store, or from its URL when it stays
in a customer's bucket), one batched call, and the labels mapped to the
project's classes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from labelmesh.core.labels import data_type_name
from labelmesh.core.storage import ObjectNotFound, ObjectStore
from labelmesh.inference import domain
from labelmesh.inference.models.base import ModelInput
from labelmesh.inference.ports import MediaUnreadable, MediaUrls
from labelmesh.inference.registry import ModelRegistry, ref
from labelmesh.inference.runtime import Failure, Outcome
from labelmesh.v1.events_pb2 import DataType, ItemIngested, ModelRef, ProjectSpec
from labelmesh.v1.geometry_pb2 import Label

MAX_MEDIA_READS = 16


@dataclass
class ItemResult:
    """What every model said about one item."""

    labels: list[Label] = field(default_factory=list)
    models: list[ModelRef] = field(default_factory=list)
    failures: list[tuple[ModelRef, Failure]] = field(default_factory=list)


@dataclass(eq=False)
class ModelRuns:
    registry: ModelRegistry
    store: ObjectStore
    urls: MediaUrls

    async def inputs(
        self, project: ProjectSpec, items: Sequence[ItemIngested]
    ) -> list[ModelInput | Failure]:
        """Each item as models see it, or why its media could not be read."""
        reads = asyncio.Semaphore(MAX_MEDIA_READS)

        async def one(item: ItemIngested) -> ModelInput | Failure:
            if item.data_type == DataType.DATA_TYPE_TEXT:
                return ModelInput(text=item.text, classes=tuple(project.classes))
            async with reads:
                media = await self._media(item)
            if isinstance(media, Failure):
                return media
            return ModelInput(
                media=media, content_type=item.content_type, classes=tuple(project.classes)
            )

        return list(await asyncio.gather(*(one(item) for item in items)))

    async def _media(self, item: ItemIngested) -> bytes | Failure:
        if item.media_key or not item.media_url:
            try:
                return await self.store.get(item.media_key)
            except ObjectNotFound:
                return Failure("media", f"media object {item.media_key!r} not found")
        # Named by where it lives: the URL itself carries a signature.
        media = f"media {item.media_uri!r}" if item.media_uri else "the media URL"
        if item.HasField("media_url_expires_at"):
            expires_at = item.media_url_expires_at.ToDatetime(tzinfo=UTC)
            if expires_at <= datetime.now(UTC):
                return Failure("media", f"{media}: the URL expired at {expires_at.isoformat()}")
        try:
            return await self.urls.read(item.media_url)
        except MediaUnreadable as exc:
            return Failure("media", f"{media}: {exc.reason}")

    async def run(
        self,
        model_id: str,
        label_map: dict[str, str],
        project: ProjectSpec,
        items: Sequence[tuple[ItemIngested, ModelInput | Failure]],
        results: Sequence[ItemResult],
        *,
        explain_skips: bool,
    ) -> None:
        """Run one model over the items it can read and add its labels or
        failures to `results`. Items of another data type are skipped, or
        failed with the reason when `explain_skips` is set."""
        runner = await self.registry.runner(model_id)
        if runner is None:
            failure = Failure("models", f"model {model_id!r} is not registered")
            for result in results:
                result.failures.append((ModelRef(id=model_id), failure))
            return
        model = ref(runner.spec)
        readable = data_type_name(runner.spec.data_type)
        outcomes: list[Outcome | None] = []
        for item, prepared in items:
            if item.data_type != runner.spec.data_type:
                skip = f"{model_id!r} reads {readable} items, not {data_type_name(item.data_type)}"
                outcomes.append(Failure("model_id", skip) if explain_skips else None)
            else:
                outcomes.append(prepared if isinstance(prepared, Failure) else [])
        ready = [
            (i, prepared)
            for i, ((_, prepared), pending) in enumerate(zip(items, outcomes, strict=True))
            if pending == [] and isinstance(prepared, ModelInput)
        ]
        predicted = await runner.run([x for _, x in ready])
        for (index, _), labels in zip(ready, predicted, strict=True):
            outcomes[index] = labels
        for result, outcome in zip(results, outcomes, strict=True):
            if outcome is None:
                continue
            if isinstance(outcome, Failure):
                result.failures.append((model, outcome))
                continue
            mapped = domain.map_to_project(outcome, label_map, project.classes)
            result.labels.extend(domain.with_source(mapped, runner.spec))
            result.models.append(model)
