"""What the inference service does: keep the model registry, pre-label new
items under each project's auto-annotation rules, and suggest labels on
demand (AI Assist)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from google.protobuf.message import Message
from numpy.typing import NDArray

from labelmesh.core.envelopes import model_actor, new_envelope, user_actor
from labelmesh.core.errors import Conflict, InvalidField, NotFound, RetryLater
from labelmesh.core.labels import data_type_name
from labelmesh.core.mongo import UnitOfWork
from labelmesh.core.storage import ObjectNotFound, ObjectStore
from labelmesh.inference import domain
from labelmesh.inference.adapters.repository import (
    AutoAnnotationSetup,
    InferenceRepository,
    StoredItem,
)
from labelmesh.inference.metrics import InferenceMetrics
from labelmesh.inference.models.base import ModelInput, ModelSpec, Task
from labelmesh.inference.models.catalog import DEFAULT_MODELS, ZERO_SHOT
from labelmesh.inference.models.remote import RemoteOipModel
from labelmesh.inference.runtime import Failure, ModelPool, ModelRunner, Outcome
from labelmesh.v1.events_pb2 import (
    AnnotationAutoAccepted,
    AutoAnnotationConfigured,
    AutoAnnotationRules,
    AutoAnnotationStatus,
    DataType,
    Envelope,
    ItemIngested,
    ModelBinding,
    ModelRef,
    PredictionCreated,
    PredictionFailed,
    PredictionSource,
    ProjectSpec,
    SuggestionAccepted,
    SuggestionRejected,
)
from labelmesh.v1.geometry_pb2 import Label
from labelmesh.v1.inference_service_pb2 import (
    ConfidenceBucket,
    ModelQuality,
    RegisterModelRequest,
    RemoteModel,
)

SERVICE = "inference"
MAX_TEXTS = 256
MAX_ASSIST_ITEMS = 64
MAX_MEDIA_READS = 16

Embed = Callable[[Sequence[str]], NDArray[np.float32]]


@dataclass(frozen=True)
class ModelDescription:
    spec: ModelSpec
    remote: RemoteModel | None
    quality: ModelQuality


@dataclass
class ItemSuggestions:
    item_id: str
    prediction_id: str = ""
    labels: list[Label] = field(default_factory=list)
    error: str = ""


@dataclass
class _ItemResult:
    """What every model said about one item."""

    labels: list[Label] = field(default_factory=list)
    models: list[ModelRef] = field(default_factory=list)
    failures: list[tuple[ModelRef, Failure]] = field(default_factory=list)


def ref(spec: ModelSpec) -> ModelRef:
    return ModelRef(id=spec.id, version=spec.version)


def spec_of(registration: RegisterModelRequest) -> ModelSpec:
    return ModelSpec(
        id=registration.model.id,
        version=registration.model.version,
        task=Task(registration.task),
        data_type=registration.data_type,
        labels=tuple(registration.labels),
        description=f"served at {registration.remote.url} as {registration.remote.name!r}",
    )


class Inference:
    def __init__(
        self,
        repository: InferenceRepository,
        uow: UnitOfWork,
        pool: ModelPool,
        store: ObjectStore,
        metrics: InferenceMetrics,
        embed: Embed,
    ) -> None:
        self.repository = repository
        self.uow = uow
        self.pool = pool
        self.store = store
        self.metrics = metrics
        self.embed = embed
        self._built_in = {spec.id for spec in pool.specs()}
        self._remote: dict[str, bytes] = {}  # model id → the registration its runner uses

    # The registry.

    async def models(self) -> list[ModelDescription]:
        built_in = [s for s in self.pool.specs() if s.id in self._built_in]
        described = [await self._describe(spec, None) for spec in built_in]
        for registration in await self.repository.list_models():
            described.append(await self._describe(spec_of(registration), registration.remote))
        return described

    async def describe(self, model_id: str) -> ModelDescription:
        if model_id in self._built_in:
            runner = self.pool.get(model_id)
            assert runner is not None
            return await self._describe(runner.spec, None)
        registration = await self.repository.get_model(model_id)
        if registration is None:
            raise NotFound("model", model_id)
        return await self._describe(spec_of(registration), registration.remote)

    async def _describe(self, spec: ModelSpec, remote: RemoteModel | None) -> ModelDescription:
        counts = await self.repository.judgements(spec.id)
        accepted = sum(a for a, _ in counts)
        rejected = sum(r for _, r in counts)
        quality = ModelQuality(
            accepted=accepted,
            rejected=rejected,
            precision=accepted / (accepted + rejected) if accepted + rejected else 0.0,
            buckets=[
                ConfidenceBucket(low=low, high=high, accepted=a, rejected=r)
                for index, (a, r) in enumerate(counts)
                for low, high in [domain.bucket_bounds(index)]
            ],
        )
        return ModelDescription(spec, remote, quality)

    async def register(self, registration: RegisterModelRequest) -> ModelDescription:
        """Add or replace a remote model; it must answer before it is registered."""
        model = self._remote_model(registration)
        if registration.model.id in self._built_in:
            raise Conflict(f"{registration.model.id!r} is a built-in model")
        runner = self.pool.add(model, registration.remote.timeout_seconds or None)
        try:
            await runner.load()
        except Exception as exc:
            raise InvalidField("remote.url", f"the model server did not answer: {exc}") from None
        await self.repository.save_model(registration)
        self._remote[registration.model.id] = registration.SerializeToString()
        return await self._describe(model.spec, registration.remote)

    def _remote_model(self, registration: RegisterModelRequest) -> RemoteOipModel:
        if not registration.model.id.strip():
            raise InvalidField("model.id", "must not be empty")
        if not registration.model.version.strip():
            raise InvalidField("model.version", "must not be empty")
        if registration.task not in {t.value for t in Task}:
            raise InvalidField(
                "task", f"unknown task {registration.task!r}; use one of {', '.join(Task)}"
            )
        if registration.data_type == DataType.DATA_TYPE_UNSPECIFIED:
            raise InvalidField("data_type", "must be set")
        if not registration.remote.url:
            raise InvalidField("remote.url", "must not be empty")
        try:
            return RemoteOipModel(spec_of(registration), registration.remote, self.embed)
        except ValueError as exc:
            raise InvalidField("remote", str(exc)) from None

    async def runner(self, model_id: str) -> ModelRunner | None:
        """The model's runner; a remote model's is rebuilt when it was re-registered."""
        if model_id in self._built_in:
            return self.pool.get(model_id)
        registration = await self.repository.get_model(model_id)
        if registration is None:
            return None
        serialized = registration.SerializeToString()
        if self._remote.get(model_id) != serialized:
            self.pool.add(
                RemoteOipModel(spec_of(registration), registration.remote, self.embed),
                registration.remote.timeout_seconds or None,
            )
            self._remote[model_id] = serialized
        return self.pool.get(model_id)

    # Projects' auto-annotation setups.

    async def project(self, project_id: str) -> ProjectSpec:
        project = await self.repository.projects.get(project_id)
        if project is None:
            raise NotFound("project", project_id)
        return project

    async def setup(self, project: ProjectSpec) -> AutoAnnotationSetup:
        stored = await self.repository.get_setup(project.project_id)
        if stored is not None:
            return stored
        return AutoAnnotationSetup(list(project.models), domain.initial_rules(project))

    async def configure(
        self,
        project_id: str,
        models: Sequence[ModelBinding],
        rules: AutoAnnotationRules,
        user: str,
    ) -> AutoAnnotationSetup:
        """Replace a project's models and rules as a new version, announced to the audit log."""
        project = await self.project(project_id)
        for field_name, reason in domain.validate_rules(rules, project.classes):
            raise InvalidField(field_name, reason)
        for index, binding in enumerate(models):
            await self._check_binding(f"models[{index}]", binding, project)
        current = await self.setup(project)
        new_rules = AutoAnnotationRules()
        new_rules.CopyFrom(rules)
        new_rules.version = current.rules.version + 1
        setup = AutoAnnotationSetup(list(models), new_rules)
        configured = new_envelope(
            AutoAnnotationConfigured(models=models, rules=new_rules),
            producer=SERVICE,
            actor=user_actor(user),
            project_id=project_id,
        )
        async with self.uow.begin() as tx:
            if not await self.repository.replace_setup(
                tx, project_id, setup, current.rules.version
            ):
                raise Conflict(f"the rules of project {project_id!r} changed meanwhile; retry")
            tx.emit(configured)
        return setup

    async def _check_binding(self, at: str, binding: ModelBinding, project: ProjectSpec) -> None:
        runner = await self.runner(binding.model_id)
        if runner is None:
            raise InvalidField(f"{at}.model_id", f"no model {binding.model_id!r} is registered")
        if runner.spec.data_type != project.data_type:
            raise InvalidField(
                f"{at}.model_id",
                f"{binding.model_id!r} reads {data_type_name(runner.spec.data_type)} items, "
                f"the project labels {data_type_name(project.data_type)}",
            )
        classes = set(project.classes)
        for source, target in sorted(binding.label_map.items()):
            if target not in classes:
                raise InvalidField(
                    f"{at}.label_map[{source}]", f"{target!r} is not a class of this project"
                )

    def _model_ids(self, project: ProjectSpec, setup: AutoAnnotationSetup) -> list[str]:
        if setup.models:
            return [b.model_id for b in setup.models]
        return list(DEFAULT_MODELS.get(project.data_type, ()))

    # Running models on items.

    async def _inputs(
        self, project: ProjectSpec, items: Sequence[ItemIngested]
    ) -> list[ModelInput | Failure]:
        reads = asyncio.Semaphore(MAX_MEDIA_READS)

        async def one(item: ItemIngested) -> ModelInput | Failure:
            if item.data_type == DataType.DATA_TYPE_TEXT:
                return ModelInput(text=item.text, classes=tuple(project.classes))
            async with reads:
                try:
                    media = await self.store.get(item.media_key)
                except ObjectNotFound:
                    return Failure("media", f"media object {item.media_key!r} not found")
            return ModelInput(
                media=media, content_type=item.content_type, classes=tuple(project.classes)
            )

        return list(await asyncio.gather(*(one(item) for item in items)))

    async def _run(
        self,
        model_id: str,
        label_map: dict[str, str],
        project: ProjectSpec,
        items: Sequence[tuple[ItemIngested, ModelInput | Failure]],
        results: Sequence[_ItemResult],
        *,
        explain_skips: bool,
    ) -> None:
        """Run one model over the items it can read and add its labels or
        failures to `results`. Items of another data type are skipped, or
        failed with the reason when `explain_skips` is set."""
        runner = await self.runner(model_id)
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

    async def predict_text(self, project_id: str, texts: Sequence[str]) -> list[list[Label]]:
        """Zero-shot class probabilities per text, most likely first."""
        if not texts:
            raise InvalidField("texts", "at least one text is required")
        if len(texts) > MAX_TEXTS:
            raise InvalidField("texts", f"at most {MAX_TEXTS} texts per call")
        for index, text in enumerate(texts):
            if not text.strip():
                raise InvalidField(f"texts[{index}]", "must not be blank")
        project = await self.project(project_id)
        runner = self.pool.get(ZERO_SHOT)
        assert runner is not None
        outcomes = await runner.run(
            [ModelInput(text=text, classes=tuple(project.classes)) for text in texts]
        )
        ranked = []
        for outcome in outcomes:
            if isinstance(outcome, Failure):
                raise RetryLater(outcome.reason)
            ranked.append(outcome)
        return ranked

    async def assist(
        self,
        project_id: str,
        item_ids: Sequence[str],
        model_id: str,
        min_confidence: float,
        user: str,
    ) -> tuple[ModelRef, list[ItemSuggestions]]:
        """AI Assist: a model's suggestions for stored items, recorded so that
        the annotation service shows them on the items' tasks."""
        if not item_ids:
            raise InvalidField("item_ids", "at least one item id is required")
        if len(item_ids) > MAX_ASSIST_ITEMS:
            raise InvalidField("item_ids", f"at most {MAX_ASSIST_ITEMS} items per call")
        if not 0.0 <= min_confidence <= 1.0:
            raise InvalidField("min_confidence", f"must be between 0 and 1, not {min_confidence}")
        project = await self.project(project_id)
        setup = await self.setup(project)
        if not model_id:
            candidates = self._model_ids(project, setup)
            if not candidates:
                raise InvalidField("model_id", "the project has no models; name one")
            model_id = candidates[0]
        runner = await self.runner(model_id)
        if runner is None:
            raise NotFound("model", model_id)
        label_map = next((dict(b.label_map) for b in setup.models if b.model_id == model_id), {})
        unique_ids = list(dict.fromkeys(item_ids))
        found = await self.repository.get_items(project_id, unique_ids)
        stored = [found[i] for i in unique_ids if i in found]
        results = [_ItemResult() for _ in stored]
        inputs = await self._inputs(project, stored)
        await self._run(
            model_id,
            label_map,
            project,
            list(zip(stored, inputs, strict=True)),
            results,
            explain_skips=True,
        )
        by_item = dict(zip([i for i in unique_ids if i in found], results, strict=True))

        model = ref(runner.spec)
        actor = user_actor(user)
        answers, events = [], []
        for item_id in item_ids:
            result = by_item.get(item_id)
            if result is None:
                answers.append(ItemSuggestions(item_id, error="no such item in this project"))
                continue
            prediction_id = str(uuid.uuid4())
            if result.failures:
                failure = result.failures[0][1]
                answers.append(ItemSuggestions(item_id, prediction_id, error=failure.reason))
                payload: PredictionCreated | PredictionFailed = PredictionFailed(
                    prediction_id=prediction_id,
                    model=model,
                    reason=failure.reason,
                    field=failure.field,
                    source=PredictionSource.PREDICTION_SOURCE_ASSIST,
                )
            else:
                labels = [lb for lb in result.labels if lb.confidence >= min_confidence]
                answers.append(ItemSuggestions(item_id, prediction_id, labels))
                payload = PredictionCreated(
                    prediction_id=prediction_id,
                    model=model,
                    models=[model],
                    labels=labels,
                    source=PredictionSource.PREDICTION_SOURCE_ASSIST,
                )
            events.append(
                new_envelope(
                    payload, producer=SERVICE, actor=actor, project_id=project_id, item_id=item_id
                )
            )
        async with self.uow.begin() as tx:
            await self.repository.save_predictions(
                tx,
                [
                    (e, e.prediction_created)
                    for e in events
                    if e.WhichOneof("payload") == "prediction_created"
                ],
            )
            tx.emit(*events)
        return model, answers

    async def get_prediction(self, item_id: str) -> PredictionCreated:
        prediction = await self.repository.latest_prediction(item_id)
        if prediction is None:
            raise NotFound("prediction for item", item_id)
        return prediction

    async def prelabel(self, arrivals: Sequence[tuple[Envelope, ItemIngested]]) -> None:
        """Pre-label new items with their projects' models, auto-accept what
        the rules allow, and record it all in one transaction.

        Each model sees the whole fetch's items at once, so a fetch becomes
        one batched call per model.
        """
        projects: dict[str, ProjectSpec] = {}
        setups: dict[str, AutoAnnotationSetup] = {}
        for envelope, _ in arrivals:
            if envelope.project_id not in projects:
                project = await self.repository.projects.get(envelope.project_id)
                if project is None:
                    raise RetryLater(f"project {envelope.project_id!r} not known yet")
                projects[envelope.project_id] = project
                setups[envelope.project_id] = await self.setup(project)

        results = [_ItemResult() for _ in arrivals]
        runs = []
        for project_id, project in projects.items():
            indexes = [i for i, (e, _) in enumerate(arrivals) if e.project_id == project_id]
            items = [arrivals[i][1] for i in indexes]
            prepared = list(zip(items, await self._inputs(project, items), strict=True))
            setup = setups[project_id]
            maps = {b.model_id: dict(b.label_map) for b in setup.models}
            for model_id in self._model_ids(project, setup):
                runs.append(
                    self._run(
                        model_id,
                        maps.get(model_id, {}),
                        project,
                        prepared,
                        [results[i] for i in indexes],
                        explain_skips=False,
                    )
                )
        await asyncio.gather(*runs)

        recorded: list[tuple[Envelope, list[Envelope], str]] = []
        for (envelope, _), result in zip(arrivals, results, strict=True):
            project = projects[envelope.project_id]
            events, outcome = self._outcome(envelope, project, setups[project.project_id], result)
            recorded.append((envelope, events, outcome))
        async with self.uow.begin() as tx:
            new = {id(e) for e in await tx.claim_new([e for e, _ in arrivals], SERVICE)}
            fresh = [r for r in recorded if id(r[0]) in new]
            await self.repository.save_items(
                tx,
                [
                    StoredItem(cause.item_id, cause.project_id, item)
                    for cause, item in arrivals
                    if id(cause) in new
                ],
            )
            await self.repository.save_predictions(
                tx,
                [
                    (cause, e.prediction_created)
                    for cause, events, _ in fresh
                    for e in events
                    if e.WhichOneof("payload") == "prediction_created"
                ],
            )
            for _, events, _ in fresh:
                tx.emit(*events)
        for _, _, outcome in fresh:
            self.metrics.predictions.labels(outcome).inc()

    def _outcome(
        self,
        cause: Envelope,
        project: ProjectSpec,
        setup: AutoAnnotationSetup,
        result: _ItemResult,
    ) -> tuple[list[Envelope], str]:
        """The events recording one item's pre-labelling, and its metric outcome."""
        prediction_id = str(uuid.uuid4())
        rules = setup.rules

        def envelope(payload: Message, model: ModelRef) -> Envelope:
            return new_envelope(
                payload,
                producer=SERVICE,
                actor=model_actor(model.id, model.version),
                project_id=cause.project_id,
                item_id=cause.item_id,
                trace_id=cause.trace_id,
            )

        if result.failures and not result.models:
            model, failure = result.failures[0]
            reasons = "; ".join(f.reason for _, f in result.failures)
            failed = PredictionFailed(
                prediction_id=prediction_id,
                model=model,
                reason=reasons,
                field=failure.field,
                source=PredictionSource.PREDICTION_SOURCE_AUTO,
            )
            return [envelope(failed, model)], "failed"

        decision = domain.decide(result.labels, rules)
        model = result.models[0] if result.models else ModelRef()
        prediction = PredictionCreated(
            prediction_id=prediction_id,
            model=model,
            models=result.models,
            labels=decision.labels,
            auto_accepted=decision.status == AutoAnnotationStatus.AUTO_ANNOTATION_STATUS_SUCCESS,
            threshold=rules.default_min_confidence,
            status=decision.status,
            rule_version=rules.version,
            source=PredictionSource.PREDICTION_SOURCE_AUTO,
        )
        if not result.models:
            prediction.skipped_reason = "no model of this project reads this item's data type"
        events = [envelope(prediction, model)]
        if prediction.auto_accepted:
            accepted = AnnotationAutoAccepted(
                annotation_id=str(uuid.uuid4()),
                prediction_id=prediction_id,
                model=model,
                labels=decision.labels,
                threshold=rules.default_min_confidence,
                rule_version=rules.version,
            )
            events.append(envelope(accepted, model))
        outcome = AutoAnnotationStatus.Name(decision.status).removeprefix("AUTO_ANNOTATION_STATUS_")
        return events, {"SUCCESS": "auto_accepted"}.get(outcome, outcome.lower())

    async def record_judgements(
        self, judged: Sequence[tuple[Envelope, SuggestionAccepted | SuggestionRejected]]
    ) -> None:
        """Count accepted and rejected suggestions toward their models' precision."""
        async with self.uow.begin() as tx:
            new = {id(e) for e in await tx.claim_new([e for e, _ in judged], SERVICE)}
            counted = [
                (
                    event.label.source.model_id,
                    domain.confidence_bucket(event.label.source.score),
                    isinstance(event, SuggestionAccepted),
                )
                for envelope, event in judged
                if id(envelope) in new and event.label.source.model_id
            ]
            await self.repository.record_judgements(tx, counted)
        for model_id, bucket, accepted in counted:
            low, _ = domain.bucket_bounds(bucket)
            self.metrics.suggestions_judged.labels(
                model_id, f"{low:.1f}", "accepted" if accepted else "rejected"
            ).inc()
