from __future__ import annotations

from pathlib import Path

import pytest

from labelmesh.sdk.records import UploadRecord


def test_a_record_has_exactly_one_content() -> None:
    with pytest.raises(ValueError, match="exactly one of text, path, data or url"):
        UploadRecord("k", text="a", url="http://x")
    with pytest.raises(ValueError, match="exactly one"):
        UploadRecord("k")


def test_kind_and_data_type_follow_the_content() -> None:
    assert UploadRecord("t", text="").kind == "text"
    assert UploadRecord("u", url="https://x/cat.jpg").kind == "url"
    assert UploadRecord("u", url="https://x/cat.jpg").media_type == "image"
    assert UploadRecord("f", path="/data/a.wav").media_type == "audio"
    assert UploadRecord("f", data=b"x", filename="clip.mp4").media_type == "video"
    assert UploadRecord("f", data=b"x", content_type="image/png").media_type == "image"
    assert UploadRecord("f", data=b"x", filename="blob.bin").media_type == "other"


def test_a_record_survives_the_log_with_everything_it_carries(tmp_path: Path) -> None:
    records = [
        UploadRecord("a", text="", metadata={"lang": "en"}, source="label-studio"),
        UploadRecord("b", data=b"\x00\xffbytes", filename="b.bin", content_type="x/y"),
        UploadRecord(
            "c",
            path=str(tmp_path / "c.png"),
            annotations=[{"labels": [{"classification": {"label": "cat"}}], "annotator": "ann"}],
            predictions=[{"labels": [], "score": 0.5, "model_version": "m1"}],
            source_uri="s3://b/c.png",
        ),
    ]
    assert [UploadRecord.from_json(r.to_json()) for r in records] == records


def test_extras_hold_only_what_was_given() -> None:
    assert UploadRecord("a", text="x").extras() == {}
    assert UploadRecord("a", text="x", metadata={"k": "v"}).extras() == {"metadata": {"k": "v"}}
