from __future__ import annotations

from labelmesh.sdk.records import UploadRecord
from labelmesh.sdk.uploads import group_of


def test_records_are_grouped_by_how_they_are_sent_and_their_data_type() -> None:
    assert group_of(UploadRecord("a", text="x")) == "text"
    assert group_of(UploadRecord("b", url="https://h/x.png")) == "url"
    assert group_of(UploadRecord("c", data=b"x", filename="x.png")) == "file:image"
    assert group_of(UploadRecord("d", path="/tmp/x.flac")) == "file:audio"
