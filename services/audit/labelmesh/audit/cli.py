"""The `verify` command: a project's log verified straight from the database,
printed as a Rich report."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from prometheus_client import CollectorRegistry
from rich.console import Console
from rich.table import Table

from labelmesh.audit.adapters.repository import MongoAuditRepository
from labelmesh.audit.domain import ProjectVerification
from labelmesh.audit.metrics import AuditMetrics
from labelmesh.audit.usecases import SERVICE, Audit
from labelmesh.core.config import ConfigError, CoreSettings, load
from labelmesh.core.errors import NotFound
from labelmesh.core.mongo import connect


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m labelmesh.audit verify",
        description="Recompute a project's hash chains and checkpoints; exit 1 if they "
        "were tampered with. Reads LABELMESH_MONGO_URI and LABELMESH_MONGO_DATABASE.",
    )
    parser.add_argument("--project", required=True, help="the project id")
    return parser


async def verify(settings: CoreSettings, project_id: str) -> ProjectVerification:
    client = connect(settings.mongo_uri)
    try:
        db = client[f"{settings.mongo_database}_{SERVICE}"]
        audit = Audit(MongoAuditRepository(db), AuditMetrics(CollectorRegistry()))
        return await audit.verify_project(project_id)
    finally:
        await client.close()


def report(console: Console, project_id: str, result: ProjectVerification) -> None:
    """The verification as a summary line and, if anything is wrong, a table of problems."""
    counts = (
        f"{result.chains:,} chains, {result.entries:,} entries, {result.checkpoints:,} checkpoints"
    )
    if result.intact:
        console.print(f"[green]project {project_id!r} is intact[/green]: {counts}")
    else:
        console.print(f"[red]project {project_id!r} was tampered with[/red]: {counts}")
        table = Table("kind", "chain", "sequence", "detail")
        for problem in result.problems:
            table.add_row(problem.kind, problem.chain, str(problem.sequence), problem.detail)
        console.print(table)
    if result.checkpoint_hash:
        console.print(f"latest checkpoint hash (keep it elsewhere): {result.checkpoint_hash}")


def verify_command(argv: Sequence[str]) -> int:
    """Run `verify`; 0 when intact, 1 when tampered with, 2 on a usage or setting error."""
    args = parser().parse_args(argv)
    console = Console()
    try:
        settings = load(CoreSettings)
    except ConfigError as exc:
        console.print(f"labelmesh: {exc}")
        return 2
    try:
        result = asyncio.run(verify(settings, args.project))
    except NotFound as exc:
        console.print(f"[red]{exc}[/red]")
        return 1
    report(console, args.project, result)
    return 0 if result.intact else 1
