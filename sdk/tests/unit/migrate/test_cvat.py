from __future__ import annotations

from pathlib import Path

import pytest

from labelmesh.sdk.migrate import cvat
from labelmesh.sdk.migrate.masks import expand

XML = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta><task><owner><username>maria</username></owner></task></meta>
  <image id="0" name="street/a.jpg" width="10" height="8">
    <box label="car" source="manual" occluded="0" xtl="1" ytl="2" xbr="5" ybr="6" z_order="0"/>
    <box label="car" source="auto" occluded="0" xtl="0" ytl="0" xbr="4" ybr="2" rotation="90"/>
    <polygon label="road" source="manual" points="0,8;10,8;10,6"/>
    <polyline label="lane" source="manual" points="0,0;1,1"/>
    <mask label="person" source="manual" rle="1,2,3,2" left="2" top="3" width="4" height="2"/>
    <tag label="daytime" source="manual"/>
    <skeleton label="face" source="manual">
      <points label="nose" occluded="0" outside="0" points="3,3"/>
      <points label="ear" occluded="0" outside="1" points="4,4"/>
    </skeleton>
  </image>
  <image id="1" name="street/missing.jpg" width="10" height="8"/>
</annotations>
"""


def test_each_shape_becomes_a_label_and_automatic_ones_a_prediction(tmp_path: Path) -> None:
    (tmp_path / "images" / "street").mkdir(parents=True)
    (tmp_path / "images" / "street" / "a.jpg").write_bytes(b"jpg")
    (tmp_path / "annotations.xml").write_text(XML)

    migration = cvat.read(tmp_path / "annotations.xml")

    [record] = migration.records
    assert record.path == str(tmp_path / "images" / "street" / "a.jpg")
    assert record.metadata == {"cvat_image_id": "0", "path": "street/a.jpg"}
    [annotation] = record.annotations
    assert annotation["annotator"] == "maria"
    labels = annotation["labels"]
    assert labels[0] == {
        "bounding_box": {"label": "car", "x": 1.0, "y": 2.0, "width": 4.0, "height": 4.0}
    }
    assert labels[1]["polygon"]["points"][2] == {"x": 10.0, "y": 6.0}
    mask = labels[2]["mask"]
    bits = expand(mask["counts"], 80)
    inside = [(i % 10, i // 10) for i, bit in enumerate(bits) if bit]
    # rle 1,2,3,2 over the 4x2 box at (2, 3): row 0 is 0110, row 1 is 0011.
    assert inside == [(3, 3), (4, 3), (4, 4), (5, 4)]
    assert labels[3] == {"classification": {"label": "daytime"}}
    assert labels[4]["keypoints"]["points"] == [
        {"name": "nose", "position": {"x": 3.0, "y": 3.0}, "visibility": 1.0},
        {"name": "ear", "position": {"x": 4.0, "y": 4.0}, "visibility": 0.0},
    ]
    [prediction] = record.predictions
    box = prediction["labels"][0]["bounding_box"]
    # A 4x2 box turned 90 degrees about its centre (2, 1) is 2 wide and 4 high.
    assert (box["x"], box["y"], box["width"], box["height"]) == pytest.approx((1, -1, 2, 4))
    assert migration.unsupported == {"polyline": 1}
    assert migration.skipped == [
        f"image street/missing.jpg: not under the media root {tmp_path / 'images'}"
    ]
