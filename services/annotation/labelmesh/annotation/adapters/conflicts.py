"""Two transactions that both create the same document (a task of one item, a
counter) race like two that change one: the loser is told to run again, and
its second run finds what the winner created."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pymongo.errors import OperationFailure, PyMongoError

from labelmesh.core.mongo import is_duplicate_key

WRITE_CONFLICT = 112


@contextmanager
def created_meanwhile_is_a_conflict(what: str) -> Iterator[None]:
    try:
        yield
    except PyMongoError as exc:
        if not is_duplicate_key(exc):
            raise
        raise OperationFailure(
            f"{what} was created by another writer meanwhile",
            code=WRITE_CONFLICT,
            details={"errorLabels": ["TransientTransactionError"]},
        ) from exc
