from dataclasses import dataclass

import pytest

from labelmesh.core.fields import carry_fields
from labelmesh.v1.events_pb2 import ModelRef


@dataclass(frozen=True)
class Upload:
    item_id: str
    content: bytes
    project_id: str

    @property
    def key(self) -> str:
        return f"{self.project_id}/{self.item_id}"


@dataclass(frozen=True)
class Stored:
    item_id: str
    key: str
    size: int
    project_id: str = "none"


def test_fields_are_read_by_name_from_attributes_and_properties() -> None:
    upload = Upload("i1", b"abc", "p1")
    assert carry_fields(Stored, upload, size=3) == Stored("i1", "p1/i1", 3, "p1")


def test_given_fields_win_over_the_sources() -> None:
    upload = Upload("i1", b"abc", "p1")
    assert carry_fields(Stored, upload, size=3, key="k").key == "k"


def test_a_proto_message_can_be_the_source() -> None:
    @dataclass(frozen=True)
    class Ref:
        id: str
        version: str

    assert carry_fields(Ref, ModelRef(id="m", version="2")) == Ref("m", "2")


def test_a_field_the_source_lacks_must_be_given() -> None:
    with pytest.raises(AttributeError, match="size"):
        carry_fields(Stored, Upload("i1", b"", "p1"))
