import pytest

from labelmesh.core.errors import InvalidField
from labelmesh.core.labels import (
    data_type_from_name,
    data_type_name,
    labels_from_json,
    labels_to_json,
)
from labelmesh.v1.events_pb2 import DataType
from labelmesh.v1.geometry_pb2 import BoundingBox, Classification, Label


def test_json_round_trip_of_every_geometry_kind() -> None:
    labels = [
        Label(classification=Classification(label="cat"), confidence=0.5),
        Label(bounding_box=BoundingBox(label="cat", x=1, y=2, width=3, height=4), confidence=1),
    ]
    assert labels_from_json(labels_to_json(labels)) == labels


def test_malformed_label_names_its_position() -> None:
    with pytest.raises(InvalidField) as error:
        labels_from_json([{"classification": {"label": "a"}}, {"circle": {}}])
    assert error.value.field == "labels[1]"
    with pytest.raises(InvalidField, match="must be an object"):
        labels_from_json(["cat"])


def test_data_type_names() -> None:
    assert data_type_from_name("text") == DataType.DATA_TYPE_TEXT
    assert data_type_from_name("DATA_TYPE_IMAGE") == DataType.DATA_TYPE_IMAGE
    assert data_type_name(DataType.DATA_TYPE_AUDIO) == "AUDIO"
    with pytest.raises(InvalidField, match="unknown data type 'pdf'"):
        data_type_from_name("pdf")
    with pytest.raises(InvalidField):
        data_type_from_name("unspecified")
