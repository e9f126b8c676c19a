from enum import StrEnum

import pytest

from labelmesh.core.enums import proto_values
from labelmesh.v1 import review_service_pb2 as pb

State = StrEnum("State", {"IN_REVIEW": "in_review", "GOLD": "gold"})
Drifted = StrEnum("Drifted", {"IN_REVIEW": "in_review", "ARCHIVED": "archived"})


def test_each_member_gets_the_proto_value_named_after_enum_and_member() -> None:
    assert proto_values(State, pb.ReviewState) == {
        State.IN_REVIEW: pb.REVIEW_STATE_IN_REVIEW,
        State.GOLD: pb.REVIEW_STATE_GOLD,
    }


def test_a_multi_word_enum_name_becomes_an_upper_snake_prefix() -> None:
    Status = StrEnum("Status", {"CANCELLED": "cancelled"})
    assert proto_values(Status, pb.ReviewTaskStatus) == {
        Status.CANCELLED: pb.REVIEW_TASK_STATUS_CANCELLED
    }


def test_a_member_the_proto_enum_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="REVIEW_STATE_ARCHIVED"):
        proto_values(Drifted, pb.ReviewState)
