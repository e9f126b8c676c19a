"""Python enums and the proto enums that carry the same closed sets."""

from __future__ import annotations

import re
from enum import Enum
from typing import Any, TypeVar

E = TypeVar("E", bound=Enum)


def proto_values(members: type[E], proto: Any) -> dict[E, Any]:
    """Each member's value in the proto enum `proto`: the one named after the enum
    and the member, as `ReviewState.IN_REVIEW` is `REVIEW_STATE_IN_REVIEW`. A member
    the proto enum lacks raises ValueError at import, so the two sets cannot drift."""
    prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", proto.DESCRIPTOR.name).upper() + "_"
    return {member: proto.Value(prefix + member.name) for member in members}
