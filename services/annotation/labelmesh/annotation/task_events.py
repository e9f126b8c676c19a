"""What events do to tasks: load the tasks a fetch's changes touch, apply the
changes in event order, give each task that starts waiting its place at the
back of its lane, and store the lot in one write."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from labelmesh.annotation.ports import QueueStore, TaskStore
from labelmesh.annotation.queue import needs_position
from labelmesh.annotation.records import Changed, Lane, Task, TaskChange, TaskStatus, WorkApproved
from labelmesh.annotation.task_changes import changed, reopened
from labelmesh.core.uow import Transaction


@dataclass(eq=False)
class TaskEvents:
    tasks: TaskStore
    queue: QueueStore

    async def apply(self, tx: Transaction, changes: Sequence[TaskChange]) -> None:
        """Apply task changes in order; a change to an unknown task creates it or does nothing."""
        if not changes:
            return
        item_ids = [c.item_id for c in changes if not isinstance(c, WorkApproved)]
        task_ids = [c.task_id for c in changes if isinstance(c, WorkApproved)]
        by_item = await self.tasks.by_items(tx, item_ids) if item_ids else {}
        by_id = {task.task_id: task for task in by_item.values()}
        if task_ids:
            by_id.update(await self.tasks.by_ids(tx, task_ids))
        before: dict[str, Task | None] = dict(by_id)
        for change in changes:
            if isinstance(change, WorkApproved):
                task = by_id.get(change.task_id)
            else:
                task = by_item.get(change.item_id)
            after = changed(task, change)
            if after is None or after is task:
                continue
            before.setdefault(after.task_id, None)
            by_id[after.task_id] = after
            by_item[after.item_id] = after
        await self.save(
            tx,
            [
                Changed(before[task_id], task)
                for task_id, task in by_id.items()
                if task is not before[task_id]
            ],
        )

    async def reopen(self, tx: Transaction, task_id: str, round_: int) -> bool:
        """Start the next round of a rejected regular task; False if that round is already
        over, or if its item was deleted (the task is cancelled instead)."""
        task = (await self.tasks.by_ids(tx, [task_id])).get(task_id)
        after = reopened(task, round_) if task is not None else None
        if task is None or after is None:
            return False
        await self.save(tx, [Changed(task, after)])
        return after.status == TaskStatus.OPEN

    async def of_items(self, tx: Transaction, item_ids: Sequence[str]) -> dict[str, Task]:
        """The task of each item that has a task."""
        return await self.tasks.by_items(tx, item_ids)

    async def task_ids(self, tx: Transaction, item_ids: Sequence[str]) -> dict[str, str]:
        """The task id of each item that has a task."""
        return {item: t.task_id for item, t in (await self.of_items(tx, item_ids)).items()}

    async def save(self, tx: Transaction, changes: Sequence[Changed]) -> None:
        """Store the changes, each task that starts waiting at the back of its lane."""
        if changes:
            await self.tasks.save(tx, await self._placed(tx, changes))

    async def _placed(self, tx: Transaction, changes: Sequence[Changed]) -> list[Changed]:
        waiting: dict[tuple[str, Lane], list[int]] = {}
        for index, change in enumerate(changes):
            if needs_position(change.before, change.after):
                key = (change.after.project_id, change.after.lane)
                waiting.setdefault(key, []).append(index)
        placed = list(changes)
        for (project_id, lane), indexes in waiting.items():
            first = await self.queue.reserve(tx, project_id, lane, len(indexes))
            for offset, index in enumerate(indexes):
                after = replace(placed[index].after, position=first + offset)
                placed[index] = replace(placed[index], after=after)
        return placed
