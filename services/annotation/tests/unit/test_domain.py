import pytest

from labelmesh.annotation.domain import NewProject, create_project, validate_labels
from labelmesh.core.errors import InvalidField
from labelmesh.v1.events_pb2 import DataType, ProjectMember, ReviewPolicy, ReviewStage
from labelmesh.v1.geometry_pb2 import (
    BoundingBox,
    Classification,
    Label,
    Mask,
    Point,
    Polygon,
    TextSpan,
)

TEXT = DataType.DATA_TYPE_TEXT
IMAGE = DataType.DATA_TYPE_IMAGE


def project(**overrides: object) -> NewProject:
    fields: dict[str, object] = {
        "name": "news",
        "data_type": TEXT,
        "classes": ["sports", "politics"],
        "auto_accept_threshold": 0.9,
    }
    fields.update(overrides)
    return NewProject(**fields)  # type: ignore[arg-type]


def invalid(call: object, *args: object) -> InvalidField:
    with pytest.raises(InvalidField) as error:
        call(*args)  # type: ignore[operator]
    return error.value


def test_create_project_assigns_an_id_and_keeps_the_schema() -> None:
    spec = create_project(project())
    assert spec.project_id
    assert list(spec.classes) == ["sports", "politics"]
    assert spec.auto_accept_threshold == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "  "}, "name"),
        ({"data_type": DataType.DATA_TYPE_UNSPECIFIED}, "data_type"),
        ({"classes": []}, "classes"),
        ({"classes": ["a", "a"]}, "classes[1]"),
        ({"classes": ["a", " b"]}, "classes[1]"),
        ({"auto_accept_threshold": 1.5}, "auto_accept_threshold"),
        ({"review_min_agreement": -0.1}, "review_min_agreement"),
        ({"auto_accept_threshold": float("nan")}, "auto_accept_threshold"),
    ],
)
def test_bad_projects_name_the_field(overrides: dict[str, object], field: str) -> None:
    assert invalid(create_project, project(**overrides)).field == field


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        (ReviewPolicy(overlap=21), "review_policy.overlap"),
        (ReviewPolicy(gold_ratio=1.0), "review_policy.gold_ratio"),
        (ReviewPolicy(gold_ratio=-0.1), "review_policy.gold_ratio"),
        (ReviewPolicy(consensus_threshold=float("nan")), "review_policy.consensus_threshold"),
        (
            ReviewPolicy(stages=[ReviewStage(name=" ", role="expert")]),
            "review_policy.stages[0].name",
        ),
        (ReviewPolicy(stages=[ReviewStage(name="qa")]), "review_policy.stages[0].role"),
        (
            ReviewPolicy(stages=[ReviewStage(name="qa", role="lead")]),
            "review_policy.stages[0].role",
        ),
        (ReviewPolicy(adjudicator_role="lead"), "review_policy.adjudicator_role"),
        (ReviewPolicy(members=[ProjectMember(user="eve")]), "review_policy.members"),
    ],
)
def test_bad_review_policies_name_the_field(policy: ReviewPolicy, field: str) -> None:
    assert invalid(create_project, project(review_policy=policy)).field == field


def test_a_review_policy_is_stored_as_version_1() -> None:
    spec = create_project(project(review_policy=ReviewPolicy(version=7, overlap=3, gold_ratio=0.1)))
    policy = spec.review_policy
    assert (policy.version, policy.overlap) == (1, 3)
    assert policy.gold_ratio == pytest.approx(0.1)
    assert not create_project(project()).HasField("review_policy")


SPEC = create_project(project())


def test_valid_labels_pass() -> None:
    validate_labels([Label(classification=Classification(label="sports"))], SPEC, TEXT, "")
    span = Label(text_span=TextSpan(label="politics", start=0, end=4))
    validate_labels([span], SPEC, TEXT, "Vote now")
    box = Label(bounding_box=BoundingBox(label="sports", x=0, y=0, width=3, height=2))
    validate_labels([box], SPEC, IMAGE, "")


@pytest.mark.parametrize(
    ("labels", "data_type", "field", "reason"),
    [
        ([], TEXT, "labels", "at least one"),
        ([Label()], TEXT, "labels[0]", "no geometry"),
        (
            [Label(classification=Classification(label="cats"))],
            TEXT,
            "labels[0].classification.label",
            "'cats' is not a class",
        ),
        (
            [Label(bounding_box=BoundingBox(label="sports", width=1, height=1))],
            TEXT,
            "labels[0].bounding_box",
            "not allowed for DATA_TYPE_TEXT",
        ),
        (
            [Label(classification=Classification(label="sports"), confidence=2)],
            TEXT,
            "labels[0].confidence",
            "between 0 and 1",
        ),
        (
            [
                Label(classification=Classification(label="sports")),
                Label(classification=Classification(label="politics")),
            ],
            TEXT,
            "labels[1].classification",
            "only one",
        ),
        (
            [Label(text_span=TextSpan(label="sports", start=3, end=99))],
            TEXT,
            "labels[0].text_span.end",
            "end <= 8",
        ),
        (
            [Label(bounding_box=BoundingBox(label="sports", width=0, height=1))],
            IMAGE,
            "labels[0].bounding_box.width",
            "positive",
        ),
        (
            [Label(polygon=Polygon(label="sports", points=[Point(), Point()]))],
            IMAGE,
            "labels[0].polygon.points",
            "at least 3",
        ),
        (
            [Label(mask=Mask(label="sports", width=2, height=2, counts=[1, 2]))],
            IMAGE,
            "labels[0].mask.counts",
            "sum",
        ),
    ],
)
def test_bad_labels_name_the_field_and_reason(
    labels: list[Label], data_type: int, field: str, reason: str
) -> None:
    error = invalid(validate_labels, labels, SPEC, data_type, "Vote now")
    assert error.field == field
    assert reason in error.reason
