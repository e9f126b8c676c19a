"""A project's review policy: its validation and the defaults of its unset fields.

Annotation reads the policy to size and mix its queues; review runs it. Both
validate it the same way, here.
"""

from __future__ import annotations

import math

from labelmesh.core.access import SHORT_ROLE_NAMES
from labelmesh.core.errors import InvalidField
from labelmesh.v1.events_pb2 import ReviewCoverage, ReviewPolicy

MAX_OVERLAP = 20
MAX_STAGES = 10
DEFAULT_MIN_GOLD_ANSWERS = 10
DEFAULT_MAX_REVIEW_LOOPS = 2
DEFAULT_ADJUDICATOR_ROLE = "expert"
MEMBERS_ARE_A_VIEW = (
    "read-only: the project's memberships; give roles and teams with the access"
    " service's SetMembership (PUT /v1/memberships)"
)


def overlap(policy: ReviewPolicy) -> int:
    return max(1, policy.overlap)


def min_gold_answers(policy: ReviewPolicy) -> int:
    return policy.min_gold_answers or DEFAULT_MIN_GOLD_ANSWERS


def max_review_loops(policy: ReviewPolicy) -> int:
    return policy.max_review_loops or DEFAULT_MAX_REVIEW_LOOPS


def adjudicator_role(policy: ReviewPolicy) -> str:
    return policy.adjudicator_role or DEFAULT_ADJUDICATOR_ROLE


def _unit_interval(field: str, value: float, *, open_top: bool = False) -> None:
    top_ok = value < 1.0 if open_top else value <= 1.0
    if math.isnan(value) or value < 0.0 or not top_ok:
        bound = "[0, 1)" if open_top else "[0, 1]"
        raise InvalidField(field, f"must be in {bound}, not {value}")


def validate(policy: ReviewPolicy, at: str = "review_policy") -> None:
    """Raise InvalidField naming the first field that is wrong."""
    if policy.overlap > MAX_OVERLAP:
        raise InvalidField(f"{at}.overlap", f"at most {MAX_OVERLAP}, not {policy.overlap}")
    _unit_interval(f"{at}.gold_ratio", policy.gold_ratio, open_top=True)
    _unit_interval(f"{at}.consensus_threshold", policy.consensus_threshold)
    _unit_interval(f"{at}.flag_below_accuracy", policy.flag_below_accuracy)
    rules = policy.auto_approve
    for name in ("min_agreement", "min_model_confidence"):
        if rules.HasField(name):
            _unit_interval(f"{at}.auto_approve.{name}", getattr(rules, name))
    if len(policy.stages) > MAX_STAGES:
        raise InvalidField(f"{at}.stages", f"at most {MAX_STAGES} stages")
    names: set[str] = set()
    for index, stage in enumerate(policy.stages):
        where = f"{at}.stages[{index}]"
        _take_name(names, stage.name, f"{where}.name", "is used by an earlier stage")
        if bool(stage.role) == bool(stage.team):
            raise InvalidField(f"{where}.role", "set exactly one of role and team")
        if stage.role and stage.role not in SHORT_ROLE_NAMES:
            raise InvalidField(f"{where}.role", _not_a_role(stage.role))
        if stage.coverage == ReviewCoverage.REVIEW_COVERAGE_FRACTION:
            if math.isnan(stage.fraction) or not 0.0 < stage.fraction <= 1.0:
                raise InvalidField(f"{where}.fraction", f"must be in (0, 1], not {stage.fraction}")
        elif stage.fraction:
            raise InvalidField(f"{where}.fraction", "only for REVIEW_COVERAGE_FRACTION")
    if policy.adjudicator_role and policy.adjudicator_role not in SHORT_ROLE_NAMES:
        raise InvalidField(f"{at}.adjudicator_role", _not_a_role(policy.adjudicator_role))
    if policy.members:
        raise InvalidField(f"{at}.members", MEMBERS_ARE_A_VIEW)


def _not_a_role(name: str) -> str:
    return f"{name!r} is not a role; one of {', '.join(sorted(SHORT_ROLE_NAMES))}"


def _take_name(taken: set[str], value: str, where: str, when_taken: str) -> None:
    """Add a non-empty name to `taken`, or say why it cannot be added."""
    name = value.strip()
    if not name:
        raise InvalidField(where, "must not be empty")
    if name in taken:
        raise InvalidField(where, f"{name!r} {when_taken}")
    taken.add(name)
