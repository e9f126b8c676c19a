"""Rich progress bars for uploads and exports (counts, rate and time left),
and the counts of a bucket's sync as it goes."""

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
    SpinnerColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from labelmesh.sdk.models import Bucket, ExportJob, SyncCounts
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


def sync_counts(counts: SyncCounts) -> str:
    """A sync's counts as Rich markup, in the order a sync reaches them."""
    return (
        f"{counts.listed:,} listed, {counts.read:,} read, "
        f"[green]{counts.stored:,} stored[/], [yellow]{counts.duplicates:,} duplicates[/], "
        f"[red]{counts.failed:,} failed[/], {counts.deleted:,} deleted"
    )


def sync_state(state: str) -> str:
    """SYNC_STATE_RUNNING as "running"; a bucket never synced says so."""
    name = state.removeprefix("SYNC_STATE_").lower()
    return "never synced" if name in ("", "unspecified") else name


class SyncDisplay:
    """Where a bucket's sync stands; called with the bucket at each poll."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress = progress
        self._task = task

    def __call__(self, bucket: Bucket) -> None:
        detail = f"{sync_state(bucket.state)}: {sync_counts(bucket.counts)}"
        self._progress.update(self._task, completed=bucket.counts.listed, detail=detail)


@contextmanager
def sync_display(console: Console, label: str, enabled: bool) -> Iterator[SyncDisplay]:
    # A listing's length is unknown until it ends: a spinner, not a bar.
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not enabled,
    ) as progress:
        yield SyncDisplay(progress, progress.add_task(label, total=None, detail="queued"))
