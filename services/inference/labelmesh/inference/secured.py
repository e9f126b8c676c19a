"""What the inference APIs call: each use case behind its caller's authorisation.

The model catalogue is the organisation's: every caller may read it, and only
admins register models. Predictions and suggestions belong to projects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from labelmesh.core.access import Permission, Principal, ProjectGate, authorize_organization
from labelmesh.inference.assist import ItemSuggestions, TextPredictions
from labelmesh.inference.composition import InferenceUseCases
from labelmesh.inference.records import AutoAnnotationSetup
from labelmesh.inference.registry import ModelDescription
from labelmesh.v1.events_pb2 import AutoAnnotationRules, ModelBinding, ModelRef, PredictionCreated
from labelmesh.v1.inference_service_pb2 import RegisterModelRequest


@dataclass(frozen=True)
class SecuredInference:
    cases: InferenceUseCases
    gate: ProjectGate

    async def models(self, caller: Principal) -> list[ModelDescription]:
        return await self.cases.registry.models()

    async def describe(self, caller: Principal, model_id: str) -> ModelDescription:
        return await self.cases.registry.describe(model_id)

    async def register(
        self, caller: Principal, registration: RegisterModelRequest
    ) -> ModelDescription:
        authorize_organization(caller, Permission.MANAGE_MODELS)
        return await self.cases.registry.register(registration)

    async def predict_text(
        self, caller: Principal, project_id: str, texts: Sequence[str]
    ) -> TextPredictions:
        await self.gate.check(caller, Permission.ASSIST, project_id)
        return await self.cases.assist.predict_text(project_id, texts)

    async def assist(
        self,
        caller: Principal,
        project_id: str,
        item_ids: Sequence[str],
        model_id: str,
        min_confidence: float,
    ) -> tuple[ModelRef, list[ItemSuggestions]]:
        await self.gate.check(caller, Permission.ASSIST, project_id)
        return await self.cases.assist.assist(
            project_id, item_ids, model_id, min_confidence, caller.actor
        )

    async def prediction(self, caller: Principal, item_id: str) -> PredictionCreated:
        stored = await self.cases.prelabelling.latest_stored(item_id)
        await self.gate.check(caller, Permission.READ_LABELS, stored.project_id)
        return stored.prediction

    async def auto_annotation(self, caller: Principal, project_id: str) -> AutoAnnotationSetup:
        await self.gate.check(caller, Permission.READ_PROJECT, project_id)
        auto_annotation = self.cases.auto_annotation
        return await auto_annotation.setup(await auto_annotation.project(project_id))

    async def configure_auto_annotation(
        self,
        caller: Principal,
        project_id: str,
        models: Sequence[ModelBinding],
        rules: AutoAnnotationRules,
    ) -> AutoAnnotationSetup:
        await self.gate.check(caller, Permission.CONFIGURE_PROJECT, project_id)
        return await self.cases.auto_annotation.configure(project_id, models, rules, caller.actor)
