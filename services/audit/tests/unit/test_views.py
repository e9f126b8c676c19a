"""The audit views: what gRPC and REST show, and how requests' filters are read."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from labelmesh.audit.domain import extend_chains
from labelmesh.audit.views import (
    CSV_COLUMNS,
    csv_header,
    csv_rows,
    entry_json_line,
    entry_message,
    event_type_name,
    query_of,
)
from labelmesh.core.errors import InvalidField
from labelmesh.core.labels import message_to_json
from labelmesh.v1 import audit_service_pb2 as pb
from labelmesh.v1.events_pb2 import Envelope


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
    ],
)
def test_a_jsonl_line_is_the_entrys_proto_json(moment: datetime) -> None:
    [entry] = extend_chains({}, [Envelope(event_id="e", item_id="i", project_id="p")])
    entry = replace(entry, occurred_at=moment, sequence=12)
    assert json.loads(entry_json_line(entry)) == message_to_json(entry_message(entry))


def test_csv_has_a_header_and_a_row_per_entry() -> None:
    [entry] = extend_chains({}, [Envelope(event_id="e,1", item_id="i", project_id="p")])
    rows = list(csv.reader(io.StringIO(csv_header() + csv_rows([entry]))))
    assert rows[0] == CSV_COLUMNS
    assert dict(zip(CSV_COLUMNS, rows[1], strict=True))["event_id"] == "e,1"


def test_filters_are_read_and_bad_values_name_their_field() -> None:
    query = query_of(pb.AuditFilter(project_id="p", event_types=["ItemIngested"]))
    assert query.event_types == ("labelmesh.v1.ItemIngested",)
    assert event_type_name("labelmesh.v1.ReviewDecided") == "labelmesh.v1.ReviewDecided"
    with pytest.raises(InvalidField) as unknown:
        event_type_name("Nope")
    assert unknown.value.field == "event_types"
    backwards = pb.AuditFilter(project_id="p")
    backwards.occurred_from.FromDatetime(datetime(2026, 1, 2, tzinfo=UTC))
    backwards.occurred_to.FromDatetime(datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidField) as reversed_range:
        query_of(backwards)
    assert reversed_range.value.field == "occurred_to"
