"""What the inference service does: classify on demand and pre-label new items."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.typing import NDArray

from labelmesh.core.envelopes import model_actor, new_envelope
from labelmesh.core.errors import InvalidField, NotFound, RetryLater
from labelmesh.core.mongo import UnitOfWork
from labelmesh.inference.adapters.repository import InferenceRepository
from labelmesh.inference.batching import MicroBatcher
from labelmesh.inference.domain import auto_accepts, class_prompt, zero_shot
from labelmesh.inference.metrics import InferenceMetrics
from labelmesh.inference.models.minilm import MODEL_ID, MODEL_VERSION, MiniLMEncoder
from labelmesh.v1.events_pb2 import (
    AnnotationAutoAccepted,
    DataType,
    Envelope,
    ItemIngested,
    ModelRef,
    PredictionCreated,
)
from labelmesh.v1.geometry_pb2 import Label

SERVICE = "inference"
ZERO_SHOT = ModelRef(id=f"{MODEL_ID}-zero-shot", version=MODEL_VERSION)
MAX_TEXTS = 256

Vector = NDArray[np.float32]


class TextClassifier:
    """Zero-shot text classification with batched, off-loop embedding."""

    def __init__(
        self, executor: ThreadPoolExecutor, metrics: InferenceMetrics, batch: int, wait: float
    ) -> None:
        self.executor = executor
        self._encoder: MiniLMEncoder | None = None
        self._class_vectors: dict[tuple[str, ...], Vector] = {}
        self.batcher: MicroBatcher[str, Vector] = MicroBatcher(
            self._embed_rows, executor, batch, wait, metrics, ZERO_SHOT.id
        )

    async def load(self) -> None:
        """Load the weights once per process, off the event loop."""
        if self._encoder is None:
            loop = asyncio.get_running_loop()
            self._encoder = await loop.run_in_executor(self.executor, MiniLMEncoder)

    @property
    def encoder(self) -> MiniLMEncoder:
        if self._encoder is None:
            raise RuntimeError("model not loaded")
        return self._encoder

    def _embed_rows(self, texts: Sequence[str]) -> list[Vector]:
        return list(self.encoder.encode(texts))

    async def _classes(self, names: tuple[str, ...]) -> Vector:
        vectors = self._class_vectors.get(names)
        if vectors is None:
            prompts = [class_prompt(n) for n in names]
            loop = asyncio.get_running_loop()
            vectors = await loop.run_in_executor(self.executor, self.encoder.encode, prompts)
            self._class_vectors[names] = vectors
        return vectors

    async def classify(self, texts: Sequence[str], names: Sequence[str]) -> list[list[Label]]:
        classes = await self._classes(tuple(names))
        documents = await self.batcher.submit_many(texts)
        return zero_shot(np.stack(documents), classes, list(names))


class Inference:
    def __init__(
        self,
        repository: InferenceRepository,
        uow: UnitOfWork,
        classifier: TextClassifier,
        metrics: InferenceMetrics,
    ) -> None:
        self.repository = repository
        self.uow = uow
        self.classifier = classifier
        self.metrics = metrics

    def models(self) -> list[tuple[ModelRef, str, int]]:
        return [(ZERO_SHOT, "zero-shot classification", DataType.DATA_TYPE_TEXT)]

    async def predict_text(self, project_id: str, texts: Sequence[str]) -> list[list[Label]]:
        """AI Assist: every class of the project with its probability, per text."""
        if not texts:
            raise InvalidField("texts", "at least one text is required")
        if len(texts) > MAX_TEXTS:
            raise InvalidField("texts", f"at most {MAX_TEXTS} texts per call")
        for index, text in enumerate(texts):
            if not text.strip():
                raise InvalidField(f"texts[{index}]", "must not be blank")
        project = await self.repository.projects.get(project_id)
        if project is None:
            raise NotFound("project", project_id)
        return await self.classifier.classify(texts, list(project.classes))

    async def get_prediction(self, item_id: str) -> PredictionCreated:
        prediction = await self.repository.get_prediction(item_id)
        if prediction is None:
            raise NotFound("prediction for item", item_id)
        return prediction

    async def prelabel(self, arrivals: Sequence[tuple[Envelope, ItemIngested]]) -> None:
        """Predict labels for new items and auto-accept the confident ones.

        A whole fetch is classified in batched model calls (one per project)
        and recorded in one transaction.
        """
        projects = {}
        for envelope, _ in arrivals:
            if envelope.project_id not in projects:
                project = await self.repository.projects.get(envelope.project_id)
                if project is None:
                    raise RetryLater(f"project {envelope.project_id!r} not known yet")
                projects[envelope.project_id] = project

        predictions = [
            PredictionCreated(
                prediction_id=str(uuid.uuid4()),
                threshold=projects[envelope.project_id].auto_accept_threshold,
            )
            for envelope, _ in arrivals
        ]
        texts_by_project: dict[str, list[int]] = {}
        for index, (envelope, item) in enumerate(arrivals):
            if item.data_type == DataType.DATA_TYPE_TEXT and item.text.strip():
                texts_by_project.setdefault(envelope.project_id, []).append(index)
            else:
                predictions[
                    index
                ].skipped_reason = (
                    f"no model for {DataType.Name(item.data_type)} items in this release"
                )
        for project_id, indexes in texts_by_project.items():
            classes = list(projects[project_id].classes)
            ranked = await self.classifier.classify([arrivals[i][1].text for i in indexes], classes)
            for index, labels in zip(indexes, ranked, strict=True):
                prediction = predictions[index]
                prediction.model.CopyFrom(ZERO_SHOT)
                prediction.labels.append(labels[0])
                prediction.auto_accepted = auto_accepts(labels[0].confidence, prediction.threshold)

        async with self.uow.begin() as tx:
            new = {id(e) for e in await tx.claim_new([e for e, _ in arrivals], SERVICE)}
            recorded = [
                (envelope, prediction)
                for (envelope, _), prediction in zip(arrivals, predictions, strict=True)
                if id(envelope) in new
            ]
            await self.repository.save_predictions(tx, recorded)
            for envelope, prediction in recorded:
                tx.emit(*self._events(envelope, prediction))
        for _, prediction in recorded:
            self.metrics.predictions.labels(_outcome(prediction)).inc()

    def _events(self, cause: Envelope, prediction: PredictionCreated) -> list[Envelope]:
        actor = model_actor(ZERO_SHOT.id, ZERO_SHOT.version)
        payloads: list[PredictionCreated | AnnotationAutoAccepted] = [prediction]
        if prediction.auto_accepted:
            payloads.append(
                AnnotationAutoAccepted(
                    annotation_id=str(uuid.uuid4()),
                    prediction_id=prediction.prediction_id,
                    model=prediction.model,
                    labels=prediction.labels,
                    threshold=prediction.threshold,
                )
            )
        return [
            new_envelope(
                payload,
                producer=SERVICE,
                actor=actor,
                project_id=cause.project_id,
                item_id=cause.item_id,
                trace_id=cause.trace_id,
            )
            for payload in payloads
        ]


def _outcome(prediction: PredictionCreated) -> str:
    if not prediction.labels:
        return "skipped"
    return "auto_accepted" if prediction.auto_accepted else "needs_review"
