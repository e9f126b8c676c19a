"""JSONL, the canonical export: one item per line, with its lineage."""

from __future__ import annotations

from labelmesh.dataset.exports.base import ExportContext, Image
from labelmesh.dataset.views import jsonl_line
from labelmesh.v1.dataset_service_pb2 import DatasetItem

FILENAME = "dataset.jsonl"


class Writer:
    def __init__(self, context: ExportContext) -> None:
        self._context = context
        self._path = context.workdir / FILENAME
        self._file = self._path.open("w", encoding="utf-8")

    def add(self, item: DatasetItem, image: Image | None) -> None:
        self._file.write(jsonl_line(item))

    def finish(self) -> None:
        self._file.close()
        self._context.archive.write_file(FILENAME, self._path)
