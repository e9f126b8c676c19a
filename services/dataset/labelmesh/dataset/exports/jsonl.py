"""JSONL, the canonical export: one item per line, with its lineage. The
lines are the ones the version stored when it was made."""

from __future__ import annotations

from collections.abc import Sequence

from labelmesh.dataset.exports.base import ExportContext

FILENAME = "dataset.jsonl"


class Writer:
    def __init__(self, context: ExportContext) -> None:
        self._context = context
        self._path = context.workdir / FILENAME
        self._file = self._path.open("wb")

    def add_lines(self, lines: Sequence[bytes]) -> None:
        self._file.writelines(lines)

    def finish(self) -> None:
        self._file.close()
        self._context.archive.write_file(FILENAME, self._path)
