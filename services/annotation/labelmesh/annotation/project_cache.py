"""Projects read on every claim and submission, kept for a moment in memory.

A project changes rarely (its review policy, by event); a replica that did not
handle the change sees it at most `ttl_seconds` late, and the one that did,
at once. Requests that find it missing at the same moment share one read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from labelmesh.annotation.ports import ProjectRepository
from labelmesh.annotation.records import ListedProject
from labelmesh.core.uow import Transaction
from labelmesh.v1.events_pb2 import ProjectSpec, ReviewPolicy


@dataclass(eq=False)
class CachedProjects:
    inner: ProjectRepository
    ttl_seconds: float = 1.0
    _kept: dict[str, tuple[float, ProjectSpec]] = field(default_factory=dict)
    _reading: dict[str, asyncio.Task[ProjectSpec | None]] = field(default_factory=dict)

    async def insert(self, tx: Transaction, project: ProjectSpec) -> None:
        await self.inner.insert(tx, project)

    async def get(self, project_id: str) -> ProjectSpec | None:
        kept = self._kept.get(project_id)
        if kept is not None and time.monotonic() - kept[0] < self.ttl_seconds:
            return kept[1]
        reading = self._reading.get(project_id)
        if reading is None:
            reading = asyncio.create_task(self._read(project_id))
            self._reading[project_id] = reading
            reading.add_done_callback(lambda _: self._reading.pop(project_id, None))
        # Shielded: one caller giving up must not cancel the read the others wait for.
        return await asyncio.shield(reading)

    async def _read(self, project_id: str) -> ProjectSpec | None:
        project = await self.inner.get(project_id)
        # Not kept if the project changed while it was read (the read is no longer current).
        if project is not None and self._reading.get(project_id) is asyncio.current_task():
            self._kept[project_id] = (time.monotonic(), project)
        return project

    async def listed(self, organization_id: str) -> int:
        return await self.inner.listed(organization_id)

    async def window(self, organization_id: str, start: int, stop: int) -> list[ListedProject]:
        return await self.inner.window(organization_id, start, stop)

    async def by_ids(self, project_ids: Iterable[str]) -> list[ListedProject]:
        return await self.inner.by_ids(project_ids)

    async def overlaps(self, tx: Transaction, project_ids: Iterable[str]) -> dict[str, int]:
        return await self.inner.overlaps(tx, project_ids)

    async def update_review_policy(
        self, tx: Transaction, project_id: str, policy: ReviewPolicy
    ) -> bool:
        self._kept.pop(project_id, None)
        self._reading.pop(project_id, None)
        return await self.inner.update_review_policy(tx, project_id, policy)
