from __future__ import annotations

from pathlib import Path

from labelmesh.sdk.records import UploadRecord
from labelmesh.sdk.upload_log import LogEntry, UploadLog, latest, read_log
from labelmesh.sdk.uploads import failed_records


def test_the_newest_entry_of_a_key_is_its_status(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    record = UploadRecord("a", text="x")
    with UploadLog(path) as log:
        log.write([LogEntry("a", "failed", error="HTTP 500", record=record)])
        log.write([LogEntry("b", "stored", item_id="i-b")])
    with UploadLog(path) as log:
        log.write([LogEntry("a", "duplicate", item_id="i-a")])

    assert {k: e.status for k, e in latest(path).items()} == {"a": "duplicate", "b": "stored"}
    assert failed_records(path) == []


def test_failed_records_come_back_whole_from_the_log(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    record = UploadRecord("a", data=b"bytes", metadata={"k": "v"})
    with UploadLog(path) as log:
        log.write([LogEntry("a", "failed", error="boom", record=record)])

    assert failed_records(path) == [record]


def test_a_line_cut_short_by_a_crash_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    with UploadLog(path) as log:
        log.write([LogEntry("a", "stored", item_id="i")])
    with path.open("a") as handle:
        handle.write('{"key": "b", "sta')

    assert [entry.key for entry in read_log(path)] == ["a"]
