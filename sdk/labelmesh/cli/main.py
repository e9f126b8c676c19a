"""The `labelmesh` command: `labelmesh --help` lists everything."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from labelmesh.cli import config
from labelmesh.cli.audit import audit
from labelmesh.cli.browse import items, models, projects, tasks
from labelmesh.cli.buckets import import_s3, list_buckets
from labelmesh.cli.context import run
from labelmesh.cli.datasets import datasets, export
from labelmesh.cli.imports import app as imports
from labelmesh.cli.output import Output
from labelmesh.sdk import AsyncClient, Endpoints

app = typer.Typer(
    help="LabelMesh from the command line: import data, browse it, export datasets, "
    "query the audit log. Exit codes: 0 done, 1 failed, 2 bad usage, 3 partly failed.",
    no_args_is_help=True,
)
app.add_typer(projects, name="projects")
app.add_typer(imports, name="import")
app.add_typer(items, name="items")
app.add_typer(tasks, name="tasks")
app.add_typer(datasets, name="datasets")
app.add_typer(audit, name="audit")
app.add_typer(models, name="models")
app.command("export")(export)
app.command("buckets")(list_buckets)
imports.command("s3")(import_s3)


@app.callback()
def options(
    ctx: typer.Context,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print JSON (one object a line) for scripts.")
    ] = False,
) -> None:
    ctx.obj = Output(json_output, Console(), Console(stderr=True))


@app.command()
def login(
    ctx: typer.Context,
    api_key: Annotated[
        str, typer.Option(prompt=True, hide_input=True, help="An API key or access token.")
    ],
    host: Annotated[str, typer.Option(help="One host, the services at their usual ports.")] = "",
    gateway: Annotated[str, typer.Option(help="One URL that routes /api/<service>/.")] = "",
    endpoints: Annotated[str, typer.Option(help="<service>=<url>,... for every service.")] = "",
) -> None:
    """Check a credential against a deployment and remember both."""
    given = (host and f"host:{host}", gateway and f"gateway:{gateway}", endpoints)
    chosen = [spec for spec in given if spec]
    if len(chosen) != 1:
        raise typer.BadParameter("give exactly one of --host, --gateway and --endpoints")
    try:
        where = Endpoints.parse(chosen[0])
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc

    async def work(client: AsyncClient, out: Output) -> None:
        principal = await client.access.whoami()
        path = config.save(config.Login(where, api_key))
        out.note(f"logged in as {principal.model_dump().get('subject', '?')}; saved to {path}")
        out.record(principal)

    run(ctx, work, config.Login(where, api_key))


def main() -> None:
    app()
