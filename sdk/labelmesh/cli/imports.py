"""`labelmesh import ...`: folders, manifests, URL lists and exports of other
tools, in resumable batches with a progress bar."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from labelmesh.cli.context import output_of, run
from labelmesh.cli.output import EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, Output
from labelmesh.cli.progress import upload_bar
from labelmesh.sdk import AsyncClient, Columns, Source, UploadReport, sources
from labelmesh.sdk.migrate import coco, cvat, label_studio
from labelmesh.sdk.migrate.common import Migration
from labelmesh.sdk.records import MEDIA_TYPES, MediaType

app = typer.Typer(help="Import items into a project.", no_args_is_help=True)

Project = Annotated[str, typer.Option("--project", "-p", help="The project's id.")]
BatchSize = Annotated[int | None, typer.Option(help="Records per request (default: by data type).")]
Concurrency = Annotated[int, typer.Option(help="Requests in flight at once.")]
LogFile = Annotated[
    Path | None,
    typer.Option(help="The upload log (default: one per project and source, under ~/.cache)."),
]
Resume = Annotated[bool, typer.Option(help="Skip what the log says was stored before.")]
TextColumn = Annotated[str, typer.Option("--text-column", help="Column holding the text.")]
UrlColumn = Annotated[str, typer.Option("--url-column", help="Column holding a media URL.")]
FileColumn = Annotated[
    str, typer.Option("--file-column", help="Column holding a file path, relative to the manifest.")
]
MetadataColumns = Annotated[
    list[str] | None, typer.Option("--metadata-column", help="Column copied into metadata.")
]
LabelColumn = Annotated[str, typer.Option("--label-column", help="Column holding a class name.")]
AnnotatorColumn = Annotated[
    str, typer.Option("--annotator-column", help="Column naming who gave the label.")
]
KeyColumn = Annotated[str, typer.Option("--key-column", help="Column identifying a row.")]


def default_log(project: str, source: str) -> Path:
    """One log per project and source, so that running a command again resumes it."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    return cache / "labelmesh" / "uploads" / project / f"{digest}.jsonl"


@dataclass(frozen=True)
class Sending:
    """How an import sends its records."""

    batch_size: int | None
    concurrency: int
    log: Path | None
    resume: bool


def upload(
    ctx: typer.Context, project: str, source: Source, label: str, how: Sending, left_out: int = 0
) -> None:
    """Upload with a progress bar, print the summary, exit by outcome."""
    log_path = how.log or default_log(project, label)

    async def work(client: AsyncClient, out: Output) -> UploadReport:
        with upload_bar(out.errors, label, enabled=not out.json_mode) as bar:
            return await client.items.upload(
                project,
                source,
                batch_size=how.batch_size,
                concurrency=how.concurrency,
                log=log_path,
                resume=how.resume,
                progress=bar,
            )

    finish(output_of(ctx), run(ctx, work), left_out)


def finish(out: Output, report: UploadReport, left_out: int = 0) -> None:
    """Print what the upload did and exit: 0 if nothing failed, 3 if some
    records failed (or `left_out` records never made it to the upload), 1 if
    all did."""
    summary = {
        "stored": report.stored,
        "duplicates": report.duplicates,
        "failed": report.failed,
        "skipped": report.skipped,
        "seconds": round(report.elapsed, 2),
        "rate_per_second": round(report.rate, 1),
        "log": str(report.log_path),
    }
    if out.json_mode:
        out.record(summary)
    else:
        out.note(
            f"{report.stored:,} stored, {report.duplicates:,} duplicates, "
            f"{report.failed:,} failed, {report.skipped:,} done before "
            f"({report.rate:,.0f}/s). Log: {report.log_path}"
        )
        for entry in report.failures[:10]:
            out.error(f"{entry.key}: {entry.error}")
        if report.failed:
            out.note(f"Send the failures again: labelmesh import retry {report.log_path} -p ...")
    if report.failed == 0 and left_out == 0:
        raise typer.Exit(EXIT_OK)
    succeeded = report.stored + report.duplicates + report.skipped
    raise typer.Exit(EXIT_PARTIAL if succeeded else EXIT_FAILED)


def media_types(names: list[str] | None) -> tuple[MediaType, ...]:
    if not names:
        return tuple(sources.EXTENSIONS)
    chosen = [MEDIA_TYPES.get(name) for name in names]
    unknown = [name for name, media in zip(names, chosen, strict=True) if media is None]
    if unknown:
        raise typer.BadParameter(f"unknown type(s) {unknown}; use image, audio, video or text")
    return tuple(media for media in chosen if media is not None)


def columns_of(
    text: str,
    url: str,
    file: str,
    metadata: list[str] | None,
    label: str,
    annotator: str,
    key: str,
) -> Columns:
    try:
        return Columns(
            text=text,
            url=url,
            file=file,
            metadata=tuple(metadata or ()),
            label=label,
            annotator=annotator,
            key=key,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


@app.command()
def folder(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The folder.", exists=True, file_okay=False)],
    project: Project,
    type: Annotated[
        list[str] | None, typer.Option("--type", help="image, audio, video or text; repeatable.")
    ] = None,
    recursive: Annotated[bool, typer.Option(help="Include subfolders.")] = True,
    batch_size: BatchSize = None,
    concurrency: Concurrency = 4,
    log: LogFile = None,
    resume: Resume = True,
) -> None:
    """Upload every file of the given types under a folder."""
    source = sources.folder(path, media_types(type), recursive)
    how = Sending(batch_size, concurrency, log, resume)
    upload(ctx, project, source, f"folder {path.resolve()}", how)


def manifest(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Argument(help="A CSV with a header row, or JSONL, an object a line.", exists=True),
    ],
    project: Project,
    text_column: TextColumn = "",
    url_column: UrlColumn = "",
    file_column: FileColumn = "",
    metadata_column: MetadataColumns = None,
    label_column: LabelColumn = "",
    annotator_column: AnnotatorColumn = "",
    key_column: KeyColumn = "",
    batch_size: BatchSize = None,
    concurrency: Concurrency = 4,
    log: LogFile = None,
    resume: Resume = True,
) -> None:
    columns = columns_of(
        text_column,
        url_column,
        file_column,
        metadata_column,
        label_column,
        annotator_column,
        key_column,
    )
    # One function serves both commands; the command's name is the format.
    kind = ctx.info_name or "csv"
    read = sources.csv_file if kind == "csv" else sources.jsonl_file
    how = Sending(batch_size, concurrency, log, resume)
    upload(ctx, project, read(path, columns), f"{kind} {path.resolve()}", how)


app.command(
    "csv",
    help="Upload a CSV manifest's rows: texts, media URLs or files, with metadata and labels.",
)(manifest)
app.command("jsonl", help="Upload a JSONL manifest's records; \"columns\" are the objects' keys.")(
    manifest
)


@app.command()
def urls(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="A file of URLs, one a line; - for stdin.")],
    project: Project,
    batch_size: BatchSize = None,
    concurrency: Concurrency = 4,
    log: LogFile = None,
    resume: Resume = True,
) -> None:
    """Have the server fetch media from URLs."""
    lines = sys.stdin.read().splitlines() if path == "-" else Path(path).read_text().splitlines()
    label = "urls stdin" if path == "-" else f"urls {Path(path).resolve()}"
    how = Sending(batch_size, concurrency, log, resume)
    upload(ctx, project, sources.urls(lines), label, how)


@app.command()
def retry(
    ctx: typer.Context,
    log: Annotated[Path, typer.Argument(help="The upload log.", exists=True, dir_okay=False)],
    project: Project,
    batch_size: BatchSize = None,
    concurrency: Concurrency = 4,
) -> None:
    """Send again only what the log says failed."""

    async def work(client: AsyncClient, out: Output) -> UploadReport:
        with upload_bar(out.errors, f"retry {log}", enabled=not out.json_mode) as bar:
            return await client.items.retry_from_log(
                project, log, batch_size=batch_size, concurrency=concurrency, progress=bar
            )

    finish(output_of(ctx), run(ctx, work))


MediaRoot = Annotated[
    Path | None,
    typer.Option(help="Where the export's media files are (default: beside the export)."),
]


def migrate(
    ctx: typer.Context, project: str, migration: Migration, label: str, how: Sending
) -> None:
    """Say what the export holds and what it leaves out, then upload it."""
    out = output_of(ctx)
    out.note(
        f"{len(migration.records):,} items with {migration.annotations:,} annotations "
        f"and {migration.predictions:,} predictions"
    )
    for reason in migration.skipped[:20]:
        out.error(f"left out {reason}")
    if len(migration.skipped) > 20:
        out.error(f"... and {len(migration.skipped) - 20:,} more left out")
    for kind, count in migration.unsupported.most_common():
        out.note(f"[yellow]{count:,} {kind} labels have no LabelMesh geometry and stay behind")
    source = Source(migration.records, len(migration.records))
    upload(ctx, project, source, label, how, left_out=len(migration.skipped))


@app.command("label-studio")
def label_studio_export(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(help="The JSON export, or a zip holding tasks.json.", exists=True)
    ],
    project: Project,
    media_root: MediaRoot = None,
    batch_size: BatchSize = None,
    concurrency: Concurrency = 4,
    log: LogFile = None,
    resume: Resume = True,
) -> None:
    """Migrate a Label Studio JSON export: tasks, annotations and predictions."""

    async def skeletons_of(client: AsyncClient, out: Output) -> dict[str, list[str]]:
        spec = (await client.projects.get(project)).model_dump()
        return {s.get("label", ""): s.get("keypoints", []) for s in spec.get("skeletons", [])}

    skeletons = run(ctx, skeletons_of)
    how = Sending(batch_size, concurrency, log, resume)
    with unpacked(path, "tasks.json") as (tasks, root):
        migration = label_studio.read(tasks, media_root or root, skeletons)
        migrate(ctx, project, migration, f"label-studio {path.resolve()}", how)


@app.command("cvat")
def cvat_export(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(help="annotations.xml, or a zip holding it.", exists=True)
    ],
    project: Project,
    media_root: MediaRoot = None,
    batch_size: BatchSize = None,
    concurrency: Concurrency = 4,
    log: LogFile = None,
    resume: Resume = True,
) -> None:
    """Migrate a CVAT for images 1.1 export."""
    how = Sending(batch_size, concurrency, log, resume)
    with unpacked(path, "annotations.xml") as (annotations, _folder):
        migration = cvat.read(annotations, media_root or cvat.default_root(annotations))
        migrate(ctx, project, migration, f"cvat {path.resolve()}", how)


@app.command("coco")
def coco_export(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The COCO JSON file.", exists=True)],
    project: Project,
    media_root: MediaRoot = None,
    batch_size: BatchSize = None,
    concurrency: Concurrency = 4,
    log: LogFile = None,
    resume: Resume = True,
) -> None:
    """Migrate a COCO file: boxes, polygons, masks and keypoints (scored ones as predictions)."""
    how = Sending(batch_size, concurrency, log, resume)
    migration = coco.read(path, media_root or path.parent)
    migrate(ctx, project, migration, f"coco {path.resolve()}", how)


@contextmanager
def unpacked(path: Path, member: str) -> Iterator[tuple[Path, Path]]:
    """The export file and its folder; a zip is unpacked into a temporary folder first."""
    if not zipfile.is_zipfile(path):
        yield path, path.parent
        return
    with tempfile.TemporaryDirectory(prefix="labelmesh-import-") as folder:
        with zipfile.ZipFile(path) as archive:
            archive.extractall(folder)
        found = sorted(Path(folder).rglob(member))
        if not found:
            raise typer.BadParameter(f"{path} holds no {member}")
        yield found[0], found[0].parent
