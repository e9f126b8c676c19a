"""`labelmesh projects|items|tasks|models`: look around a deployment."""

from __future__ import annotations

from typing import Annotated

import typer

from labelmesh.cli.context import first, run
from labelmesh.cli.output import Output
from labelmesh.sdk import AsyncClient

projects = typer.Typer(help="List, show and create projects.", no_args_is_help=True)
items = typer.Typer(help="Browse a project's items.", no_args_is_help=True)
tasks = typer.Typer(help="Take and look at annotation tasks.", no_args_is_help=True)
models = typer.Typer(help="The models AI assist can use.", no_args_is_help=True)

Project = Annotated[str, typer.Option("--project", "-p", help="The project's id.")]
Limit = Annotated[int, typer.Option(help="Show at most this many.")]


@projects.command("list")
def list_projects(ctx: typer.Context, limit: Limit = 100) -> None:
    """The projects you hold a role in."""

    async def work(client: AsyncClient, out: Output) -> None:
        found = [p async for p in first(client.projects.iterate(), limit)]
        out.records(found, ["project_id", "name", "data_type", "classes"], "projects")

    run(ctx, work)


@projects.command("show")
def show_project(ctx: typer.Context, project_id: str) -> None:
    """A project's settings and its queue."""

    async def work(client: AsyncClient, out: Output) -> None:
        project = await client.projects.get(project_id)
        queue = await client.projects.queue(project_id)
        out.record({"project": project.model_dump(), "queue": queue.model_dump()})

    run(ctx, work)


@projects.command("create")
def create_project(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="The project's name.")],
    data_type: Annotated[str, typer.Option("--type", help="TEXT, IMAGE, AUDIO or VIDEO.")],
    label_class: Annotated[list[str], typer.Option("--class", help="A class; repeatable.")],
    auto_accept_threshold: Annotated[float, typer.Option(help="Auto-accept above this.")] = 0.9,
) -> None:
    """Create a project."""

    async def work(client: AsyncClient, out: Output) -> None:
        project = await client.projects.create(
            name, data_type.upper(), label_class, auto_accept_threshold=auto_accept_threshold
        )
        out.record(project)

    run(ctx, work)


@items.command("list")
def list_items(
    ctx: typer.Context,
    project: Project,
    status: Annotated[
        str, typer.Option(help="new, annotated, accepted, in_rereview, flagged")
    ] = "",
    label_class: Annotated[str, typer.Option("--class", help="Has a label of this class.")] = "",
    annotator: Annotated[str, typer.Option(help="Annotated by this person.")] = "",
    source: Annotated[str, typer.Option(help="Came in this way: upload, url, manifest, ...")] = "",
    data_type: Annotated[str, typer.Option("--type", help="e.g. DATA_TYPE_IMAGE")] = "",
    metadata: Annotated[
        list[str] | None, typer.Option("--meta", help="key=value; repeatable.")
    ] = None,
    query: Annotated[str, typer.Option("--query", "-q", help="Words in the text or name.")] = "",
    limit: Limit = 50,
) -> None:
    """A project's items that pass every filter given."""
    pairs = dict(pair.partition("=")[::2] for pair in metadata or [])

    async def work(client: AsyncClient, out: Output) -> None:
        listed = client.items.iterate(
            project,
            status=status,
            label_class=label_class,
            annotator=annotator,
            source=source,
            data_type=data_type,
            metadata=pairs,
            query=query,
        )
        found = [item async for item in first(listed, limit)]
        out.records(found, ["item_id", "data_type", "status", "classes", "source", "filename"])

    run(ctx, work)


@items.command("show")
def show_item(ctx: typer.Context, item_id: str) -> None:
    """One item as ingest keeps it."""

    async def work(client: AsyncClient, out: Output) -> None:
        out.record(await client.items.get(item_id))

    run(ctx, work)


@tasks.command("next")
def next_task(ctx: typer.Context, project: Project) -> None:
    """Take your next task in a project."""

    async def work(client: AsyncClient, out: Output) -> None:
        task = await client.tasks.next(project)
        if task is None:
            out.note("no task waits for you")
            if out.json_mode:
                out.record({})
            return
        out.record(task)

    run(ctx, work)


@tasks.command("show")
def show_task(ctx: typer.Context, task_id: str) -> None:
    """One task."""

    async def work(client: AsyncClient, out: Output) -> None:
        out.record(await client.tasks.get(task_id))

    run(ctx, work)


@models.command("list")
def list_models(ctx: typer.Context) -> None:
    """Every registered model."""

    async def work(client: AsyncClient, out: Output) -> None:
        found = await client.models.list()
        out.records(found, ["model_id", "version", "data_type", "model_task", "labels"], "models")

    run(ctx, work)


@models.command("show")
def show_model(ctx: typer.Context, model_id: str) -> None:
    """One model, with its quality where it is known."""

    async def work(client: AsyncClient, out: Output) -> None:
        out.record(await client.models.get(model_id))

    run(ctx, work)
