"""Rich progress bars for uploads and exports: counts, rate and time left."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from labelmesh.sdk.models import ExportJob
from labelmesh.sdk.uploads import UploadReport


class RateColumn(ProgressColumn):
    """Items per second, from the task's own speed estimate."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f}/s", style="progress.data.speed")


class UploadBar:
    """Counts, rate and ETA of an upload; called with each new report."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress = progress
        self._task = task

    def __call__(self, report: UploadReport) -> None:
        counts = (
            f"[green]{report.stored:,} stored[/] "
            f"[yellow]{report.duplicates:,} duplicate[/] "
            f"[red]{report.failed:,} failed[/]"
        )
        if report.skipped:
            counts += f" [dim]{report.skipped:,} done before[/]"
        self._progress.update(self._task, completed=report.done, counts=counts)
        if report.total is not None:
            self._progress.update(self._task, total=report.total)


@contextmanager
def upload_bar(console: Console, label: str, enabled: bool) -> Iterator[UploadBar]:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[counts]}"),
        console=console,
        disable=not enabled,
    ) as progress:
        yield UploadBar(progress, progress.add_task(label, total=None, counts=""))


class ExportBars:
    """The export job's items, then the archive's download."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._items = progress.add_task("export", total=None, detail="")
        self._download = progress.add_task("download", total=None, detail="", visible=False)
        self._received = 0

    def job(self, job: ExportJob) -> None:
        detail = f"{job.items_done:,} of {job.items_total:,} items"
        total = job.items_total or None
        self._progress.update(self._items, completed=job.items_done, total=total, detail=detail)

    def start_download(self, size: int) -> None:
        self._progress.update(self._download, total=size or None, visible=True)

    def received(self, count: int) -> None:
        self._received += count
        detail = decimal(self._received)
        self._progress.update(self._download, advance=count, detail=detail)


@contextmanager
def export_bars(console: Console, enabled: bool) -> Iterator[ExportBars]:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
    ) as progress:
        yield ExportBars(progress)
