"""Projects read on every claim and submission, kept for a moment in memory.

A project changes rarely (its review policy, by event); a replica that did not
handle the change sees it at most `ttl_seconds` late, and the one that did,
at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from labelmesh.annotation.ports import ProjectRepository
from labelmesh.core.uow import Transaction
from labelmesh.v1.events_pb2 import ProjectSpec, ReviewPolicy


@dataclass(eq=False)
class CachedProjects:
    inner: ProjectRepository
    ttl_seconds: float = 1.0
    _kept: dict[str, tuple[float, ProjectSpec]] = field(default_factory=dict)

    async def insert(self, tx: Transaction, project: ProjectSpec) -> None:
        await self.inner.insert(tx, project)

    async def get(self, project_id: str) -> ProjectSpec | None:
        kept = self._kept.get(project_id)
        if kept is not None and time.monotonic() - kept[0] < self.ttl_seconds:
            return kept[1]
        project = await self.inner.get(project_id)
        if project is not None:
            self._kept[project_id] = (time.monotonic(), project)
        return project

    async def overlaps(self, tx: Transaction, project_ids: Iterable[str]) -> dict[str, int]:
        return await self.inner.overlaps(tx, project_ids)

    async def update_review_policy(
        self, tx: Transaction, project_id: str, policy: ReviewPolicy
    ) -> bool:
        self._kept.pop(project_id, None)
        return await self.inner.update_review_policy(tx, project_id, policy)
