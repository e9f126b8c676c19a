"""The model registry: the built-in models and the remote ones teams
register, each with its measured quality, and the runner of each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from labelmesh.core.errors import Conflict, InvalidField, NotFound
from labelmesh.core.uow import UnitOfWork
from labelmesh.inference.enums import with_both_forms
from labelmesh.inference.feedback import Feedback
from labelmesh.inference.models.base import Model, ModelSpec, Task
from labelmesh.inference.ports import ModelRegistrations
from labelmesh.inference.records import MeasuredQuality
from labelmesh.inference.runtime import ModelPool, ModelRunner
from labelmesh.v1.events_pb2 import DataType, ModelRef
from labelmesh.v1.inference_service_pb2 import RegisterModelRequest, RemoteModel

# Builds the model that calls a registered remote model server; raises
# ValueError when the registration cannot describe a working model.
ConnectRemote = Callable[[ModelSpec, RemoteModel], Model]


@dataclass(frozen=True)
class ModelDescription:
    spec: ModelSpec
    remote: RemoteModel | None
    quality: MeasuredQuality


def ref(spec: ModelSpec) -> ModelRef:
    """The reference events carry for a model."""
    return ModelRef(id=spec.id, version=spec.version)


def spec_of(registration: RegisterModelRequest) -> ModelSpec:
    """What the registry records about a registered remote model."""
    return ModelSpec(
        id=registration.model.id,
        version=registration.model.version,
        task=Task(registration.task),
        data_type=registration.data_type,
        labels=tuple(registration.labels),
        description=f"served at {registration.remote.url} as {registration.remote.name!r}",
    )


class ModelRegistry:
    def __init__(
        self,
        registrations: ModelRegistrations,
        uow: UnitOfWork,
        pool: ModelPool,
        feedback: Feedback,
        connect: ConnectRemote,
    ) -> None:
        self.registrations = registrations
        self.uow = uow
        self.pool = pool
        self.feedback = feedback
        self.connect = connect
        self._built_in = {spec.id for spec in pool.specs()}
        self._remote: dict[str, bytes] = {}  # model id → the registration its runner uses

    async def models(self) -> list[ModelDescription]:
        """The built-in models, then the registered ones by id."""
        built_in = [s for s in self.pool.specs() if s.id in self._built_in]
        described = [await self._describe(spec, None) for spec in built_in]
        for registration in await self.registrations.all():
            described.append(await self._describe(spec_of(registration), registration.remote))
        return described

    async def describe(self, model_id: str) -> ModelDescription:
        if model_id in self._built_in:
            runner = self.pool.get(model_id)
            assert runner is not None
            return await self._describe(runner.spec, None)
        registration = await self.registrations.get(model_id)
        if registration is None:
            raise NotFound("model", model_id)
        return await self._describe(spec_of(registration), registration.remote)

    async def _describe(self, spec: ModelSpec, remote: RemoteModel | None) -> ModelDescription:
        return ModelDescription(spec, remote, await self.feedback.quality(spec.id))

    async def register(self, registration: RegisterModelRequest) -> ModelDescription:
        """Add or replace a remote model; it must answer before it is registered.

        Its task and processing may be named by their strings or their enums."""
        registration = with_both_forms(registration)
        model = self._remote_model(registration)
        if registration.model.id in self._built_in:
            raise Conflict(f"{registration.model.id!r} is a built-in model")
        # Into the pool only once it answered and is saved: a failed registration
        # leaves the model as it was, registered before or not at all.
        runner = self.pool.runner_for(model, registration.remote.timeout_seconds or None)
        try:
            await runner.load()
        except Exception as exc:
            runner.close()
            raise InvalidField("remote.url", f"the model server did not answer: {exc}") from None
        try:
            async with self.uow.begin() as tx:
                await self.registrations.save(tx, registration)
        except BaseException:
            runner.close()
            raise
        self.pool.put(runner)
        self._remote[registration.model.id] = registration.SerializeToString()
        return await self._describe(model.spec, registration.remote)

    def _remote_model(self, registration: RegisterModelRequest) -> Model:
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
            return self.connect(spec_of(registration), registration.remote)
        except ValueError as exc:
            raise InvalidField("remote", str(exc)) from None

    async def runner(self, model_id: str) -> ModelRunner | None:
        """The model's runner; a remote model's is rebuilt when it was re-registered
        (possibly by another replica)."""
        if model_id in self._built_in:
            return self.pool.get(model_id)
        registration = await self.registrations.get(model_id)
        if registration is None:
            return None
        serialized = registration.SerializeToString()
        if self._remote.get(model_id) != serialized:
            self.pool.add(
                self.connect(spec_of(registration), registration.remote),
                registration.remote.timeout_seconds or None,
            )
            self._remote[model_id] = serialized
        return self.pool.get(model_id)

    def built_in(self, model_id: str) -> ModelRunner:
        """The runner of a built-in model."""
        runner = self.pool.get(model_id)
        if runner is None or model_id not in self._built_in:
            raise LookupError(f"{model_id!r} is not a built-in model")
        return runner
