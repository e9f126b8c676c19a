"""The balance chart is a PNG that Pillow reads."""

from __future__ import annotations

import io

from PIL import Image

from labelmesh.dataset.charts import balance_png
from labelmesh.dataset.domain import balance_of
from labelmesh.v1.events_pb2 import DatasetVersion


def test_the_balance_chart_is_a_png_with_a_bar_per_split_and_class() -> None:
    version = DatasetVersion(
        version_id="abc",
        name="march",
        balance=[
            balance_of("train", {"cat": 30, "dog": 5}, ["cat", "dog"]),
            balance_of("test", {"cat": 8, "dog": 1}, ["cat", "dog"]),
        ],
    )
    image = Image.open(io.BytesIO(balance_png(version)))
    assert image.format == "PNG" and image.size == (600, 450)
    # Bars are drawn in colour on white: not a blank canvas.
    colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is not None and len(colours) > 10
