"""`labelmesh audit query|verify`: who changed what and when, and whether the
log is intact."""

from __future__ import annotations

from typing import Annotated

import typer

from labelmesh.cli.context import first, run
from labelmesh.cli.output import EXIT_FAILED, Output
from labelmesh.sdk import AsyncClient

audit = typer.Typer(help="Query and verify the audit log.", no_args_is_help=True)


@audit.command("query")
def query(
    ctx: typer.Context,
    project: Annotated[str, typer.Option("--project", "-p", help="The project's id.")] = "",
    actor: Annotated[str, typer.Option(help="Who acted: a user, key or model.")] = "",
    event_type: Annotated[
        list[str] | None, typer.Option("--type", help="An event type; repeatable.")
    ] = None,
    item: Annotated[str, typer.Option(help="One item's entries.")] = "",
    since: Annotated[str, typer.Option(help="From this time (ISO 8601), inclusive.")] = "",
    until: Annotated[str, typer.Option(help="To this time (ISO 8601), exclusive.")] = "",
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 100,
) -> None:
    """Entries of the audit log, oldest first."""

    async def work(client: AsyncClient, out: Output) -> None:
        entries = client.audit.iterate(
            project,
            actor=actor,
            event_types=event_type or (),
            item_id=item,
            since=since or None,
            until=until or None,
        )
        found = [entry async for entry in first(entries, limit)]
        columns = ["sequence", "occurred_at", "event_type", "actor", "item_id"]
        out.records(found, columns, "audit log")

    run(ctx, work)


@audit.command("verify")
def verify(
    ctx: typer.Context,
    project: Annotated[str, typer.Option("--project", "-p", help="The project's id.")],
) -> None:
    """Check every hash chain of a project's log; exits 1 if it was altered."""

    async def work(client: AsyncClient, out: Output) -> bool:
        result = await client.audit.verify(project)
        out.record(result)
        return result.intact

    if not run(ctx, work):
        raise typer.Exit(EXIT_FAILED)
