"""The upload log: one JSON line per record sent, saying what became of it.
A failed record's line holds the record itself, so that `retry_from_log`
can send it again; the newest line of a key is its status."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Literal, Self

from labelmesh.sdk.records import UploadRecord

Status = Literal["stored", "duplicate", "failed"]


@dataclass(frozen=True)
class LogEntry:
    key: str
    status: Status
    item_id: str = ""
    error: str = ""
    record: UploadRecord | None = None

    def to_json(self) -> str:
        body: dict[str, object] = {"key": self.key, "status": self.status}
        if self.item_id:
            body["item_id"] = self.item_id
        if self.error:
            body["error"] = self.error
        if self.record is not None:
            body["record"] = self.record.to_json()
        return json.dumps(body, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> LogEntry:
        body = json.loads(line)
        record = body.get("record")
        return cls(
            key=body["key"],
            status=body["status"],
            item_id=body.get("item_id", ""),
            error=body.get("error", ""),
            record=UploadRecord.from_json(record) if record else None,
        )


def read_log(path: str | Path) -> Iterator[LogEntry]:
    """Every entry, oldest first; a last line cut short by a crash is skipped."""
    with Path(path).open(encoding="utf-8") as handle:
        for line in handle:
            if not line.endswith("\n"):
                return
            yield LogEntry.from_json(line)


def latest(path: str | Path) -> dict[str, LogEntry]:
    """Each key's newest entry."""
    return {entry.key: entry for entry in read_log(path)}


class UploadLog:
    """Appends entries; each batch's entries are flushed together."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._handle: IO[str] | None = None

    def __enter__(self) -> Self:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self.path.open("a", encoding="utf-8")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._handle is not None:
            self._handle.close()

    def write(self, entries: list[LogEntry]) -> None:
        if self._handle is None:
            raise RuntimeError("the upload log is not open")
        self._handle.write("".join(entry.to_json() + "\n" for entry in entries))
        self._handle.flush()
