"""Each project's auto-annotation setup: which models pre-label its items and
the rules that decide what is accepted without review, in versions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from labelmesh.core.envelopes import Acting, acting_actor, new_envelope
from labelmesh.core.errors import Conflict, InvalidField, NotFound
from labelmesh.core.labels import data_type_name
from labelmesh.core.projects import ProjectDirectory
from labelmesh.core.uow import UnitOfWork
from labelmesh.inference import domain
from labelmesh.inference.config import SERVICE
from labelmesh.inference.models.catalog import DEFAULT_MODELS
from labelmesh.inference.ports import SetupRepository
from labelmesh.inference.records import AutoAnnotationSetup
from labelmesh.inference.registry import ModelRegistry
from labelmesh.v1.events_pb2 import (
    AutoAnnotationConfigured,
    AutoAnnotationRules,
    ModelBinding,
    ProjectSpec,
)


@dataclass(eq=False)
class AutoAnnotation:
    projects: ProjectDirectory
    setups: SetupRepository
    registry: ModelRegistry
    uow: UnitOfWork

    async def project(self, project_id: str) -> ProjectSpec:
        """A project this service has heard of; NotFound otherwise."""
        project = await self.projects.get(project_id)
        if project is None:
            raise NotFound("project", project_id)
        return project

    async def setup(self, project: ProjectSpec) -> AutoAnnotationSetup:
        """The project's current setup: the stored one, else the one it was created with."""
        stored = await self.setups.get(project.project_id)
        if stored is not None:
            return stored
        return AutoAnnotationSetup(tuple(project.models), domain.initial_rules(project))

    async def configure(
        self,
        project_id: str,
        models: Sequence[ModelBinding],
        rules: AutoAnnotationRules,
        user: Acting,
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
        setup = AutoAnnotationSetup(tuple(models), new_rules)
        configured = new_envelope(
            AutoAnnotationConfigured(models=models, rules=new_rules),
            producer=SERVICE,
            actor=acting_actor(user),
            project_id=project_id,
        )
        async with self.uow.begin() as tx:
            if not await self.setups.replace(tx, project_id, setup, current.rules.version):
                raise Conflict(f"the rules of project {project_id!r} changed meanwhile; retry")
            tx.emit(configured)
        return setup

    async def _check_binding(self, at: str, binding: ModelBinding, project: ProjectSpec) -> None:
        runner = await self.registry.runner(binding.model_id)
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


def model_ids(project: ProjectSpec, setup: AutoAnnotationSetup) -> list[str]:
    """The models that label the project's items: its own, else the defaults of its data type."""
    if setup.models:
        return [b.model_id for b in setup.models]
    return list(DEFAULT_MODELS.get(project.data_type, ()))


def label_maps(setup: AutoAnnotationSetup) -> dict[str, dict[str, str]]:
    """Model id → how its label names map to the project's classes."""
    return {b.model_id: dict(b.label_map) for b in setup.models}
