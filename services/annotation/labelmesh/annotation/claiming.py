"""NextTask: the annotator's current task, or a new one taken from the queue.

Claims that arrive together are taken together, in one transaction (group
commit). Each lane of a project is a sequence of positions; an annotator
looks from their own cursor (or the lane's head, if further on) through a
window of positions at a time, and takes the first task they may take. So a
claim reads a few dozen tasks, however long the queue, and the annotator's
counters move in the same transaction as the task they took, so that a crash
cannot shift their gold mix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from labelmesh.annotation.metrics import AnnotationMetrics
from labelmesh.annotation.ports import AnnotationStores, TaskStore
from labelmesh.annotation.queue import gold_due, queued, takeable_by, works_on
from labelmesh.annotation.records import Changed, Lane, LaneState, Progress, Task
from labelmesh.annotation.task_changes import now, taken
from labelmesh.core.grouping import GroupCommit
from labelmesh.core.uow import Transaction
from labelmesh.v1.events_pb2 import ProjectSpec

# Positions read per query; a claim usually needs one window.
WINDOW = 64
# Windows the head may move by in one claim group.
HEAD_STEPS = 2


@dataclass(frozen=True)
class ClaimRequest:
    project: ProjectSpec
    annotator: str


@dataclass(frozen=True)
class Claimed:
    task: Task
    gold: bool


def current_of(held: Sequence[Task], project_id: str, annotator: str) -> Task | None:
    """The oldest task of the project the annotator is still working on, if any."""
    working = [t for t in held if t.project_id == project_id and works_on(t, annotator)]
    return min(working, key=lambda t: t.created_at) if working else None


@dataclass(eq=False)
class LaneScan:
    """The windows of a project's lanes one claim group reads, and the tasks it takes."""

    tasks: TaskStore
    tx: Transaction
    project_id: str
    lanes: dict[Lane, LaneState]
    at: datetime = field(default_factory=now)
    _windows: dict[tuple[Lane, int], list[str]] = field(default_factory=dict)
    _live: dict[str, Task] = field(default_factory=dict)
    _before: dict[str, Task] = field(default_factory=dict)

    async def take(self, lane: Lane, annotator: str, cursor: int) -> tuple[Task | None, int]:
        """The first task from the cursor on that the annotator may take, taken; and
        their cursor after it (the lane's end if there was none)."""
        state = self.lanes[lane]
        position = max(cursor, state.head)
        while position < state.next:
            for task in await self._window(lane, position):
                if task.position >= position and takeable_by(task, annotator):
                    took = taken(task, annotator, self.at)
                    self._before.setdefault(task.task_id, task)
                    self._live[task.task_id] = took
                    return took, task.position + 1
            position = (position // WINDOW + 1) * WINDOW
        return None, max(cursor, state.next)

    async def heads(self) -> dict[Lane, int]:
        """Each lane's head moved past whole windows that nobody can take from any more
        (whole windows only, so that the head is written once a window, not once a claim)."""
        moved = {}
        for lane, state in self.lanes.items():
            head = state.head
            for _ in range(HEAD_STEPS):
                end = min(state.next, (head // WINDOW + 1) * WINDOW)
                window = await self._window(lane, head) if head < state.next else []
                if end <= head or any(t.position >= head and queued(t) for t in window):
                    break
                head = end
            if head > state.head:
                moved[lane] = head
        return moved

    def changes(self) -> list[Changed]:
        return [Changed(before, self._live[task_id]) for task_id, before in self._before.items()]

    async def _window(self, lane: Lane, position: int) -> list[Task]:
        """The live tasks of the window holding `position`, in position order."""
        index = position // WINDOW
        if (lane, index) not in self._windows:
            start = index * WINDOW
            stop = min(start + WINDOW, self.lanes[lane].next)
            found = await self.tasks.window(self.tx, self.project_id, lane, start, stop)
            for task in found:
                self._live.setdefault(task.task_id, task)
            self._windows[(lane, index)] = [task.task_id for task in found]
        return [self._live[task_id] for task_id in self._windows[(lane, index)]]


@dataclass(eq=False)
class Claims:
    stores: AnnotationStores
    metrics: AnnotationMetrics
    _group: GroupCommit[ClaimRequest, Task | None] = field(init=False)

    def __post_init__(self) -> None:
        self._group = GroupCommit(self._claim_group)

    async def next_task(self, project: ProjectSpec, annotator: str) -> Task | None:
        """The annotator's current task in the project, or a newly taken one (None if none is left).

        Calls of one annotator at once get the same task.
        """
        return await self._group.submit(ClaimRequest(project, annotator))

    async def _claim_group(self, requests: list[ClaimRequest]) -> list[Task | BaseException | None]:
        found: dict[tuple[str, str], Task | BaseException | None] = {}
        projects = {r.project.project_id: r.project for r in requests}
        for project_id, project in projects.items():
            annotators = list(
                dict.fromkeys(r.annotator for r in requests if r.project.project_id == project_id)
            )
            try:
                taken_now = await self._claim_in(project, annotators)
            except Exception as exc:  # the project's claims fail together, the others go on
                taken_now = dict.fromkeys(annotators, exc)
            for annotator, outcome in taken_now.items():
                found[(project_id, annotator)] = outcome
        return [found[(r.project.project_id, r.annotator)] for r in requests]

    async def _claim_in(
        self, project: ProjectSpec, annotators: list[str]
    ) -> dict[str, Task | BaseException | None]:
        claimed = await self.stores.uow.run(lambda tx: self._take(tx, project, annotators))
        outcomes: dict[str, Task | BaseException | None] = {}
        for annotator, claim in claimed.items():
            if isinstance(claim, Claimed):
                self.metrics.tasks_claimed.labels("gold" if claim.gold else "regular").inc()
                outcomes[annotator] = claim.task
            else:
                if claim is None:
                    self.metrics.queue_empty.inc()
                outcomes[annotator] = claim
        return outcomes

    async def _take(
        self, tx: Transaction, project: ProjectSpec, annotators: list[str]
    ) -> dict[str, Claimed | Task | None]:
        """Inside the transaction: each annotator's current task (taken meanwhile), or a new one."""
        project_id = project.project_id
        held = await self.stores.tasks.held_by(annotators, tx)
        outcomes: dict[str, Claimed | Task | None] = {}
        for annotator in annotators:
            current = current_of(held, project_id, annotator)
            if current is not None:
                outcomes[annotator] = current
        needing = [a for a in annotators if a not in outcomes]
        if not needing:
            return outcomes
        progress = await self.stores.queue.progress(tx, project_id, needing)
        scan = LaneScan(
            self.stores.tasks, tx, project_id, await self.stores.queue.lanes(tx, project_id)
        )
        moved: dict[str, Progress] = {}
        for annotator in needing:
            claim, after = await self._take_one(scan, project, progress[annotator], annotator)
            outcomes[annotator] = claim
            if after != progress[annotator]:
                moved[annotator] = after
        await self.stores.tasks.save(tx, scan.changes())
        await self.stores.queue.save_progress(tx, project_id, moved)
        heads = await scan.heads()
        if heads:
            await self.stores.queue.advance(tx, project_id, heads)
        return outcomes

    async def _take_one(
        self, scan: LaneScan, project: ProjectSpec, progress: Progress, annotator: str
    ) -> tuple[Claimed | None, Progress]:
        ratio = project.review_policy.gold_ratio
        if gold_due(ratio, progress.tasks_taken, progress.gold_taken):
            task, cursor = await scan.take(Lane.GOLD, annotator, progress.gold_cursor)
            progress = replace(progress, gold_cursor=cursor)
            if task is not None:
                return Claimed(task, gold=True), _counted(progress, gold=True)
        # Gold is never served just to fill an empty queue.
        task, cursor = await scan.take(Lane.REGULAR, annotator, progress.regular_cursor)
        progress = replace(progress, regular_cursor=cursor)
        if task is None:
            return None, progress
        return Claimed(task, gold=False), _counted(progress, gold=False)


def _counted(progress: Progress, *, gold: bool) -> Progress:
    return replace(
        progress,
        tasks_taken=progress.tasks_taken + 1,
        gold_taken=progress.gold_taken + int(gold),
    )
