"""Image helpers shared by the image models.

`decode_image` turns uploaded bytes into an upright RGB array, or says why it
cannot. The mask functions convert between boolean arrays and the run-length
counts of `labelmesh.v1.Mask`. `PerImageModel` is the base of models whose
engine takes one image at a time.
"""

from __future__ import annotations

import io
import threading
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

from labelmesh.inference.models.base import Model, ModelInput, UndecodableInput
from labelmesh.v1.geometry_pb2 import Label

# The formats ingest accepts. Limiting Pillow to them also keeps it away from
# plugins that hand the bytes to outside programs (EPS runs Ghostscript).
FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
# 64 Mpx is above any camera a labelling project is likely to use, and its RGB
# array (192 MB) is still affordable; anything larger is refused unread.
MAX_IMAGE_PIXELS = 64_000_000
# Transparent pixels are shown on white, as image viewers usually do.
BACKGROUND = (255, 255, 255, 255)

RGBImage = NDArray[np.uint8]


def decode_image(data: bytes) -> RGBImage:
    """Decode PNG, JPEG, GIF or WebP bytes to an (height, width, 3) RGB array.

    The EXIF orientation is applied, so the array is the image as people see
    it. Raises UndecodableInput("media", reason) for empty bytes, bytes in no
    supported format, corrupt or truncated data, and images above
    MAX_IMAGE_PIXELS.
    """
    if not data:
        raise UndecodableInput("media", "empty file: no image data")
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        raise UndecodableInput("media", "not a PNG, JPEG, GIF or WebP image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UndecodableInput("media", _too_large(None)) from None
    except Exception as exc:
        raise UndecodableInput("media", f"corrupt image header: {exc}") from None
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise UndecodableInput("media", _too_large((width, height)))
    try:
        image.load()
        upright = ImageOps.exif_transpose(image)
    # Pillow's decoders raise a variety of errors on hostile bytes (OSError,
    # SyntaxError, struct.error, ...); all of them mean the same to the caller.
    except Exception as exc:
        raise UndecodableInput("media", f"corrupt or truncated image data: {exc}") from None
    return _to_rgb(upright)


def _too_large(size: tuple[int, int] | None) -> str:
    limit = f"the limit is {MAX_IMAGE_PIXELS / 1e6:g} megapixels"
    if size is None:
        return f"image too large (possible decompression bomb); {limit}"
    return f"image too large: {size[0]}x{size[1]} pixels; {limit}"


def _to_rgb(image: Image.Image) -> RGBImage:
    if image.mode.startswith("I;16"):
        # Pillow would clip 16-bit grey to 255; keep the high byte instead.
        high_byte = (np.asarray(image, dtype=np.uint16) >> 8).astype(np.uint8)
        image = Image.fromarray(high_byte)
    if image.has_transparency_data:
        background = Image.new("RGBA", image.size, BACKGROUND)
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def encode_mask_rle(mask: NDArray[np.bool_]) -> list[int]:
    """Run lengths of a 2-D mask in row-major order, starting with a run of zeros.

    The first count is 0 when the top-left pixel is set; the counts sum to
    mask.size.
    """
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {mask.shape}")
    flat = np.asarray(mask, dtype=bool).ravel()
    if flat.size == 0:
        return []
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    edges = np.concatenate(([0], changes, [flat.size]))
    runs = np.diff(edges)
    if flat[0]:
        runs = np.concatenate(([0], runs))
    return [int(run) for run in runs]


def decode_mask_rle(counts: Sequence[int], width: int, height: int) -> NDArray[np.bool_]:
    """The (height, width) boolean mask that `encode_mask_rle` encoded as counts."""
    runs = np.asarray(counts, dtype=np.int64)
    if runs.size and runs.min() < 0:
        raise ValueError("run lengths must not be negative")
    if int(runs.sum()) != width * height:
        raise ValueError(
            f"run lengths sum to {int(runs.sum())}, not width * height = {width * height}"
        )
    values = np.arange(runs.size) % 2 == 1
    return np.repeat(values, runs).reshape(height, width)


def unit_interval(value: float) -> float:
    """The value clamped to [0, 1], as label confidences must be."""
    return min(max(value, 0.0), 1.0)


class PerImageModel(Model):
    """An image model whose engine labels one image at a time.

    The engine is built once by `load` and is not thread-safe. The runner
    normally calls a model from one thread, but after a timeout it moves on
    to a fresh thread while the stuck call may still be running, so every
    call holds a lock.
    """

    def __init__(self) -> None:
        self._engine: Any = None
        self._lock = threading.Lock()

    @abstractmethod
    def _build_engine(self) -> Any:
        """Create the engine; called once by load()."""

    @abstractmethod
    def _label(self, engine: Any, image: RGBImage) -> list[Label]:
        """The labels of one decoded image."""

    def load(self) -> None:
        with self._lock:
            if self._engine is None:
                self._engine = self._build_engine()

    def prepare(self, item: ModelInput) -> RGBImage:
        return decode_image(item.media)

    def predict(self, prepared: Sequence[Any]) -> list[list[Label]]:
        with self._lock:
            if self._engine is None:
                raise RuntimeError(f"model {self.spec.id!r} is not loaded; call load() first")
            return [self._label(self._engine, image) for image in prepared]
