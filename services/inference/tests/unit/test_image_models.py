import io
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image
from skimage import data

from labelmesh.inference.models.base import Model, ModelInput, UndecodableInput
from labelmesh.inference.models.faces import FACE_KEYPOINTS, FaceDetector
from labelmesh.inference.models.imagenet import ImageNetClassifier, preprocess
from labelmesh.inference.models.images import (
    decode_image,
    decode_mask_rle,
    encode_mask_rle,
)
from labelmesh.inference.models.person_segmentation import PersonSegmenter
from labelmesh.inference.models.pose import PoseEstimator
from labelmesh.v1.geometry_pb2 import BoundingBox, Label

# The astronaut's face (x0, y0, x1, y1), read off an enlarged crop of the
# image: hairline to chin, cheek to cheek.
FACE = (180.0, 78.0, 268.0, 179.0)
# (row, column) of her nose, and of the grey wall in the top-right corner.
NOSE_PIXEL = (132, 224)
BACKGROUND_PIXEL = (0, 511)
DOMESTIC_CATS = {
    "tabby cat",
    "a cat having a striped coat",
    "Persian cat",
    "Siamese cat",
    "Egyptian Mau",
}


def sample(name: str) -> NDArray[np.uint8]:
    """One of scikit-image's test pictures, by name."""
    return np.asarray(getattr(data, name)(), dtype=np.uint8)


def encode(image: NDArray[Any], image_format: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, image_format, **options)
    return buffer.getvalue()


def item(media: bytes) -> ModelInput:
    return ModelInput(media=media, content_type="image/png")


ASTRONAUT = sample("astronaut")
ASTRONAUT_JPEG = item(encode(ASTRONAUT, "JPEG", quality=90))
ASTRONAUT_PNG = item(encode(ASTRONAUT))
CHELSEA = item(encode(sample("chelsea")))
COFFEE = item(encode(sample("coffee")))


def png_claiming_size(width: int, height: int) -> bytes:
    """A small valid PNG whose header claims another size."""
    png = bytearray(encode(np.zeros((8, 8, 3), np.uint8)))
    png[16:24] = struct.pack(">II", width, height)
    png[29:33] = struct.pack(">I", zlib.crc32(png[12:29]))
    return bytes(png)


def with_damaged_pixels(png: bytes) -> bytes:
    start = png.index(b"IDAT") + 40
    return png[:start] + bytes(2000) + png[start + 2000 :]


def iou(box: BoundingBox, other: tuple[float, float, float, float]) -> float:
    x0, y0, x1, y1 = other
    overlap_w = max(0.0, min(box.x + box.width, x1) - max(box.x, x0))
    overlap_h = max(0.0, min(box.y + box.height, y1) - max(box.y, y0))
    overlap = overlap_w * overlap_h
    return overlap / (box.width * box.height + (x1 - x0) * (y1 - y0) - overlap)


def inside(x: float, y: float, box: tuple[float, float, float, float]) -> bool:
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def labels_of(model: Model, one: ModelInput) -> list[Label]:
    [labels] = model.predict([model.prepare(one)])
    return labels


@pytest.fixture(scope="module")
def faces() -> FaceDetector:
    model = FaceDetector()
    model.load()
    return model


@pytest.fixture(scope="module")
def segmenter() -> PersonSegmenter:
    model = PersonSegmenter()
    model.load()
    return model


@pytest.fixture(scope="module")
def pose() -> PoseEstimator:
    model = PoseEstimator()
    model.load()
    return model


@pytest.fixture(scope="module")
def classifier() -> ImageNetClassifier:
    model = ImageNetClassifier()
    model.load()
    return model


def test_one_face_box_covers_the_astronauts_face_with_its_keypoints_inside(
    faces: FaceDetector,
) -> None:
    labels = labels_of(faces, ASTRONAUT_JPEG)
    [box] = [label for label in labels if label.HasField("bounding_box")]
    [points] = [label for label in labels if label.HasField("keypoints")]

    assert box.bounding_box.label == "face"
    assert iou(box.bounding_box, FACE) >= 0.5
    assert 0.5 < box.confidence <= 1.0
    assert points.confidence == box.confidence
    b = box.bounding_box
    face_box = (b.x, b.y, b.x + b.width, b.y + b.height)
    assert [p.name for p in points.keypoints.points] == list(FACE_KEYPOINTS)
    assert all(inside(p.position.x, p.position.y, face_box) for p in points.keypoints.points)
    assert all(p.visibility == 1.0 for p in points.keypoints.points)


def test_no_face_in_a_cup_of_coffee(faces: FaceDetector) -> None:
    assert labels_of(faces, COFFEE) == []


def test_person_mask_covers_the_astronaut_but_not_the_wall(segmenter: PersonSegmenter) -> None:
    [label] = labels_of(segmenter, ASTRONAUT_PNG)
    mask = label.mask
    assert (mask.label, mask.width, mask.height) == ("person", 512, 512)
    assert sum(mask.counts) == 512 * 512
    pixels = decode_mask_rle(mask.counts, mask.width, mask.height)
    assert 0.35 < pixels.mean() < 0.75
    assert pixels[NOSE_PIXEL]
    assert not pixels[BACKGROUND_PIXEL]
    assert list(mask.counts) == encode_mask_rle(pixels)
    assert 0.5 < label.confidence <= 1.0


def test_pose_puts_the_nose_on_the_face(pose: PoseEstimator) -> None:
    [label] = labels_of(pose, ASTRONAUT_PNG)
    points = {p.name: p for p in label.keypoints.points}
    assert label.keypoints.label == "person"
    assert len(points) == 33
    assert {"nose", "left_shoulder", "right_foot_index"} <= points.keys()
    nose = points["nose"]
    assert inside(nose.position.x, nose.position.y, FACE)
    assert nose.visibility > 0.9
    # Her legs are out of frame: the confidence, the mean visibility, says so.
    visibilities = [p.visibility for p in points.values()]
    assert label.confidence == pytest.approx(sum(visibilities) / 33)
    assert points["left_ankle"].visibility < 0.5
    assert 0.2 < label.confidence < 0.8


def test_imagenet_names_espresso_and_a_cat_in_one_batch(classifier: ImageNetClassifier) -> None:
    coffee, chelsea = classifier.predict([classifier.prepare(COFFEE), classifier.prepare(CHELSEA)])

    assert coffee[0].classification.label == "espresso"
    assert coffee[0].confidence > 0.5
    assert DOMESTIC_CATS & {label.classification.label for label in chelsea}
    for top in (coffee, chelsea):
        probabilities = [label.confidence for label in top]
        assert len(top) == 5
        assert probabilities == sorted(probabilities, reverse=True)
        assert 0.0 < sum(probabilities) <= 1.0
        assert all(label.classification.label in classifier.spec.labels for label in top)


def test_imagenet_results_do_not_depend_on_the_batch(classifier: ImageNetClassifier) -> None:
    [alone] = classifier.predict([classifier.prepare(CHELSEA)])
    _, batched = classifier.predict([classifier.prepare(COFFEE), classifier.prepare(CHELSEA)])
    assert [label.classification.label for label in alone] == [
        label.classification.label for label in batched
    ]
    assert [label.confidence for label in alone] == pytest.approx(
        [label.confidence for label in batched], abs=1e-5
    )


@pytest.mark.parametrize("image", [sample("chelsea"), ASTRONAUT[:100]], ids=["wide", "strip"])
def test_imagenet_input_is_the_normalised_centre_crop_of_a_256_resize(
    image: NDArray[np.uint8],
) -> None:
    resized = Image.fromarray(image)
    scale = 256 / min(resized.size)
    resized = resized.resize(
        (round(resized.width * scale), round(resized.height * scale)), Image.Resampling.BILINEAR
    )
    left, top = (resized.width - 224) // 2, (resized.height - 224) // 2
    crop = np.asarray(resized.crop((left, top, left + 224, top + 224)), np.float32)
    expected = ((crop - 127) / 128).transpose(2, 0, 1)
    # One grey level of rounding is allowed.
    assert np.allclose(preprocess(image), expected, atol=1.01 / 128)


def test_imagenet_labels_are_distinct_names() -> None:
    labels = ImageNetClassifier.spec.labels
    assert len(labels) == len(set(labels)) == 998
    assert {"espresso", "missile", "sunglasses"} <= set(labels)


def test_imagenet_without_its_weights_says_to_run_make_setup(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="make setup"):
        ImageNetClassifier(weights=tmp_path / "missing.onnx").load()


def test_predict_before_load_is_refused() -> None:
    with pytest.raises(RuntimeError, match="not loaded"):
        FaceDetector().predict([ASTRONAUT])


@pytest.mark.parametrize("model_name", ["faces", "segmenter", "pose", "classifier"])
def test_a_bad_item_fails_in_prepare_and_never_reaches_predict(
    model_name: str, request: pytest.FixtureRequest
) -> None:
    model: Model = request.getfixturevalue(model_name)
    batch = [ASTRONAUT_PNG, item(b"not an image at all"), COFFEE]
    prepared, failed = [], []
    for position, one in enumerate(batch):
        try:
            prepared.append(model.prepare(one))
        except UndecodableInput as exc:
            failed.append((position, exc.field))
    assert failed == [(1, "media")]
    assert len(model.predict(prepared)) == 2


PNG = encode(ASTRONAUT)
JPEG = encode(ASTRONAUT, "JPEG")


@pytest.mark.parametrize(
    ("media", "reason"),
    [
        pytest.param(b"", "empty file", id="empty"),
        pytest.param(b"Just some notes.\nNothing to see.\n", "not a PNG, JPEG", id="text"),
        pytest.param(bytes(range(256)) * 4, "not a PNG, JPEG", id="random-bytes"),
        pytest.param(PNG[:8], "not a PNG, JPEG", id="png-signature-only"),
        pytest.param(PNG[: len(PNG) // 2], "truncated", id="truncated-png"),
        pytest.param(JPEG[: len(JPEG) // 2], "truncated", id="truncated-jpeg"),
        pytest.param(with_damaged_pixels(PNG), "corrupt", id="damaged-png"),
        pytest.param(png_claiming_size(9_000, 9_000), "9000x9000 pixels", id="81-megapixels"),
        pytest.param(png_claiming_size(30_000, 30_000), "decompression bomb", id="bomb"),
    ],
)
def test_unreadable_media_is_refused_with_a_reason(media: bytes, reason: str) -> None:
    with pytest.raises(UndecodableInput) as refused:
        decode_image(media)
    assert refused.value.field == "media"
    assert reason in refused.value.reason


def test_exif_orientation_is_applied() -> None:
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:4, :4] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    upright = decode_image(encode(stored, "JPEG", exif=exif, quality=95))
    assert upright.shape == (40, 20, 3)
    # The stored top-left corner is now the top-right one.
    assert upright[1, 18, 0] > 200
    assert upright[1, 1, 0] < 50


def test_transparent_pixels_become_white_and_16_bit_grey_keeps_its_range() -> None:
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (10, 20, 30, 255)
    decoded = decode_image(encode(rgba))
    assert decoded.dtype == np.uint8
    assert decoded[0, 0].tolist() == [10, 20, 30]
    assert decoded[1, 1].tolist() == [255, 255, 255]

    grey = np.array([[0, 32768, 65535]], np.uint16)
    assert decode_image(encode(grey))[0, :, 0].tolist() == [0, 128, 255]


@pytest.mark.parametrize(
    ("rows", "counts"),
    [
        ([[0, 0, 1], [1, 0, 0]], [2, 2, 2]),
        ([[1, 1, 0], [0, 0, 1]], [0, 2, 3, 1]),
        ([[0, 0], [0, 0]], [4]),
        ([[1, 1], [1, 1]], [0, 4]),
    ],
)
def test_masks_encode_row_major_starting_with_zeros(
    rows: list[list[int]], counts: list[int]
) -> None:
    mask = np.array(rows, dtype=bool)
    assert encode_mask_rle(mask) == counts
    assert np.array_equal(decode_mask_rle(counts, mask.shape[1], mask.shape[0]), mask)


def test_random_masks_round_trip() -> None:
    rng = np.random.default_rng(7)
    mask = rng.random((37, 53)) > 0.5
    counts = encode_mask_rle(mask)
    assert sum(counts) == 37 * 53
    assert np.array_equal(decode_mask_rle(counts, 53, 37), mask)


def test_counts_that_do_not_fill_the_mask_are_rejected() -> None:
    with pytest.raises(ValueError, match="sum to 5, not width \\* height = 6"):
        decode_mask_rle([2, 3], 3, 2)
