"""VerifyProject against a real SecantusDB whose audit collections were changed
behind the service's back, one kind of tampering per project."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from prometheus_client import CollectorRegistry
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.audit.adapters.repository import (
    CHECKPOINTS,
    ENTRIES,
    HEADS,
    PROJECTS,
    MongoAuditRepository,
)
from labelmesh.audit.domain import entry_hash
from labelmesh.audit.metrics import AuditMetrics
from labelmesh.audit.usecases import Audit
from labelmesh.core.envelopes import encode, new_envelope, user_actor
from labelmesh.core.mongo import Document, MongoUnitOfWork, connect, ensure_core_indexes
from labelmesh.core.topics import Topics
from labelmesh.v1.events_pb2 import Envelope, ItemIngested

pytestmark = pytest.mark.integration

Tamper = Callable[[AsyncDatabase[Document], str], Awaitable[None]]
Logged = tuple[Audit, AsyncDatabase[Document], MongoUnitOfWork]


@pytest.fixture
async def logged(mongo_uri: str, unique_name: str) -> AsyncIterator[Logged]:
    client = connect(mongo_uri)
    # Named as the service names its database, for the verify command.
    db = client[f"{unique_name}_audit"]
    await ensure_core_indexes(db)
    repository = MongoAuditRepository(db)
    await repository.ensure_indexes()
    audit = Audit(repository, AuditMetrics(CollectorRegistry()))
    try:
        yield audit, db, MongoUnitOfWork(client, db, Topics(unique_name))
    finally:
        await client.drop_database(db.name)
        await client.close()


def event(project_id: str, item: int, text: str) -> Envelope:
    return new_envelope(
        ItemIngested(text=text),
        producer="ingest",
        actor=user_actor("alice"),
        project_id=project_id,
        item_id=f"{project_id}-item-{item}",
    )


async def record(audit: Audit, uow: MongoUnitOfWork, events: list[Envelope]) -> None:
    async with uow.begin() as tx:
        await audit.record(tx, events)


async def history(audit: Audit, uow: MongoUnitOfWork, project_id: str) -> None:
    """Three items of three entries, a checkpoint, two more entries (one on a
    new item), a second checkpoint, and one entry after it."""
    await record(audit, uow, [event(project_id, i, f"{n}") for n in range(3) for i in range(3)])
    assert await audit.checkpoint(uow, project_id) is not None
    await record(audit, uow, [event(project_id, 0, "late"), event(project_id, 3, "new")])
    assert await audit.checkpoint(uow, project_id) is not None
    await record(audit, uow, [event(project_id, 1, "last")])


def chain(project_id: str, item: int) -> str:
    return f"{project_id}-item-{item}"


async def change_an_entry(db: AsyncDatabase[Document], p: str) -> None:
    forged = encode(event(p, 1, "forged"))
    await db[ENTRIES].update_one(
        {"chain": chain(p, 1), "sequence": 1}, {"$set": {"envelope": forged}}
    )


async def remove_an_entry(db: AsyncDatabase[Document], p: str) -> None:
    await db[ENTRIES].delete_one({"chain": chain(p, 1), "sequence": 1})


async def reorder_entries(db: AsyncDatabase[Document], p: str) -> None:
    entries = db[ENTRIES]
    key = chain(p, 1)
    await entries.update_one({"chain": key, "sequence": 0}, {"$set": {"sequence": -1}})
    await entries.update_one({"chain": key, "sequence": 1}, {"$set": {"sequence": 0}})
    await entries.update_one({"chain": key, "sequence": -1}, {"$set": {"sequence": 1}})


async def insert_an_entry(db: AsyncDatabase[Document], p: str) -> None:
    """A forger who knows the hash rule appends a well-linked entry to a chain."""
    last = await db[ENTRIES].find_one({"chain": chain(p, 2), "sequence": 2})
    assert last is not None
    raw = encode(event(p, 2, "inserted"))
    forged = {
        **last,
        "_id": "forged-event",
        "sequence": 3,
        "previous_hash": last["hash"],
        "hash": entry_hash(last["hash"], raw),
        "envelope": raw,
    }
    await db[ENTRIES].insert_one(forged)


async def remove_a_chain(db: AsyncDatabase[Document], p: str) -> None:
    await db[ENTRIES].delete_many({"chain": chain(p, 2)})
    await db[HEADS].delete_one({"_id": chain(p, 2)})


async def delete_the_latest_checkpoint(db: AsyncDatabase[Document], p: str) -> None:
    await db[CHECKPOINTS].delete_one({"_id": f"{p}:2"})


async def rewind_checkpoints_and_counter(db: AsyncDatabase[Document], p: str) -> None:
    """The latest checkpoint deleted and the project's counter set back to the older one."""
    older = await db[CHECKPOINTS].find_one({"_id": f"{p}:1"})
    assert older is not None
    await db[CHECKPOINTS].delete_one({"_id": f"{p}:2"})
    await db[PROJECTS].update_one(
        {"_id": p},
        {"$set": {"checkpoints": 1, "checkpoint_hash": older["hash"], "entries": older["entries"]}},
    )


TAMPERINGS: dict[str, tuple[Tamper, str]] = {
    "changed": (change_an_entry, "broken_link"),
    "removed": (remove_an_entry, "broken_link"),
    "reordered": (reorder_entries, "broken_link"),
    "inserted": (insert_an_entry, "head_mismatch"),
    "chain-removed": (remove_a_chain, "checkpoint_mismatch"),
    "checkpoint-deleted": (delete_the_latest_checkpoint, "checkpoint_rewound"),
    "rewound": (rewind_checkpoints_and_counter, "checkpoint_rewound"),
}


async def test_verification_finds_each_kind_of_tampering_and_passes_an_untouched_project(
    logged: Logged,
) -> None:
    audit, db, uow = logged
    for project_id in ["untouched", *TAMPERINGS]:
        await history(audit, uow, project_id)
    untouched = await audit.verify_project("untouched")
    assert untouched.intact, untouched.problems
    assert (untouched.chains, untouched.entries, untouched.checkpoints) == (4, 12, 2)

    for project_id, (tamper, _) in TAMPERINGS.items():
        assert (await audit.verify_project(project_id)).intact
        await tamper(db, project_id)
    for project_id, (_, kind) in TAMPERINGS.items():
        result = await audit.verify_project(project_id)
        kinds = {p.kind for p in result.problems}
        assert not result.intact and kind in kinds, (project_id, result.problems)
        if kind in ("broken_link", "head_mismatch"):
            assert any(p.chain.startswith(project_id) for p in result.problems), project_id
    assert (await audit.verify_project("untouched")).intact


async def verify_command(mongo_uri: str, database: str, project_id: str) -> tuple[int, str]:
    environment = {
        **os.environ,
        "LABELMESH_MONGO_URI": mongo_uri,
        "LABELMESH_MONGO_DATABASE": database,
        "COLUMNS": "200",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "labelmesh.audit",
        "verify",
        "--project",
        project_id,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_the_verify_command_reports_and_exits_non_zero_on_tampering(
    logged: Logged, mongo_uri: str, unique_name: str
) -> None:
    audit, db, uow = logged
    for project_id in ("kept", "forged"):
        await history(audit, uow, project_id)
    await remove_a_chain(db, "forged")
    code, output = await verify_command(mongo_uri, unique_name, "kept")
    assert code == 0 and "intact" in output and "4 chains, 12 entries, 2 checkpoints" in output
    code, output = await verify_command(mongo_uri, unique_name, "forged")
    assert code == 1 and "tampered" in output and "checkpoint_mismatch" in output
    code, output = await verify_command(mongo_uri, unique_name, "never-seen")
    assert code == 1 and "not found" in output
