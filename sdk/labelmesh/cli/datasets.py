"""`labelmesh datasets ...` and `labelmesh export`: versions of accepted
labels, and their exports as files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from labelmesh.cli.context import first, run
from labelmesh.cli.output import EXIT_FAILED, Output
from labelmesh.cli.progress import export_bars
from labelmesh.sdk import AsyncClient

datasets = typer.Typer(
    help="Dataset versions of a project's accepted labels.", no_args_is_help=True
)

Project = Annotated[str, typer.Option("--project", "-p", help="The project's id.")]
FORMATS = (
    "jsonl",
    "coco",
    "pascal_voc",
    "yolo_detect",
    "yolo_segment",
    "yolo_pose",
    "yolo_classify",
    "conll",
    "spacy_docbin",
    "label_studio",
    "nemo_manifest",
    "parquet",
    "tfrecord",
)


@datasets.command("list")
def list_versions(ctx: typer.Context, project: Project, limit: int = 100) -> None:
    """A project's versions, newest first."""

    async def work(client: AsyncClient, out: Output) -> None:
        found = [v async for v in first(client.datasets.iterate(project), limit)]
        columns = ["version_id", "name", "item_count", "label_count", "created_at"]
        out.records(found, columns, "dataset versions")

    run(ctx, work)


@datasets.command("create")
def create_version(
    ctx: typer.Context,
    project: Project,
    name: Annotated[str, typer.Option(help="The version's name.")],
) -> None:
    """Freeze the project's accepted labels as a new version."""

    async def work(client: AsyncClient, out: Output) -> None:
        out.record(await client.datasets.create(project, name))

    run(ctx, work)


@datasets.command("show")
def show_version(ctx: typer.Context, version_id: str) -> None:
    """One version: counts per class and split."""

    async def work(client: AsyncClient, out: Output) -> None:
        out.record(await client.datasets.get(version_id))

    run(ctx, work)


@datasets.command("chart")
def balance_chart(
    ctx: typer.Context,
    version_id: str,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the PNG.")],
) -> None:
    """Write the version's class balance chart as a PNG."""

    async def work(client: AsyncClient, out: Output) -> None:
        output.write_bytes(await client.datasets.balance_chart(version_id))
        out.note(f"wrote {output}")

    run(ctx, work)


def export(
    ctx: typer.Context,
    version_id: Annotated[str, typer.Argument(help="The dataset version.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the archive.")],
    format: Annotated[str, typer.Option(help=f"One of: {', '.join(FORMATS)}.")] = "jsonl",
    archive: Annotated[str, typer.Option(help="zip or tar (default: the format's own).")] = "",
    media: Annotated[bool, typer.Option(help="Include images and recordings.")] = False,
) -> None:
    """Export a dataset version and download it, with progress."""
    if format.lower() not in FORMATS:
        raise typer.BadParameter(
            f"{format!r} is not one of {', '.join(FORMATS)}", param_hint="--format"
        )
    export_format = f"EXPORT_FORMAT_{format.upper()}"
    archive_format = f"ARCHIVE_FORMAT_{archive.upper()}" if archive else ""

    async def work(client: AsyncClient, out: Output) -> None:
        with export_bars(out.errors, enabled=not out.json_mode) as bars:
            job = await client.exports.start(version_id, export_format, archive_format, media)
            job = await client.exports.wait(job.job_id, progress=bars.job)
            if job.state != "EXPORT_STATE_SUCCEEDED":
                out.error(f"export {job.job_id} failed: {job.error}")
                raise typer.Exit(EXIT_FAILED)
            bars.start_download(job.size_bytes)
            await client.exports.download(job.job_id, output, progress=bars.received)
        out.record({**job.model_dump(mode="json"), "output": str(output)})

    run(ctx, work)
