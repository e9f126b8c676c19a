"""A project as the review pipeline sees it: its spec, its policy in force, its
members, and the vote weight of each of its annotators."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from labelmesh.core.access import DEFAULT_ORGANIZATION
from labelmesh.core.errors import NotFound
from labelmesh.review.consensus.votes import quality_weight
from labelmesh.review.members import project_members
from labelmesh.review.pipeline import Context
from labelmesh.review.ports import ReviewStore
from labelmesh.v1.events_pb2 import ProjectMember, ProjectSpec, ReviewPolicy

# Before any gold answer an annotator is taken to be right PRIOR_ACCURACY of the time, a
# belief worth PRIOR_ANSWERS answers; gold answers move them from there.
PRIOR_ACCURACY, PRIOR_ANSWERS = 0.8, 4


def vote_weight(correct: int, answers: int, n_classes: int) -> float:
    """An annotator's vote weight from their gold record, starting from the prior."""
    accuracy = (correct + PRIOR_ACCURACY * PRIOR_ANSWERS) / (answers + PRIOR_ANSWERS)
    return max(quality_weight(accuracy, n_classes=n_classes), 0.01)


@dataclass(eq=False)
class ProjectContexts:
    store: ReviewStore

    async def project(self, project_id: str) -> ProjectSpec:
        """The project; NotFound until its ProjectCreated arrived."""
        project = await self.store.projects.get(project_id)
        if project is None:
            raise NotFound("project", project_id)
        return project

    async def policy(self, project_id: str) -> ReviewPolicy:
        """The policy in force; a project that never set one has overlap 1 and no stages."""
        await self.project(project_id)
        return await self.store.policies.current(project_id) or ReviewPolicy()

    async def policy_with_members(self, project_id: str) -> ReviewPolicy:
        """The policy in force, its `members` filled in from the memberships."""
        policy = ReviewPolicy()
        policy.CopyFrom(await self.policy(project_id))
        policy.members.extend(await self.members(project_id))
        return policy

    async def members(self, project_id: str) -> list[ProjectMember]:
        """Everyone with a role in the project or its organisation, by user."""
        organization = _organization(await self.project(project_id))
        return project_members(await self.store.members.in_project(organization, project_id))

    async def member(self, project_id: str, subject: str) -> ProjectMember | None:
        """The subject's roles and teams in the project; None without any."""
        organization = _organization(await self.project(project_id))
        records = await self.store.members.of_subject(organization, project_id, subject)
        found = project_members(records)
        return found[0] if found else None

    async def context(self, project_id: str) -> Context:
        """What the pipeline needs of a project: policy, thresholds and vote weights."""
        # Three independent reads: asked together, they cost about one round trip.
        found, current, records = await asyncio.gather(
            self.store.projects.get(project_id),
            self.store.policies.current(project_id),
            self.store.annotators.of_project(project_id),
        )
        if found is None:
            raise NotFound("project", project_id)
        project, policy = found, current or ReviewPolicy()
        classes = max(2, len(project.classes))
        weights, flagged = {}, set()
        for record in records:
            weights[record.annotator] = vote_weight(
                record.gold_correct, record.gold_answers, classes
            )
            if record.flagged:
                flagged.add(record.annotator)
        return Context(
            policy,
            project.review_min_agreement,
            weights,
            frozenset(flagged),
            default_weight=vote_weight(0, 0, classes),
        )


def _organization(project: ProjectSpec) -> str:
    return project.organization_id or DEFAULT_ORGANIZATION
