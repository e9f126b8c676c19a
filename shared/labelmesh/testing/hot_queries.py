"""How much of a collection a query reads, from the server's own explain
(executionStats), for contract tests that a hot query stays answered by an
index as the collection grows: measure at 1,000 documents, grow the
collections to 20,000, measure again, and require the same few documents.
Twenty times the documents shows any scan plainly; a larger size only makes
the suite slower (seeding and dropping 100,000 documents a collection took
most of its time)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pymongo import monitoring
from pymongo.asynchronous.collection import AsyncCollection

from labelmesh.core.mongo import Document

T = TypeVar("T")

# The sizes the contract tests compare.
SMALL, LARGE = 1_000, 20_000
# Documents written per insert while seeding.
SEED_BATCH = 5_000


@dataclass(frozen=True)
class Examined:
    """Index keys and documents one execution of a query went through."""

    keys: int
    docs: int


@dataclass
class SentCommands(monitoring.CommandListener):
    """The commands a client sent, to explain the finds a repository really makes."""

    sent: list[dict[str, Any]] = field(default_factory=list)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def named(self, name: str) -> list[dict[str, Any]]:
        """The commands of one kind ("find", "insert", ...), in the order sent."""
        return [c for c in self.sent if name in c]


async def examined(
    collection: AsyncCollection[Document],
    filter: Mapping[str, Any],
    *,
    sort: Mapping[str, int] | None = None,
    limit: int = 0,
) -> Examined:
    """What the server reads to answer `find(filter).sort(sort).limit(limit)`."""
    find: dict[str, Any] = {"find": collection.name, "filter": dict(filter)}
    if sort:
        find["sort"] = dict(sort)
    if limit:
        find["limit"] = limit
    explained = await collection.database.command("explain", find, verbosity="executionStats")
    stats = explained["executionStats"]
    return Examined(int(stats["totalKeysExamined"]), int(stats["totalDocsExamined"]))


async def seed(
    collection: AsyncCollection[Document],
    document: Callable[[int], Document],
    start: int,
    stop: int,
) -> None:
    """Insert `document(i)` for every i in [start, stop), in bulk."""
    for first in range(start, stop, SEED_BATCH):
        last = min(stop, first + SEED_BATCH)
        await collection.insert_many([document(i) for i in range(first, last)], ordered=False)


async def growth(
    seeds: Sequence[tuple[AsyncCollection[Document], Callable[[int], Document]]],
    measure: Callable[[], Awaitable[T]],
) -> tuple[T, T]:
    """`measure()` with SMALL documents in each seeded collection, then with LARGE."""
    for collection, document in seeds:
        await seed(collection, document, 0, SMALL)
    small = await measure()
    for collection, document in seeds:
        await seed(collection, document, SMALL, LARGE)
    return small, await measure()
