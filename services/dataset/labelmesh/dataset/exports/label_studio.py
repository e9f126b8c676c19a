"""Label Studio JSON exports: the tasks a Label Studio project imports, with
their annotations, and a labelling config to create that project with.

Layout:

    tasks.json          a JSON array of tasks, one per item, one task a line
    label_config.xml    the labelling config the tasks' results fit
    media/<id><ext>     the images and recordings, when the export includes media

Every split is in the one `tasks.json`; a task's split is `data.split`. A task:

    {"id": 1,
     "data": {"image": "media/img-0.png", "labelmesh_item_id": "img-0",
              "labelmesh_media_key": "projects/...", "split": "train",
              "metadata": {"source": "camera-1"}},
     "annotations": [{"result": [{"id": "1_1", "from_name": "box",
         "to_name": "image", "type": "rectanglelabels",
         "original_width": 64, "original_height": 48,
         "value": {"x": 6.25, "y": 12.5, "width": 31.25, "height": 25.0,
                   "rotation": 0, "rectanglelabels": ["cat"]}}, ...]}]}

Task ids count from 1 in export order. `data.image` and `data.audio` are the
media's path in the archive when the export includes media, and otherwise its
object-store key, which Label Studio resolves once the bucket is connected as
its source storage. `data.text` is a text item's text.

Results follow Label Studio's result format, one annotation per task:

- image: `rectanglelabels` and `polygonlabels` with coordinates in percent of
  the image's width and height; masks as `brushlabels` in Label Studio's brush
  RLE (see `brush_rle`); keypoints as one `keypointlabels` point each, labelled
  with the keypoint's name, `hidden` when its visibility is 0;
- text: `labels` spans with character offsets, end exclusive, and their text;
- audio: `labels` time segments and `textarea` transcriptions, with `start`
  and `end` in seconds when the transcription is timed;
- every data type: one `choices` result holding the item's classifications.

The config has one object tag for each data type in the export and, under it,
one control tag for each kind of label found (when no label is, the data
type's usual one: rectangles, entity spans, time segments). Every class tag
lists the version's classes in their order; keypoint labels are the names of
the version's skeletons, with the `model_index` Label Studio's COCO export
orders keypoints by. An export of no item has an empty `<View/>`.

Left out, as Label Studio has no place for them: which instance a keypoint
belongs to and that instance's class, transcriptions' word timings, label
confidences and sources. Labels of a kind the item's data type does not take
(a time segment on an image) are left out, and items other than images, text
and audio are skipped.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from typing import Any

from labelmesh.dataset.exports.base import (
    ExportContext,
    ExportFailed,
    Media,
    media_name,
    split_of,
)
from labelmesh.v1.dataset_service_pb2 import DatasetItem
from labelmesh.v1.events_pb2 import DataType
from labelmesh.v1.geometry_pb2 import Label, Mask

TASKS = "tasks.json"
CONFIG = "label_config.xml"
MEDIA_DIR = "media"

IMAGE = "image"
TEXT = "text"
AUDIO = "audio"
OBJECTS = {
    DataType.DATA_TYPE_IMAGE: IMAGE,
    DataType.DATA_TYPE_TEXT: TEXT,
    DataType.DATA_TYPE_AUDIO: AUDIO,
}

# Control tag names (a result's `from_name`) per label kind and object.
BOX = "box"
POLYGON = "polygon"
MASK = "mask"
KEYPOINT = "keypoint"
ENTITY = "entity"
SEGMENT = "segment"
TRANSCRIPTION = "transcription"


def class_control(object_name: str) -> str:
    return f"{object_name}_class"


# The control tags each object takes, in config order, with their tag names.
CONTROLS: dict[str, list[tuple[str, str]]] = {
    IMAGE: [
        (BOX, "RectangleLabels"),
        (POLYGON, "PolygonLabels"),
        (MASK, "BrushLabels"),
        (KEYPOINT, "KeyPointLabels"),
        (class_control(IMAGE), "Choices"),
    ],
    TEXT: [(ENTITY, "Labels"), (class_control(TEXT), "Choices")],
    AUDIO: [
        (SEGMENT, "Labels"),
        (TRANSCRIPTION, "TextArea"),
        (class_control(AUDIO), "Choices"),
    ],
}
OBJECT_TAGS = {IMAGE: "Image", TEXT: "Text", AUDIO: "Audio"}
# The control of a config whose object has no label at all.
DEFAULT_CONTROL = {IMAGE: BOX, TEXT: ENTITY, AUDIO: SEGMENT}

# The label kinds each object takes; other kinds are left out.
KINDS = {
    IMAGE: frozenset({"classification", "bounding_box", "polygon", "mask", "keypoints"}),
    TEXT: frozenset({"classification", "text_span"}),
    AUDIO: frozenset({"classification", "time_segment", "transcription"}),
}
IMAGE_SIZED = frozenset({"bounding_box", "polygon", "mask", "keypoints"})

# The size of a drawn keypoint, as Label Studio's own COCO import gives it.
KEYPOINT_SIZE = 1.0


@dataclass
class Seen:
    """What the config must cover: small sets, whatever the number of items."""

    objects: set[str] = field(default_factory=set)
    controls: set[str] = field(default_factory=set)
    unknown_classes: set[str] = field(default_factory=set)
    unknown_keypoints: set[str] = field(default_factory=set)
    multiple_choices: set[str] = field(default_factory=set)
    timed_transcriptions: bool = False


class Writer:
    def __init__(self, context: ExportContext) -> None:
        self._context = context
        self._classes = context.classes
        self._class_set = frozenset(self._classes)
        self._keypoints = list(
            dict.fromkeys(name for s in context.version.skeletons for name in s.keypoints)
        )
        self._keypoint_set = frozenset(self._keypoints)
        self._seen = Seen()
        self._tasks = 0
        self._path = context.workdir / TASKS
        self._file = self._path.open("w", encoding="utf-8", newline="\n")
        self._file.write("[")

    def add(self, item: DatasetItem, image: Media | None) -> None:
        object_name = OBJECTS.get(item.data_type)
        if object_name is None:
            return
        self._tasks += 1
        task_id = self._tasks
        self._seen.objects.add(object_name)
        try:
            results = self._results(item, object_name, image, task_id)
        except ExportFailed:
            # The export stops here and finish() is never called.
            self._file.close()
            raise
        task = {
            "id": task_id,
            "data": self._data(item, object_name, image),
            "annotations": [{"result": results}],
        }
        self._file.write("\n" if task_id == 1 else ",\n")
        self._file.write(json.dumps(task, ensure_ascii=False, separators=(",", ":")))

    def finish(self) -> None:
        self._file.write("\n]\n")
        self._file.close()
        self._context.archive.write_file(TASKS, self._path)
        config = label_config(
            self._seen,
            self._classes + sorted(self._seen.unknown_classes),
            self._keypoints + sorted(self._seen.unknown_keypoints),
        )
        self._context.archive.write(CONFIG, config.encode("utf-8"))

    def _data(self, item: DatasetItem, object_name: str, media: Media | None) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if object_name == TEXT:
            data[TEXT] = item.text
        elif media is not None and self._context.include_media:
            name = f"{MEDIA_DIR}/{media_name(item)}"
            self._context.archive.write(name, media.data)
            data[object_name] = name
        else:
            # Media kept in its bucket is named as Label Studio's cloud storage names it.
            data[object_name] = item.media_uri or item.media_key
        data["labelmesh_item_id"] = item.item_id
        if item.media_key:
            data["labelmesh_media_key"] = item.media_key
        data["split"] = split_of(item)
        data["metadata"] = dict(sorted(item.metadata.items()))
        return data

    def _results(
        self, item: DatasetItem, object_name: str, image: Media | None, task_id: int
    ) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        choices: list[str] = []
        kinds = KINDS[object_name]
        for label in item.labels:
            kind = label.WhichOneof("kind")
            if kind not in kinds:
                continue
            if kind == "classification":
                choices.append(self._class(label.classification.label))
                continue
            if kind in IMAGE_SIZED and image is None:
                raise ExportFailed(
                    f"item {item.item_id}: its image was not given, and Label Studio "
                    f"gives {kind} coordinates in percent of the image's size"
                )
            for from_name, kind_type, value in self._values(item, label, kind, image):
                self._seen.controls.add(from_name)
                result: dict[str, Any] = {
                    "id": f"{task_id}_{len(results) + 1}",
                    "from_name": from_name,
                    "to_name": object_name,
                    "type": kind_type,
                }
                if image is not None and object_name == IMAGE:
                    result["original_width"] = image.width
                    result["original_height"] = image.height
                result["value"] = value
                results.append(result)
        if choices:
            from_name = class_control(object_name)
            self._seen.controls.add(from_name)
            if len(choices) > 1:
                self._seen.multiple_choices.add(from_name)
            results.append(
                {
                    "id": f"{task_id}_{len(results) + 1}",
                    "from_name": from_name,
                    "to_name": object_name,
                    "type": "choices",
                    "value": {"choices": choices},
                }
            )
        return results

    def _values(
        self, item: DatasetItem, label: Label, kind: str, image: Media | None
    ) -> list[tuple[str, str, dict[str, Any]]]:
        """The label's results as (from_name, type, value); a keypoint set gives one per point."""
        if kind == "text_span":
            span = label.text_span
            value = {"start": span.start, "end": span.end, "text": span.text}
            return [(ENTITY, "labels", value | {"labels": [self._class(span.label)]})]
        if kind == "time_segment":
            segment = label.time_segment
            value = {"start": segment.start_seconds, "end": segment.end_seconds}
            return [(SEGMENT, "labels", value | {"labels": [self._class(segment.label)]})]
        if kind == "transcription":
            transcription = label.transcription
            value = {}
            if transcription.end_seconds > transcription.start_seconds:
                self._seen.timed_transcriptions = True
                value = {"start": transcription.start_seconds, "end": transcription.end_seconds}
            return [(TRANSCRIPTION, "textarea", value | {"text": [transcription.text]})]
        assert image is not None
        x_scale, y_scale = 100 / image.width, 100 / image.height
        if kind == "bounding_box":
            box = label.bounding_box
            value = {
                "x": box.x * x_scale,
                "y": box.y * y_scale,
                "width": box.width * x_scale,
                "height": box.height * y_scale,
                "rotation": 0,
                "rectanglelabels": [self._class(box.label)],
            }
            return [(BOX, "rectanglelabels", value)]
        if kind == "polygon":
            polygon = label.polygon
            points = [[p.x * x_scale, p.y * y_scale] for p in polygon.points]
            value = {
                "points": points,
                "closed": True,
                "polygonlabels": [self._class(polygon.label)],
            }
            return [(POLYGON, "polygonlabels", value)]
        if kind == "mask":
            mask = label.mask
            if (mask.width, mask.height) != (image.width, image.height):
                raise ExportFailed(
                    f"item {item.item_id}: a {mask.width}x{mask.height} mask does not fit "
                    f"its {image.width}x{image.height} image"
                )
            try:
                rle = brush_rle(mask)
            except ValueError as error:
                raise ExportFailed(f"item {item.item_id}: {error}") from error
            value = {"format": "rle", "rle": rle, "brushlabels": [self._class(mask.label)]}
            return [(MASK, "brushlabels", value)]
        values = []
        for point in label.keypoints.points:
            value = {
                "x": point.position.x * x_scale,
                "y": point.position.y * y_scale,
                "width": KEYPOINT_SIZE,
                "keypointlabels": [self._keypoint(point.name)],
            }
            if point.visibility <= 0:
                value["hidden"] = True
            values.append((KEYPOINT, "keypointlabels", value))
        return values

    def _class(self, name: str) -> str:
        if name not in self._class_set:
            self._seen.unknown_classes.add(name)
        return name

    def _keypoint(self, name: str) -> str:
        if name not in self._keypoint_set:
            self._seen.unknown_keypoints.add(name)
        return name


# Label Studio's brush RLE is thi.ng's rle-pack over the mask's RGBA bytes:
# a 32-bit count of values, the word size less one in 5 bits, four run-length
# field sizes less one in 4 bits each, then runs of a flag bit (1: repeat one
# word), a 2-bit size class, the run length less one, and the word.
# https://github.com/thi-ng/umbrella/blob/develop/packages/rle-pack/src/index.ts
_RUN_BITS = (3, 4, 8, 16)
_RLE_HEADER = f"{8 - 1:05b}" + "".join(f"{bits - 1:04b}" for bits in _RUN_BITS)
_MAX_RUN = 1 << _RUN_BITS[-1]
_INSIDE = 255


def brush_rle(mask: Mask) -> list[int]:
    """The mask as Label Studio's brush RLE bytes: every RGBA channel of a
    pixel inside the mask is 255, of one outside it 0."""
    pixels = mask.width * mask.height
    if sum(mask.counts) != pixels:
        raise ValueError(
            f"its mask's run lengths sum to {sum(mask.counts)}, not {mask.width}x{mask.height}"
        )
    if 4 * pixels >= 1 << 32:
        raise ValueError(f"a {mask.width}x{mask.height} mask is too large for a brush")
    parts = [f"{4 * pixels:032b}", _RLE_HEADER]
    word = 0
    for count in mask.counts:
        values = 4 * count
        while values:
            run = min(values, _MAX_RUN)
            parts.append(_repeat(run, word))
            values -= run
        word ^= _INSIDE
    bits = "".join(parts)
    bits += "0" * (-len(bits) % 8)
    return list(int(bits, 2).to_bytes(len(bits) // 8, "big"))


def _repeat(run: int, word: int) -> str:
    size = 0
    while run - 1 >= 1 << _RUN_BITS[size]:
        size += 1
    return f"1{size:02b}{run - 1:0{_RUN_BITS[size]}b}{word:08b}"


def label_config(seen: Seen, classes: list[str], keypoints: list[str]) -> str:
    """The labelling config for what the export holds."""
    view = ElementTree.Element("View")
    for object_name in (IMAGE, TEXT, AUDIO):
        if object_name not in seen.objects:
            continue
        ElementTree.SubElement(
            view, OBJECT_TAGS[object_name], name=object_name, value=f"${object_name}"
        )
        used = seen.controls & {name for name, _ in CONTROLS[object_name]}
        for name, tag in CONTROLS[object_name]:
            if name in used or (not used and name == DEFAULT_CONTROL[object_name]):
                _control(view, seen, object_name, name, tag, classes, keypoints)
    ElementTree.indent(view)
    return ElementTree.tostring(view, encoding="unicode") + "\n"


def _control(
    view: ElementTree.Element,
    seen: Seen,
    object_name: str,
    name: str,
    tag: str,
    classes: list[str],
    keypoints: list[str],
) -> None:
    control = ElementTree.SubElement(view, tag, name=name, toName=object_name)
    if tag == "TextArea":
        control.set("editable", "true")
        if seen.timed_transcriptions:
            control.set("perRegion", "true")
    elif tag == "Choices":
        control.set("choice", "multiple" if name in seen.multiple_choices else "single")
        for value in classes:
            ElementTree.SubElement(control, "Choice", value=value)
    elif tag == "KeyPointLabels":
        for index, value in enumerate(keypoints):
            ElementTree.SubElement(control, "Label", value=value, model_index=str(index))
    else:
        for value in classes:
            ElementTree.SubElement(control, "Label", value=value)
