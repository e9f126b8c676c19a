"""Which writer each export format has, which projects it fits, and which
media it reads.

Writer modules are imported when an export first uses them: some formats'
libraries (spaCy, pyarrow, TensorFlow records) take seconds to import, and a
service that never exports them should not pay for it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from labelmesh.core.errors import InvalidField
from labelmesh.dataset.exports.base import ExportContext, FormatWriter, LineWriter
from labelmesh.v1.dataset_service_pb2 import ExportFormat
from labelmesh.v1.events_pb2 import DataType

IMAGE = frozenset({DataType.DATA_TYPE_IMAGE})
TEXT = frozenset({DataType.DATA_TYPE_TEXT})
AUDIO = frozenset({DataType.DATA_TYPE_AUDIO})
ANY = frozenset(DataType.values()) - {DataType.DATA_TYPE_UNSPECIFIED}


@dataclass(frozen=True)
class FormatSpec:
    # The module under labelmesh.dataset.exports whose `Writer` writes the format.
    module: str
    data_types: frozenset[int]
    # Whether the writer is given the pixels and size of image items.
    reads_images: bool = False
    # Whether it writes every image's bytes, not only with include_media; a
    # writer that does not is given just the size when ingest recorded it.
    embeds_images: bool = False
    # Whether, with include_media, the writer is given audio items' bytes.
    writes_audio: bool = False
    # Arguments the Writer takes besides the context, such as a YOLO task.
    options: tuple[tuple[str, str], ...] = ()

    def writer(self, context: ExportContext) -> FormatWriter | LineWriter:
        module = importlib.import_module(f"labelmesh.dataset.exports.{self.module}")
        writer: FormatWriter | LineWriter = module.Writer(context, **dict(self.options))
        return writer


FORMATS: dict[int, FormatSpec] = {
    ExportFormat.EXPORT_FORMAT_JSONL: FormatSpec("jsonl", ANY),
    ExportFormat.EXPORT_FORMAT_COCO: FormatSpec("coco", IMAGE, reads_images=True),
    ExportFormat.EXPORT_FORMAT_PASCAL_VOC: FormatSpec("voc", IMAGE, reads_images=True),
    ExportFormat.EXPORT_FORMAT_YOLO_DETECT: FormatSpec(
        "yolo", IMAGE, reads_images=True, embeds_images=True, options=(("task", "detect"),)
    ),
    ExportFormat.EXPORT_FORMAT_YOLO_SEGMENT: FormatSpec(
        "yolo", IMAGE, reads_images=True, embeds_images=True, options=(("task", "segment"),)
    ),
    ExportFormat.EXPORT_FORMAT_YOLO_POSE: FormatSpec(
        "yolo", IMAGE, reads_images=True, embeds_images=True, options=(("task", "pose"),)
    ),
    ExportFormat.EXPORT_FORMAT_YOLO_CLASSIFY: FormatSpec(
        "yolo", IMAGE, reads_images=True, embeds_images=True, options=(("task", "classify"),)
    ),
    ExportFormat.EXPORT_FORMAT_TFRECORD: FormatSpec(
        "tfrecords", IMAGE, reads_images=True, embeds_images=True
    ),
    ExportFormat.EXPORT_FORMAT_CONLL2003: FormatSpec("conll", TEXT),
    ExportFormat.EXPORT_FORMAT_SPACY_DOCBIN: FormatSpec("docbin", TEXT),
    ExportFormat.EXPORT_FORMAT_PARQUET: FormatSpec("parquet", TEXT),
    ExportFormat.EXPORT_FORMAT_NEMO_MANIFEST: FormatSpec("nemo", AUDIO, writes_audio=True),
    ExportFormat.EXPORT_FORMAT_LABEL_STUDIO: FormatSpec(
        "label_studio", ANY, reads_images=True, writes_audio=True
    ),
}


def format_spec(export_format: int, data_type: int) -> FormatSpec:
    """The format's spec, or InvalidField if it is unknown or does not fit the project."""
    spec = FORMATS.get(export_format)
    if spec is None:
        raise InvalidField("format", "is required; one of " + ", ".join(_names(FORMATS)))
    if data_type not in spec.data_types:
        kind = DataType.Name(data_type).removeprefix("DATA_TYPE_").lower()
        raise InvalidField(
            "format",
            f"{ExportFormat.Name(export_format)} does not fit a {kind} project",
        )
    return spec


def _names(formats: dict[int, FormatSpec]) -> list[str]:
    return [ExportFormat.Name(f) for f in formats]
