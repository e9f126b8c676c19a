"""Pascal VOC detection: an XML file an image, and the images of each split.

Layout:

    Annotations/<item id>.xml            every image item
    ImageSets/Main/<split>.txt           the split's item ids, one a line
    ImageSets/Main/<class>_<split>.txt   every image of the split and 1 when it
                                         has a label of the class, -1 when not
    JPEGImages/<item id>.<ext>           with include_media: the stored bytes
    labelmap.txt                         the version's classes, one a line

Every split of the version has its lists, empty when no item is in it. The
images keep their stored format (a PNG stays a PNG under JPEGImages); each
XML file's `filename` names its image. `size/depth` is always 3.

Each bounding box is an `object` with its class as `name`, pose Unspecified,
truncated and difficult 0, and a `bndbox` of xmin = x, ymin = y,
xmax = x + width and ymax = y + height, in LabelMesh's pixel coordinates
(0 at the image's top-left corner, without the devkit's 1-based shift). They
are not rounded, so that they read back as stored: a whole number is written
as an integer (what readers that parse integers expect), any other as the
shortest decimal that reads back to the same float, which VOC readers accept.

VOC detection holds boxes only: polygons, masks and keypoints are left out,
not turned into boxes. Classifications, like every other label, count only in
the per-class image lists. In those lists' file names a class's whitespace
and slashes become `_`; a class whose name is then taken by another is left
out of them. Labels of a class that is not one of the version's are left out.
VOC is an image format: text and audio items are skipped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from contextlib import ExitStack
from pathlib import Path

from labelmesh.dataset.exports.base import (
    ExportContext,
    ExportFailed,
    Media,
    media_name,
    split_of,
    stem,
)
from labelmesh.v1.dataset_service_pb2 import DatasetItem
from labelmesh.v1.events_pb2 import DataType
from labelmesh.v1.geometry_pb2 import Label

IMAGES_FOLDER = "JPEGImages"
IMAGE_SETS = "ImageSets/Main"
LABELMAP = "labelmap.txt"
# Lines are buffered this many characters at a time.
_BUFFER_CHARS = 1024 * 1024
# Per-class lists are written in one pass over a split per this many classes.
_OPEN_LISTS = 64
_UNSAFE_IN_NAMES = re.compile(r"[\s/\\]")


class Writer:
    def __init__(self, context: ExportContext) -> None:
        self._context = context
        self._class_index = {name: n for n, name in enumerate(context.classes)}
        self._splits: dict[str, _SplitLists] = {}
        for split in context.splits:
            self._split(split)

    def add(self, item: DatasetItem, image: Media | None) -> None:
        if item.data_type != DataType.DATA_TYPE_IMAGE:
            return
        if image is None:
            raise ExportFailed(f"item {item.item_id}: VOC needs the image, and none was read")
        name, image_stem = media_name(item), stem(item)
        self._context.archive.write(f"Annotations/{image_stem}.xml", self._xml(item, name, image))
        present = sorted(
            {self._class_index[c] for c in map(_class_of, item.labels) if c in self._class_index}
        )
        self._split(split_of(item)).add(image_stem, present)
        if self._context.include_media:
            self._context.archive.write(f"{IMAGES_FOLDER}/{name}", image.data)

    def finish(self) -> None:
        archive = self._context.archive
        classes = self._context.classes
        archive.write(LABELMAP, "".join(f"{name}\n" for name in classes).encode())
        class_files = _class_file_names(classes)
        splits = self._context.splits
        for split in [*splits, *sorted(set(self._splits) - set(splits))]:
            lists = self._splits[split]
            archive.write_file(f"{IMAGE_SETS}/{split}.txt", lists.image_list())
            for index, path in lists.class_lists(class_files):
                archive.write_file(f"{IMAGE_SETS}/{class_files[index]}_{split}.txt", path)

    def _split(self, split: str) -> _SplitLists:
        lists = self._splits.get(split)
        if lists is None:
            lists = self._splits[split] = _SplitLists(self._context.workdir, split)
        return lists

    def _xml(self, item: DatasetItem, name: str, image: Media) -> bytes:
        root = ET.Element("annotation")
        _text(root, "folder", IMAGES_FOLDER)
        _text(root, "filename", name)
        size = ET.SubElement(root, "size")
        _text(size, "width", str(image.width))
        _text(size, "height", str(image.height))
        _text(size, "depth", "3")
        _text(root, "segmented", "0")
        for label in item.labels:
            if not label.HasField("bounding_box"):
                continue
            box = label.bounding_box
            if box.label not in self._class_index:
                continue
            element = ET.SubElement(root, "object")
            _text(element, "name", box.label)
            _text(element, "pose", "Unspecified")
            _text(element, "truncated", "0")
            _text(element, "difficult", "0")
            corners = ET.SubElement(element, "bndbox")
            _text(corners, "xmin", _number(box.x))
            _text(corners, "ymin", _number(box.y))
            _text(corners, "xmax", _number(box.x + box.width))
            _text(corners, "ymax", _number(box.y + box.height))
        ET.indent(root)
        # Serialising to str and encoding once is several times faster than
        # ElementTree's own utf-8 output, which resets its encoder at every write.
        xml: str = ET.tostring(root, encoding="unicode")
        return (xml + "\n").encode()


def _text(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _class_of(label: Label) -> str:
    """The label's class; "" for a kind with none, such as a transcription."""
    kind = label.WhichOneof("kind")
    return str(getattr(getattr(label, kind), "label", "")) if kind else ""


def _class_file_names(classes: list[str]) -> dict[int, str]:
    """The file name part of each class's lists, by class index."""
    names: dict[int, str] = {}
    taken: set[str] = set()
    for index, name in enumerate(classes):
        safe = _UNSAFE_IN_NAMES.sub("_", name)
        if safe not in taken:
            taken.add(safe)
            names[index] = safe
    return names


class _SplitLists:
    """A split's image ids, and the classes each image has, in files of the working
    directory. Lines are appended a buffer at a time so that no file stays open
    between items: the protocol has no close for a writer whose export fails."""

    def __init__(self, workdir: Path, split: str) -> None:
        self._workdir = workdir
        self._split = split
        self._images = _Lines(workdir / f"{split}.txt")
        # "<stem> <class index> <class index> ...", one line an image.
        self._present = _Lines(workdir / f"{split}.classes")

    def add(self, image_stem: str, present: list[int]) -> None:
        self._images.append(f"{image_stem}\n")
        self._present.append(" ".join([image_stem, *map(str, present)]) + "\n")

    def image_list(self) -> Path:
        return self._images.close()

    def class_lists(self, class_files: dict[int, str]) -> list[tuple[int, Path]]:
        """Write the per-class lists of the split; returns each with its class index."""
        present_path = self._present.close()
        indexes = sorted(class_files)
        written: list[tuple[int, Path]] = []
        for start in range(0, len(indexes), _OPEN_LISTS):
            batch = indexes[start : start + _OPEN_LISTS]
            paths = [self._workdir / f"class-{index}_{self._split}.txt" for index in batch]
            with ExitStack() as stack, present_path.open(encoding="utf-8") as present:
                outs = [stack.enter_context(p.open("w", encoding="utf-8")) for p in paths]
                for line in present:
                    image_stem, *has = line.split()
                    found = set(map(int, has))
                    for index, out in zip(batch, outs, strict=True):
                        # The devkit's own layout: the flag right-aligned in two columns.
                        out.write(f"{image_stem} {1 if index in found else -1:2d}\n")
            written += zip(batch, paths, strict=True)
        return written


class _Lines:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._path.write_text("", encoding="utf-8")
        self._buffer: list[str] = []
        self._buffered = 0

    def append(self, line: str) -> None:
        self._buffer.append(line)
        self._buffered += len(line)
        if self._buffered >= _BUFFER_CHARS:
            self._flush()

    def close(self) -> Path:
        """Write what is buffered and return the file's path."""
        self._flush()
        return self._path

    def _flush(self) -> None:
        with self._path.open("a", encoding="utf-8") as file:
            file.write("".join(self._buffer))
        self._buffer.clear()
        self._buffered = 0
