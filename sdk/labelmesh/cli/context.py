"""What every command shares: the output mode, and running a coroutine with a
logged-in client, turning SDK errors into a message and an exit code."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console

from labelmesh.cli import config
from labelmesh.cli.output import EXIT_FAILED, Output
from labelmesh.sdk import AsyncClient, InvalidRequest, LabelMeshError

T = TypeVar("T")


def output_of(ctx: typer.Context) -> Output:
    out = ctx.find_root().obj
    if not isinstance(out, Output):
        return Output(False, Console(), Console(stderr=True))
    return out


def run(
    ctx: typer.Context,
    work: Callable[[AsyncClient, Output], Awaitable[T]],
    login: config.Login | None = None,
) -> T:
    """Run `work` with a client of `login`, by default the saved one; an error
    is printed and exits with EXIT_FAILED."""
    out = output_of(ctx)
    try:
        login = login or config.load()
    except (config.NotLoggedIn, ValueError) as exc:
        out.error(str(exc))
        raise typer.Exit(EXIT_FAILED) from exc

    async def main() -> T:
        async with AsyncClient(login.endpoints, login.credential) as client:
            return await work(client, out)

    try:
        return asyncio.run(main())
    except InvalidRequest as exc:
        for violation in exc.violations:
            out.error(
                f"{violation.field}: {violation.reason}" if violation.field else violation.reason
            )
        raise typer.Exit(EXIT_FAILED) from exc
    except (LabelMeshError, ValueError, OSError) as exc:
        out.error(str(exc))
        raise typer.Exit(EXIT_FAILED) from exc
    except KeyboardInterrupt:
        out.error("interrupted")
        sys.exit(130)


async def first(iterator: AsyncIterator[T], count: int) -> AsyncIterator[T]:
    """At most `count` items of `iterator`, which is not read further."""
    if count <= 0:
        return
    seen = 0
    async for item in iterator:
        yield item
        seen += 1
        if seen == count:
            return
