"""`labelmesh import s3` and `labelmesh buckets`: a bucket registered as a
project's source, its sync followed as it goes."""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from typing import Annotated, NoReturn

import typer
from rich.table import Table

from labelmesh.cli.context import output_of, run
from labelmesh.cli.output import EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, Output
from labelmesh.cli.progress import sync_counts, sync_display, sync_state
from labelmesh.sdk import AsyncClient
from labelmesh.sdk.bucket_location import BucketSettingError, checked_endpoint, parse_s3_uri
from labelmesh.sdk.models import Bucket

POLL_SECONDS = 1.0


class Mode(StrEnum):
    reference = "reference"
    copy = "copy"


ProjectArgument = Annotated[
    str, typer.Argument(metavar="PROJECT", help="The project's id.", show_default=False)
]
JsonOutput = Annotated[
    bool, typer.Option("--json", help="Print JSON for scripts, as `labelmesh --json` does.")
]


def json_output_of(ctx: typer.Context, wanted: bool) -> Output:
    """The command's output, in JSON mode if its own --json asks for it."""
    out = output_of(ctx)
    if wanted and not out.json_mode:
        out = replace(out, json_mode=True)
        ctx.find_root().obj = out
    return out


def import_s3(
    ctx: typer.Context,
    project: ProjectArgument,
    uri: Annotated[
        str,
        typer.Argument(
            metavar="S3_URI", help="s3://bucket/prefix; only keys under the prefix are synced."
        ),
    ],
    endpoint: Annotated[
        str,
        typer.Option(
            help="The S3 endpoint as host or host:port, e.g. minio.internal:9000.",
            show_default=False,
        ),
    ],
    insecure: Annotated[
        bool, typer.Option("--insecure", help="The endpoint speaks plain HTTP.")
    ] = False,
    region: Annotated[str, typer.Option(help="The bucket's region (us-east-1 if not given).")] = "",
    mode: Annotated[
        Mode,
        typer.Option(help="reference: media stays in the bucket; copy: it is copied in."),
    ] = Mode.reference,
    mirror_deletions: Annotated[
        bool, typer.Option("--mirror-deletions", help="A deleted object deletes its item.")
    ] = False,
    access_key_id: Annotated[
        str,
        typer.Option(
            envvar="LABELMESH_S3_ACCESS_KEY_ID",
            help="A key that may list and read the bucket; none for a public bucket.",
            show_default=False,
        ),
    ] = "",
    secret_access_key: Annotated[
        str,
        typer.Option(
            envvar="LABELMESH_S3_SECRET_ACCESS_KEY",
            help="Its secret; better given in the environment than on the command line.",
            show_default=False,
        ),
    ] = "",
    full: Annotated[
        bool, typer.Option("--full", help="List every key, not only those after the last sync's.")
    ] = False,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Queue the sync and return at once.")
    ] = False,
    json_output: JsonOutput = False,
) -> None:
    """Register a bucket as the project's source, sync it and follow the sync.

    Exits 0 when the sync took in every object it read, 3 when some failed,
    1 when the sync failed or every object failed."""
    try:
        location = parse_s3_uri(uri)
    except BucketSettingError as exc:
        raise typer.BadParameter(exc.reason, param_hint="S3_URI") from exc
    try:
        checked_endpoint(endpoint)
    except BucketSettingError as exc:
        raise typer.BadParameter(exc.reason, param_hint="--endpoint") from exc
    if bool(access_key_id) != bool(secret_access_key):
        given, missing = "--access-key-id", "--secret-access-key"
        if secret_access_key:
            given, missing = missing, given
        raise typer.BadParameter(
            f"{given} needs {missing} too (or neither, for a public bucket)", param_hint=missing
        )
    out = json_output_of(ctx, json_output)

    async def work(client: AsyncClient, out: Output) -> Bucket:
        bucket = await client.buckets.register(
            project,
            location.bucket,
            prefix=location.prefix,
            endpoint=endpoint,
            secure=not insecure,
            region=region,
            mode=mode.value,
            mirror_deletions=mirror_deletions,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
        )
        out.note(f"registered {bucket.uri} at {bucket.endpoint} as {bucket.bucket_id}")
        bucket = await client.buckets.sync(bucket.bucket_id, full)
        if full and not bucket.full:
            out.note(
                "[yellow]a sync that is not full was under way already; "
                "run this again with --full once it is done"
            )
        if no_wait:
            return bucket
        with sync_display(out.errors, bucket.uri, enabled=not out.json_mode) as display:
            return await client.buckets.wait(bucket.bucket_id, POLL_SECONDS, progress=display)

    bucket = run(ctx, work)
    if no_wait:
        out.note(f"sync {sync_state(bucket.state)}; follow it with: labelmesh buckets {project}")
        if out.json_mode:
            out.record(bucket)
        raise typer.Exit(EXIT_OK)
    finish(out, bucket)


def finish(out: Output, bucket: Bucket) -> NoReturn:
    """Print what the sync did, with the objects it refused, and exit by outcome."""
    counts = bucket.counts
    if out.json_mode:
        out.record(bucket)
    else:
        out.note(f"{bucket.uri}: sync {sync_state(bucket.state)}; {sync_counts(counts)}")
        if bucket.failures:
            table = Table("key", "reason", title="objects not taken in")
            for failure in bucket.failures:
                table.add_row(failure.key, failure.reason)
            out.console.print(table)
        if counts.failed > len(bucket.failures):
            out.note(f"the first {len(bucket.failures):,} of {counts.failed:,} failures are kept")
    if bucket.state != "SYNC_STATE_SUCCEEDED":
        out.error(f"the sync of {bucket.uri} failed: {bucket.error or sync_state(bucket.state)}")
        raise typer.Exit(EXIT_FAILED)
    if counts.failed == 0:
        raise typer.Exit(EXIT_OK)
    raise typer.Exit(EXIT_PARTIAL if counts.stored + counts.duplicates else EXIT_FAILED)


def list_buckets(
    ctx: typer.Context, project: ProjectArgument, json_output: JsonOutput = False
) -> None:
    """A project's registered buckets, oldest first, with their latest sync."""
    json_output_of(ctx, json_output)

    async def work(client: AsyncClient, out: Output) -> None:
        found = await client.buckets.list(project)
        if out.json_mode:
            for bucket in found:
                print(bucket.model_dump_json())
            return
        table = Table(title="buckets")
        # Ids and URIs are copied from here: folded onto more lines, never cut.
        table.add_column("bucket", overflow="fold", min_width=12)
        table.add_column("source", overflow="fold", min_width=12)
        for heading in ("mode", "latest sync", "counts"):
            table.add_column(heading)
        for bucket in found:
            table.add_row(
                bucket.bucket_id,
                f"{bucket.uri}\n{bucket.endpoint}{'' if bucket.secure else ' (http)'}",
                bucket.mode.removeprefix("BUCKET_MODE_").lower(),
                f"{sync_state(bucket.state)}\n{latest_sync_detail(bucket)}".rstrip(),
                sync_counts(bucket.counts) if bucket.state != "SYNC_STATE_UNSPECIFIED" else "",
            )
        out.console.print(table)

    run(ctx, work)


def latest_sync_detail(bucket: Bucket) -> str:
    if bucket.error:
        return bucket.error
    moment = bucket.sync_finished_at or bucket.sync_started_at
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else ""
