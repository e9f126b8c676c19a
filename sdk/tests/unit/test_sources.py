from __future__ import annotations

import json
from pathlib import Path

import pytest

from labelmesh.sdk import sources
from labelmesh.sdk.sources import Columns


def test_a_folder_lists_files_of_the_chosen_types_in_path_order(tmp_path: Path) -> None:
    for name in ["b/2.png", "a/1.JPG", "a/deep/3.wav", "notes.csv", "top.png"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")

    images = sources.folder(tmp_path, ["image"])
    assert images.total == 3
    assert [r.key for r in images] == ["a/1.JPG", "b/2.png", "top.png"]
    both = sources.folder(tmp_path, ["image", "audio"], recursive=False)
    assert [r.key for r in both] == ["top.png"]
    record = next(iter(sources.folder(tmp_path, ["audio"])))
    assert record.metadata == {"path": "a/deep/3.wav"}
    assert record.read() == b"x"


def test_a_folder_refuses_unknown_types(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown data types"):
        sources.folder(tmp_path, ["pictures"])  # type: ignore[list-item]


def test_urls_skip_blank_lines_and_comments() -> None:
    listed = sources.urls(["https://a/1.png", "", "# later", "  https://a/2.png  "])
    assert [r.url for r in listed] == ["https://a/1.png", "https://a/2.png"]
    assert listed.total == 2


def test_a_csv_row_becomes_a_record_with_metadata_and_its_label(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,body,lang,label,who\nr1,hello,en,greeting,ann\nr2,bye,,,\n")
    columns = Columns(text="body", metadata=["lang"], label="label", annotator="who", key="id")

    rows = list(sources.csv_file(manifest, columns))

    assert sources.csv_file(manifest, columns).total == 2
    assert [(r.key, r.text, r.metadata) for r in rows] == [
        ("r1", "hello", {"lang": "en"}),
        ("r2", "bye", {}),
    ]
    assert rows[0].annotations == [
        {"labels": [{"classification": {"label": "greeting"}}], "annotator": "ann"}
    ]
    assert rows[1].annotations == []


def test_a_jsonl_manifest_takes_file_paths_relative_to_itself(tmp_path: Path) -> None:
    manifest = tmp_path / "sub" / "m.jsonl"
    manifest.parent.mkdir()
    predictions = [{"labels": [{"classification": {"label": "cat"}}], "score": 0.8}]
    lines = [{"file": "img/1.png", "preds": predictions}, {"file": "img/2.png"}]
    manifest.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")

    rows = list(sources.jsonl_file(manifest, Columns(file="file", predictions="preds")))

    assert [r.path for r in rows] == [
        str(manifest.parent / "img/1.png"),
        str(manifest.parent / "img/2.png"),
    ]
    assert [r.key for r in rows] == ["m.jsonl:0", "m.jsonl:1"]
    assert rows[0].predictions == predictions


def test_columns_name_exactly_one_content() -> None:
    with pytest.raises(ValueError, match="exactly one content column"):
        Columns(text="a", url="b")


def test_records_in_memory_are_keyed_by_position_unless_they_say() -> None:
    made = list(sources.records([{"text": "a"}, {"key": "mine", "data": b"b"}]))
    assert [r.key for r in made] == ["0", "mine"]
