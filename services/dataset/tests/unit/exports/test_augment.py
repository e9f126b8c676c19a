"""Augmented copies of image items: pixels and labels move together, deterministically."""

from __future__ import annotations

import hashlib
import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import PIL.Image
import pytest
from numpy.typing import NDArray
from PIL.JpegImagePlugin import JpegImageFile

from labelmesh.dataset.exports import augment
from labelmesh.dataset.exports.base import ExportFailed, Media
from labelmesh.testing.exports import mask_rle, png
from labelmesh.v1.dataset_service_pb2 import DatasetItem
from labelmesh.v1.events_pb2 import Augmentation, DataType, KeypointSkeleton
from labelmesh.v1.geometry_pb2 import (
    BoundingBox,
    Classification,
    Keypoint,
    Keypoints,
    Label,
    Mask,
    Point,
    Polygon,
)

Array = NDArray[np.uint8]
RED = (255, 0, 0)


def _encode(pixels: Array, fmt: str = "PNG", **options: int) -> bytes:
    out = io.BytesIO()
    PIL.Image.fromarray(pixels).save(out, format=fmt, **options)
    return out.getvalue()


def _decoded(image: Media) -> Array:
    with PIL.Image.open(io.BytesIO(image.data)) as opened:
        return np.asarray(opened).copy()


def _noise(width: int, height: int, seed: int = 0) -> Array:
    return np.asarray(PIL.Image.open(io.BytesIO(png(width, height, seed))))


def _framed(width: int, height: int, box: tuple[int, int, int, int]) -> Array:
    """A black image with a red rectangle where the box is."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    x, y, w, h = box
    pixels[y : y + h, x : x + w] = RED
    return pixels


def _coded(width: int, height: int) -> Array:
    """Each pixel's red and green are its column and row, to find where a crop took it."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:, :, 0] = np.arange(width)[None, :]
    pixels[:, :, 1] = np.arange(height)[:, None]
    return pixels


def _red_extent(pixels: Array) -> tuple[float, float, float, float]:
    rows, cols = np.nonzero(np.all(pixels == RED, axis=2))
    return (cols.min(), rows.min(), cols.max() + 1 - cols.min(), rows.max() + 1 - rows.min())


def _shape(width: int, height: int) -> Array:
    """An L shaped mask, so that no flip or rotation maps it onto itself."""
    bits = np.zeros((height, width), dtype=np.uint8)
    bits[3:12, 4:7] = 1
    bits[9:12, 4:14] = 1
    return bits


def _mask_bits(mask: Mask) -> Array:
    values = (np.arange(len(mask.counts)) % 2).astype(np.uint8)
    return np.repeat(values, list(mask.counts)).reshape(mask.height, mask.width)


def _item(
    labels: list[Label],
    item_id: str = "img-7",
    filename: str = "photo.png",
    content_type: str = "image/png",
) -> DatasetItem:
    item = DatasetItem(
        item_id=item_id,
        data_type=DataType.DATA_TYPE_IMAGE,
        media_key=f"projects/p1/items/{item_id}/m",
        content_sha256="0" * 64,
        content_type=content_type,
        filename=filename,
        split="train",
        labels=labels,
    )
    item.metadata["camera"] = "north"
    return item


def _labels(width: int, height: int, box: tuple[int, int, int, int]) -> list[Label]:
    x, y, w, h = box
    return [
        Label(bounding_box=BoundingBox(label="cat", x=x, y=y, width=w, height=h), confidence=1),
        Label(
            polygon=Polygon(
                label="dog", points=[Point(x=2, y=2), Point(x=12.5, y=3), Point(x=9, y=14)]
            )
        ),
        Label(
            keypoints=Keypoints(
                label="person",
                points=[
                    Keypoint(name="head", position=Point(x=5, y=7), visibility=1),
                    Keypoint(name="hand", position=Point(x=20.5, y=10), visibility=0),
                ],
            )
        ),
        Label(
            mask=Mask(
                label="cat", width=width, height=height, counts=mask_rle(_shape(width, height))
            )
        ),
        Label(classification=Classification(label="outdoor")),
    ]


def _run(
    item: DatasetItem,
    pixels: Array,
    recipe: Augmentation,
    mirrors: augment.MirroredNames | None = None,
) -> list[tuple[DatasetItem, Media]]:
    image = Media(_encode(pixels), pixels.shape[1], pixels.shape[0])
    return list(augment.copies(item, image, recipe, mirrors or {}))


def _points(label: Label) -> list[tuple[float, float]]:
    if label.HasField("polygon"):
        return [(p.x, p.y) for p in label.polygon.points]
    return [(k.position.x, k.position.y) for k in label.keypoints.points]


def _box(label: Label) -> tuple[float, float, float, float]:
    box = label.bounding_box
    return (box.x, box.y, box.width, box.height)


def test_a_horizontal_flip_moves_pixels_and_every_geometry() -> None:
    width, height, box = 32, 24, (4, 6, 10, 8)
    pixels = _framed(width, height, box)
    pixels[20:, :3] = (0, 0, 255)
    item = _item(_labels(width, height, box))

    [(copy, image)] = _run(item, pixels, Augmentation(seed=1, copies=1, horizontal_flip=1))

    assert (image.width, image.height) == (width, height)
    flipped = _decoded(image)
    assert np.array_equal(flipped, np.fliplr(pixels))
    boxed, polygon, keypoints, mask, classification = copy.labels
    assert _box(boxed) == pytest.approx((width - 4 - 10, 6, 10, 8), abs=1e-6)
    assert _box(boxed) == pytest.approx(_red_extent(flipped), abs=1e-6)
    assert boxed.confidence == 1
    assert _points(polygon) == pytest.approx([(30, 2), (19.5, 3), (23, 14)], abs=1e-6)
    assert _points(keypoints) == pytest.approx([(27, 7), (11.5, 10)], abs=1e-6)
    assert [k.visibility for k in keypoints.keypoints.points] == [1, 0]
    assert [k.name for k in keypoints.keypoints.points] == ["head", "hand"]
    assert (mask.mask.width, mask.mask.height) == (width, height)
    assert mask.mask.counts[0] > 0
    assert np.array_equal(_mask_bits(mask.mask), np.fliplr(_shape(width, height)))
    assert classification == item.labels[4]


def _rotation(original: Array, turned: Array) -> int:
    ks = [k for k in range(4) if np.array_equal(np.rot90(original, k), turned)]
    assert len(ks) == 1, "the copy is no rotation of the original"
    return ks[0]


def _rotated(point: tuple[float, float], k: int, width: int, height: int) -> tuple[float, float]:
    """Where np.rot90(·, k) takes a point in pixel-edge coordinates."""
    x, y = point
    return [(x, y), (y, width - x), (width - x, height - y), (height - y, x)][k]


def test_rotate90_turns_mask_points_and_box_with_the_pixels() -> None:
    width, height, box = 30, 20, (16, 3, 9, 5)
    pixels = _framed(width, height, box)
    item = _item(_labels(width, height, box))

    copies = _run(item, pixels, Augmentation(seed=5, copies=6, rotate90=1))

    turns = set()
    for copy, image in copies:
        turned = _decoded(image)
        k = _rotation(pixels, turned)
        turns.add(k)
        assert (image.width, image.height) == ((width, height) if k % 2 == 0 else (height, width))
        boxed, polygon, keypoints, mask, _ = copy.labels
        assert _box(boxed) == pytest.approx(_red_extent(turned), abs=1e-6)
        assert np.array_equal(_mask_bits(mask.mask), np.rot90(_shape(width, height), k))
        assert (mask.mask.width, mask.mask.height) == (image.width, image.height)
        for moved, original in ((polygon, item.labels[1]), (keypoints, item.labels[2])):
            expected = [_rotated(p, k, width, height) for p in _points(original)]
            assert _points(moved) == pytest.approx(expected, abs=1e-6)
    assert turns & {1, 3} and turns - {1, 3}


def _intersection(
    box: tuple[float, float, float, float], window: tuple[int, int, int, int]
) -> tuple[float, float, float, float] | None:
    """The box cut to the window (x0, y0, width, height), in the window's coordinates."""
    x0, y0, w, h = window
    left, top = max(box[0], x0), max(box[1], y0)
    right, bottom = min(box[0] + box[2], x0 + w), min(box[1] + box[3], y0 + h)
    if right <= left or bottom <= top:
        return None
    return (left - x0, top - y0, right - left, bottom - top)


def test_a_crop_keeps_labels_inside_and_cuts_the_mask() -> None:
    width, height = 40, 30
    pixels = _coded(width, height)
    corner = (0, 0, 5, 4)
    labels = _labels(width, height, (4, 6, 10, 8))
    labels.insert(1, Label(bounding_box=BoundingBox(label="dog", x=0, y=0, width=5, height=4)))
    item = _item(labels)
    shape = _shape(width, height)

    copies = _run(item, pixels, Augmentation(seed=11, copies=10, crop_min_scale=0.5))

    clipped = dropped = 0
    for copy, image in copies:
        cropped = _decoded(image)
        x0, y0 = int(cropped[0, 0, 0]), int(cropped[0, 0, 1])
        w, h = image.width, image.height
        assert (copy.width, copy.height) == (w, h)
        assert w >= width // 2 and h >= height // 2
        assert np.array_equal(cropped, pixels[y0 : y0 + h, x0 : x0 + w])
        window = (x0, y0, w, h)
        expected_boxes = [_intersection(b, window) for b in [(4, 6, 10, 8), corner]]
        boxes = [_box(label) for label in copy.labels if label.HasField("bounding_box")]
        assert boxes == pytest.approx([b for b in expected_boxes if b is not None], abs=1e-6)
        for x, y, bw, bh in boxes:
            assert 0 <= x and 0 <= y and x + bw <= w and y + bh <= h
        clipped += expected_boxes[0] != (4 - x0, 6 - y0, 10, 8)
        dropped += expected_boxes[1] is None
        [polygon] = [label for label in copy.labels if label.HasField("polygon")]
        assert all(0 <= x <= w and 0 <= y <= h for x, y in _points(polygon))
        [keypoints] = [label for label in copy.labels if label.HasField("keypoints")]
        assert _points(keypoints) == pytest.approx([(5 - x0, 7 - y0), (20.5 - x0, 10 - y0)])
        for point, visibility in zip(keypoints.keypoints.points, [1, 0], strict=True):
            inside = 0 <= point.position.x <= w and 0 <= point.position.y <= h
            assert point.visibility == (visibility if inside else 0)
        [mask] = [label for label in copy.labels if label.HasField("mask")]
        assert np.array_equal(_mask_bits(mask.mask), shape[y0 : y0 + h, x0 : x0 + w])
    assert clipped and dropped


def test_a_crop_drops_what_leaves_the_image_and_clips_polygons() -> None:
    width, height = 40, 30
    band = [Point(x=0, y=15), Point(x=40, y=15), Point(x=40, y=18), Point(x=0, y=18)]
    far = [Point(x=36, y=1), Point(x=39, y=1), Point(x=39, y=4)]
    corner = np.zeros((height, width), dtype=np.uint8)
    corner[:4, 36:] = 1
    item = _item(
        [
            Label(bounding_box=BoundingBox(label="cat", x=35, y=0, width=5, height=5)),
            Label(polygon=Polygon(label="dog", points=band)),
            Label(polygon=Polygon(label="dog", points=far)),
            Label(
                keypoints=Keypoints(
                    label="person",
                    points=[Keypoint(name="head", position=Point(x=38, y=2), visibility=1)],
                )
            ),
            Label(mask=Mask(label="cat", width=width, height=height, counts=mask_rle(corner))),
        ]
    )
    recipe = Augmentation(seed=2, copies=10, crop_min_scale=0.5)

    copies = _run(item, _coded(width, height), recipe)

    gone = 0
    for copy, image in copies:
        x0, y0 = (int(v) for v in _decoded(image)[0, 0, :2])
        w, h = image.width, image.height
        polygons = [_points(label) for label in copy.labels if label.HasField("polygon")]
        # The band crosses every crop: a half-size crop always holds the image's middle.
        assert set(polygons[0]) == {(0, 15 - y0), (w, 15 - y0), (w, 18 - y0), (0, 18 - y0)}
        assert all(0 <= x <= w and 0 <= y <= h for points in polygons for x, y in points)
        if x0 + w <= 36 or y0 >= 4:
            assert len(polygons) == 1
        kinds = {label.WhichOneof("kind") for label in copy.labels}
        assert ("bounding_box" in kinds) == (
            _intersection((35, 0, 5, 5), (x0, y0, w, h)) is not None
        )
        assert ("keypoints" in kinds) == (x0 <= 38 <= x0 + w and y0 <= 2 <= y0 + h)
        assert ("mask" in kinds) == bool(corner[y0 : y0 + h, x0 : x0 + w].any())
        gone += kinds == {"polygon"}
    assert gone


def test_scaling_zooms_about_the_centre_on_the_same_canvas() -> None:
    width = height = 40
    bits = np.zeros((height, width), dtype=np.uint8)
    bits[15:25, 15:25] = 1
    item = _item(
        [
            Label(bounding_box=BoundingBox(label="cat", x=15, y=15, width=10, height=10)),
            Label(bounding_box=BoundingBox(label="dog", x=0, y=0, width=4, height=4)),
            Label(
                keypoints=Keypoints(
                    label="person",
                    points=[
                        Keypoint(name="head", position=Point(x=25, y=20), visibility=1),
                        Keypoint(name="hand", position=Point(x=2, y=2), visibility=1),
                    ],
                )
            ),
            Label(mask=Mask(label="cat", width=width, height=height, counts=mask_rle(bits))),
        ]
    )
    recipe = Augmentation(seed=3, copies=1, scale_min=2, scale_max=2)

    [(copy, image)] = _run(item, _noise(width, height), recipe)

    assert (image.width, image.height) == (width, height)
    boxed, keypoints, mask = copy.labels
    assert _box(boxed) == pytest.approx((10, 10, 20, 20), abs=1e-6)
    assert _points(keypoints) == pytest.approx([(30, 20), (-16, -16)], abs=1e-6)
    assert [k.visibility for k in keypoints.keypoints.points] == [1, 0]
    zoomed = np.zeros_like(bits)
    zoomed[10:30, 10:30] = 1
    assert np.array_equal(_mask_bits(mask.mask), zoomed)


FULL = Augmentation(
    seed=42,
    copies=3,
    horizontal_flip=0.5,
    vertical_flip=0.5,
    rotate90=0.5,
    crop_min_scale=0.6,
    scale_min=0.8,
    scale_max=1.25,
    color_jitter=0.4,
)


def _serialized(copies: list[tuple[DatasetItem, Media]]) -> list[tuple[bytes, bytes]]:
    return [(item.SerializeToString(deterministic=True), image.data) for item, image in copies]


def test_the_same_seed_gives_the_same_copies_whatever_the_order() -> None:
    width, height = 32, 24
    first = _item(_labels(width, height, (4, 6, 10, 8)), item_id="a")
    second = _item(_labels(width, height, (4, 6, 10, 8)), item_id="b")
    pixels = _framed(width, height, (4, 6, 10, 8))

    a_then_b = [_serialized(_run(i, pixels, FULL)) for i in (first, second)]
    b_then_a = [_serialized(_run(i, pixels, FULL)) for i in (second, first)][::-1]
    with ThreadPoolExecutor(1) as pool:
        elsewhere = pool.submit(lambda: _serialized(_run(first, pixels, FULL))).result()
    fewer = Augmentation()
    fewer.CopyFrom(FULL)
    fewer.copies = 2

    assert a_then_b == b_then_a
    assert elsewhere == a_then_b[0]
    assert _serialized(_run(first, pixels, fewer)) == a_then_b[0][:2]
    assert len(set(a_then_b[0] + a_then_b[1])) == 6
    reseeded = Augmentation()
    reseeded.CopyFrom(FULL)
    reseeded.seed = 43
    other = _serialized(_run(first, pixels, reseeded))
    assert [data for _, data in other] != [data for _, data in a_then_b[0]]


def test_copies_have_their_own_ids_and_the_item_s_other_fields() -> None:
    item = _item(_labels(32, 24, (4, 6, 10, 8)), item_id="img-3")
    recipe = Augmentation(seed=9, copies=3, vertical_flip=1)

    copies = _run(item, _noise(32, 24), recipe)

    assert [copy.item_id for copy, _ in copies] == ["img-3~aug1", "img-3~aug2", "img-3~aug3"]
    for copy, image in copies:
        assert copy.content_type == "image/png"
        assert copy.content_sha256 == hashlib.sha256(image.data).hexdigest()
        assert image.data.startswith(b"\x89PNG")
        for field in ("data_type", "media_key", "filename", "split", "metadata"):
            assert getattr(copy, field) == getattr(item, field)
        assert copy.labels[4] == item.labels[4]
        assert len(copy.labels) == len(item.labels)


def test_colour_jitter_changes_pixels_but_no_geometry() -> None:
    pixels = _noise(32, 24, seed=4)
    item = _item(_labels(32, 24, (4, 6, 10, 8)))

    copies = _run(item, pixels, Augmentation(seed=8, copies=2, color_jitter=0.5))

    for copy, image in copies:
        jittered = _decoded(image)
        assert jittered.shape == pixels.shape
        assert not np.array_equal(jittered, pixels)
        assert list(copy.labels) == list(item.labels)


def _quantization(data: bytes) -> dict[int, list[int]]:
    """A JPEG's quantization tables, which its quality chose."""
    with PIL.Image.open(io.BytesIO(data)) as opened:
        assert isinstance(opened, JpegImageFile)
        return dict(opened.quantization)


def test_jpeg_stays_jpeg_at_quality_95() -> None:
    pixels = _framed(32, 24, (4, 6, 10, 8))
    data = _encode(pixels, "JPEG", quality=70)
    item = _item(_labels(32, 24, (4, 6, 10, 8)), filename="shot.jpg", content_type="image/jpeg")

    [(copy, image)] = augment.copies(
        item, Media(data, 32, 24), Augmentation(seed=1, copies=1, horizontal_flip=1), {}
    )

    assert _quantization(image.data) == _quantization(_encode(pixels, "JPEG", quality=95))
    assert _quantization(image.data) != _quantization(data)
    assert (copy.content_type, copy.filename) == ("image/jpeg", "shot.jpg")
    assert _box(copy.labels[0]) == pytest.approx((18, 6, 10, 8), abs=1e-6)


def test_alpha_and_grey_images_keep_their_mode() -> None:
    rgba = np.zeros((24, 32, 4), dtype=np.uint8)
    rgba[:, :, 3] = 255
    rgba[:, :8, 3] = 0
    grey = np.asarray(PIL.Image.fromarray(_noise(32, 24)).convert("L"))
    recipe = Augmentation(seed=1, copies=1, horizontal_flip=1, color_jitter=0.3)

    for pixels, mode in ((rgba, "RGBA"), (grey, "L")):
        [(_, image)] = _run(_item([]), pixels, recipe)
        with PIL.Image.open(io.BytesIO(image.data)) as written:
            assert written.mode == mode
            if mode == "RGBA":
                alpha = np.asarray(written)[:, :, 3]
                assert np.array_equal(alpha, np.fliplr(rgba[:, :, 3]))


def test_a_mask_of_another_size_than_the_image_fails_the_export() -> None:
    bits = np.ones((10, 10), dtype=np.uint8)
    item = _item([Label(mask=Mask(label="cat", width=10, height=10, counts=mask_rle(bits)))])

    with pytest.raises(ExportFailed, match="img-7"):
        _run(item, _noise(32, 24), Augmentation(seed=1, copies=1, horizontal_flip=1))


def test_each_transform_draws_its_own_chance() -> None:
    pixels = _noise(8, 6)
    recipe = Augmentation(seed=4, copies=12, horizontal_flip=0.5, vertical_flip=0.5)

    outcomes = set()
    for _, image in _run(_item([]), pixels, recipe):
        flipped = _decoded(image)
        outcomes.add(
            (
                np.array_equal(flipped, np.fliplr(pixels))
                or np.array_equal(flipped, np.rot90(pixels, 2)),
                np.array_equal(flipped, np.flipud(pixels))
                or np.array_equal(flipped, np.rot90(pixels, 2)),
            )
        )

    assert {(True, False), (False, True)} <= outcomes


def test_left_and_right_pair_up_within_each_skeleton() -> None:
    skeletons = [
        KeypointSkeleton(
            label="person", keypoints=["head", "left_hand", "right_hand", "left_tail"]
        ),
        KeypointSkeleton(
            label="face", keypoints=["Left Eye", "Right Eye", "LEFT_EAR", "RIGHT_EAR"]
        ),
    ]
    assert augment.mirrored_names(skeletons) == {
        "person": {"left_hand": "right_hand", "right_hand": "left_hand"},
        "face": {
            "Left Eye": "Right Eye",
            "Right Eye": "Left Eye",
            "LEFT_EAR": "RIGHT_EAR",
            "RIGHT_EAR": "LEFT_EAR",
        },
    }


@pytest.mark.parametrize(
    ("recipe", "swapped"),
    [
        (Augmentation(horizontal_flip=1), True),
        (Augmentation(vertical_flip=1), True),
        (Augmentation(horizontal_flip=1, vertical_flip=1), False),
        (Augmentation(rotate90=1), False),
    ],
)
def test_a_mirrored_copy_swaps_left_and_right_keypoints(
    recipe: Augmentation, swapped: bool
) -> None:
    skeleton = KeypointSkeleton(label="person", keypoints=["head", "left_hand", "right_hand"])
    hands = Keypoints(
        label="person",
        points=[
            Keypoint(name="head", position=Point(x=10, y=4), visibility=1),
            Keypoint(name="left_hand", position=Point(x=4, y=12), visibility=1),
        ],
    )
    item = _item([Label(keypoints=hands)])
    recipe.seed, recipe.copies = 3, 1

    [(copy, _)] = _run(item, _noise(32, 24), recipe, augment.mirrored_names([skeleton]))

    names = [point.name for point in copy.labels[0].keypoints.points]
    assert names == (["head", "right_hand"] if swapped else ["head", "left_hand"])
