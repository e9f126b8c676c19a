"""The projection, what a version takes from it, its hash, and item diffs."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from google.protobuf import json_format

from labelmesh.core.errors import InvalidField
from labelmesh.dataset.domain import (
    Manifest,
    balance_of,
    check_filter,
    dataset_item,
    item_change,
    jsonl_line,
    lineage,
    projected,
    version_settings,
)
from labelmesh.dataset.records import ItemStatus, ProjectedItem
from labelmesh.testing.twins.dataset import CLASSES, T0, box, cls, event
from labelmesh.v1.dataset_service_pb2 import DatasetItem, ItemChangeKind, LabelLineage
from labelmesh.v1.events_pb2 import (
    AcceptedStatus,
    AdjudicationDecided,
    AnnotationAutoAccepted,
    AnnotationSubmitted,
    CompletionSource,
    DatasetFilter,
    DataType,
    ItemCompleted,
    ItemDeleted,
    ItemFlagged,
    ItemIngested,
    ModelRef,
    ProjectSpec,
    ReviewDecided,
    ReviewDecision,
)
from labelmesh.v1.geometry_pb2 import Label

HUMAN = CompletionSource.COMPLETION_SOURCE_HUMAN
PROJECT = ProjectSpec(project_id="p1", classes=CLASSES)


def through(*steps: tuple[object, int]) -> ProjectedItem:
    """The item after each (payload, minutes after T0) in turn."""
    item = None
    for payload, minutes in steps:
        item = projected(item, event(payload, "i1", T0 + timedelta(minutes=minutes)), payload)  # type: ignore[arg-type]
    assert item is not None
    return item


def completed(labels: list[Label], annotation: str = "a1", source: int = HUMAN) -> ItemCompleted:
    return ItemCompleted(annotation_id=annotation, labels=labels, completion_source=source)  # type: ignore[arg-type]


def test_an_item_keeps_its_media_and_its_latest_acceptance_whatever_the_order() -> None:
    ingested = ItemIngested(media_key="m/i1", content_sha256="abc", metadata={"site": "a"})
    item = through(
        (completed([cls("dog")], "a2"), 10),
        (ingested, 0),
        (completed([cls("cat")], "a1"), 5),  # older: arrives late, changes nothing
    )
    assert item.media_key == "m/i1" and item.metadata == {"site": "a"}
    assert item.acceptance is not None and item.acceptance.annotation_id == "a2"
    assert [Label.FromString(b).classification.label for b in item.acceptance.labels] == ["dog"]


def test_a_flag_after_acceptance_sends_the_item_to_rereview_until_it_completes_again() -> None:
    flagged = through((completed([cls("dog")]), 1), (ItemFlagged(reason="odd"), 2))
    assert flagged.status is ItemStatus.IN_REREVIEW
    early = through((ItemFlagged(reason="odd"), 0), (completed([cls("dog")]), 1))
    assert early.status is ItemStatus.ACCEPTED
    again = through(
        (completed([cls("dog")]), 1), (ItemFlagged(reason="odd"), 2), (completed([cls("cat")]), 3)
    )
    assert again.status is ItemStatus.ACCEPTED


def test_a_flag_heard_before_the_completion_it_followed_still_reopens_the_item() -> None:
    late = through((ItemFlagged(reason="odd"), 2), (completed([cls("dog")]), 1))
    assert late.status is ItemStatus.IN_REREVIEW
    assert late.flagged_at == T0 + timedelta(minutes=2)


def test_a_flag_before_acceptance_is_kept_until_the_item_is_accepted() -> None:
    flagged = through((AnnotationSubmitted(annotation_id="a1"), 0), (ItemFlagged(), 1))
    assert flagged.acceptance is None and flagged.status is None
    assert flagged.flagged_at == T0 + timedelta(minutes=1)
    done = completed([cls("dog")])
    accepted = projected(flagged, event(done, "i1", T0 + timedelta(minutes=3)), done)
    assert accepted.status is ItemStatus.ACCEPTED and accepted.flagged_at is None


def test_ingest_records_where_an_item_came_from_and_when() -> None:
    ingested = ItemIngested(source="url", source_uri="https://example.org/cat.png")
    item = through((AnnotationSubmitted(annotation_id="a1"), 1), (ingested, 0))
    assert item.source == "url" and item.source_uri == "https://example.org/cat.png"
    assert item.created_at == T0
    assert "a1" in item.annotations


def test_each_annotation_keeps_the_classes_of_its_labels() -> None:
    item = through(
        (
            AnnotationSubmitted(
                annotation_id="a1", annotator="ann", labels=[box("cat"), box("dog"), box("cat")]
            ),
            0,
        ),
        (
            AnnotationAutoAccepted(
                annotation_id="m1", labels=[cls("bird")], model=ModelRef(id="m")
            ),
            1,
        ),
    )
    assert item.annotations["a1"].classes == ("cat", "dog")
    assert item.annotations["m1"].classes == ("bird",)


def test_lineage_names_the_annotator_and_the_approving_reviewer_only() -> None:
    item = through(
        (AnnotationSubmitted(annotation_id="a1", annotator="ann"), 0),
        (
            ReviewDecided(
                annotation_id="a1", decision=ReviewDecision.REVIEW_DECISION_REJECTED, reviewer="r0"
            ),
            1,
        ),
        (
            ReviewDecided(
                annotation_id="a1", decision=ReviewDecision.REVIEW_DECISION_APPROVED, reviewer="r1"
            ),
            2,
        ),
        (completed([cls("dog")]), 3),
    )
    assert item.acceptance is not None
    origin = lineage(item, item.acceptance)
    assert list(origin.annotators) == ["ann"] and list(origin.reviewers) == ["r1"]
    assert origin.audit_chain == "i1" and origin.annotation_id == "a1"
    assert origin.accepted_at.ToDatetime().replace(tzinfo=T0.tzinfo) == T0 + timedelta(minutes=3)


def test_lineage_of_a_consensus_names_every_annotator_of_the_last_round() -> None:
    item = through(
        (AnnotationSubmitted(annotation_id="old", annotator="early", round=0), 0),
        (AnnotationSubmitted(annotation_id="x", annotator="ann-a", round=1), 1),
        (AnnotationSubmitted(annotation_id="y", annotator="ann-b", round=1), 2),
        (completed([cls("dog")], "x", CompletionSource.COMPLETION_SOURCE_CONSENSUS), 3),
    )
    assert item.acceptance is not None
    assert list(lineage(item, item.acceptance).annotators) == ["ann-a", "ann-b"]


def test_lineage_of_model_and_adjudicated_labels() -> None:
    auto = through(
        (
            AnnotationAutoAccepted(
                annotation_id="m1", model=ModelRef(id="yolo", version="8"), rule_version=4
            ),
            0,
        ),
        (
            completed(
                [box("cat", confidence=0.9, model="yolo")],
                "m1",
                CompletionSource.COMPLETION_SOURCE_MODEL,
            ),
            1,
        ),
    )
    assert auto.acceptance is not None
    origin = lineage(auto, auto.acceptance)
    assert [(m.id, m.version) for m in origin.models] == [("yolo", "1"), ("yolo", "8")]
    assert origin.rule_version == 4 and not origin.annotators
    judged = through(
        (AdjudicationDecided(adjudicator="expert-1"), 0),
        (completed([cls("cat")], "j1", CompletionSource.COMPLETION_SOURCE_ADJUDICATION), 1),
    )
    assert judged.acceptance is not None and judged.adjudicator == ""
    assert lineage(judged, judged.acceptance).adjudicator == "expert-1"


def accepted_item(labels: list[Label], **ingest: object) -> ProjectedItem:
    return through(
        (ItemIngested(**ingest), 0),  # type: ignore[arg-type]
        (AnnotationSubmitted(annotation_id="a1", annotator="ann"), 1),
        (completed(labels), 2),
    )


def test_a_versions_item_carries_the_image_size_ingest_recorded() -> None:
    item = accepted_item([box("cat")], data_type=DataType.DATA_TYPE_IMAGE, width=640, height=480)
    kept = dataset_item(item, DatasetFilter())
    assert kept is not None and (kept.width, kept.height) == (640, 480)


def test_a_referenced_items_media_uri_is_kept_into_its_versions() -> None:
    item = accepted_item([box("cat")], media_uri="s3://photos/cats/1.png")
    kept = dataset_item(item, DatasetFilter())
    assert kept is not None and (kept.media_key, kept.media_uri) == ("", "s3://photos/cats/1.png")


def test_a_deleted_item_stays_deleted_whatever_comes_after_it_until_it_comes_in_again() -> None:
    deleted = ItemDeleted(reason="object deleted: s3://photos/1.png")
    item = through(
        (ItemIngested(media_uri="s3://photos/1.png"), 0),
        (AnnotationSubmitted(annotation_id="a1", annotator="ann"), 1),
        (deleted, 3),
        (completed([box("cat")]), 2),  # made before the deletion, heard after it
        (deleted, 3),
    )
    assert item.deleted_at == T0 + timedelta(minutes=3)
    assert item.acceptance is not None, "its labels are kept for the versions made before"
    assert dataset_item(item, DatasetFilter()) is None
    stale = ItemIngested(media_uri="s3://photos/1.png")
    assert projected(item, event(stale, "i1", T0), stale).deleted_at == item.deleted_at
    again = projected(item, event(stale, "i1", T0 + timedelta(minutes=9)), stale)
    assert again.deleted_at is None and dataset_item(again, DatasetFilter()) is not None


def test_the_filter_keeps_labels_of_its_classes_and_drops_items_left_without_any() -> None:
    item = accepted_item([box("cat"), box("dog")])
    kept = dataset_item(item, DatasetFilter(classes=["dog"]))
    assert kept is not None and [label.bounding_box.label for label in kept.labels] == ["dog"]
    assert dataset_item(item, DatasetFilter(classes=["bird"])) is None


def test_min_confidence_drops_model_labels_but_never_a_persons() -> None:
    person = box("cat", x=1)
    unsure_model = box("dog", x=2, confidence=0.4, model="yolo")
    accepted_by_person = box("dog", x=3, confidence=0.4, model="yolo")
    accepted_by_person.source.accepted_by = "ann"
    item = accepted_item([person, unsure_model, accepted_by_person])
    kept = dataset_item(item, DatasetFilter(min_confidence=0.5))
    assert kept is not None and [label.bounding_box.x for label in kept.labels] == [1, 3]


def test_status_source_annotator_time_and_metadata_filters() -> None:
    item = accepted_item([cls("cat")], metadata={"site": "berlin"})
    accepted_at = T0 + timedelta(minutes=2)
    takes = [
        DatasetFilter(),
        DatasetFilter(sources=[HUMAN]),
        DatasetFilter(annotators=["ann", "other"]),
        DatasetFilter(metadata={"site": "berlin"}),
    ]
    refuses = [
        DatasetFilter(statuses=[AcceptedStatus.ACCEPTED_STATUS_IN_REREVIEW]),
        DatasetFilter(sources=[CompletionSource.COMPLETION_SOURCE_MODEL]),
        DatasetFilter(annotators=["other"]),
        DatasetFilter(metadata={"site": "paris"}),
    ]
    after = DatasetFilter()
    after.accepted_from.FromDatetime(accepted_at + timedelta(seconds=1))
    before = DatasetFilter()
    before.accepted_to.FromDatetime(accepted_at)
    assert all(dataset_item(item, f) is not None for f in takes)
    assert all(dataset_item(item, f) is None for f in [*refuses, after, before])
    rereview = projected(item, event(ItemFlagged(), "i1", T0 + timedelta(minutes=9)), ItemFlagged())
    assert dataset_item(rereview, DatasetFilter()) is None
    both = DatasetFilter(
        statuses=[
            AcceptedStatus.ACCEPTED_STATUS_ACCEPTED,
            AcceptedStatus.ACCEPTED_STATUS_IN_REREVIEW,
        ]
    )
    found = dataset_item(rereview, both)
    assert found is not None
    assert found.lineage.status == AcceptedStatus.ACCEPTED_STATUS_IN_REREVIEW


@pytest.mark.parametrize(
    ("filter", "field"),
    [
        (DatasetFilter(classes=["cat", "zebra"]), "filter.classes[1]"),
        (
            DatasetFilter(statuses=[AcceptedStatus.ACCEPTED_STATUS_UNSPECIFIED]),
            "filter.statuses[0]",
        ),
        (
            DatasetFilter(sources=[CompletionSource.COMPLETION_SOURCE_UNSPECIFIED]),
            "filter.sources[0]",
        ),
        (DatasetFilter(min_confidence=1.5), "filter.min_confidence"),
    ],
)
def test_a_filter_that_cannot_hold_is_refused_by_field(filter: DatasetFilter, field: str) -> None:
    with pytest.raises(InvalidField) as refused:
        check_filter(filter, PROJECT)
    assert refused.value.field == field


def test_an_empty_time_window_is_refused() -> None:
    window = DatasetFilter()
    window.accepted_from.FromDatetime(T0)
    window.accepted_to.FromDatetime(T0)
    with pytest.raises(InvalidField) as refused:
        check_filter(window, PROJECT)
    assert refused.value.field == "filter.accepted_to"


def test_the_manifest_hash_follows_items_labels_and_settings() -> None:
    def digest(item: ProjectedItem, policy: int = 1) -> str:
        manifest = Manifest(version_settings(PROJECT, DatasetFilter(), policy, 1))
        found = dataset_item(item, DatasetFilter())
        assert found is not None
        manifest.add(found)
        return manifest.hexdigest()

    cat = accepted_item([cls("cat")])
    relabelled = projected(
        cat, event(completed([cls("dog")]), "i1", T0 + timedelta(hours=1)), completed([cls("dog")])
    )
    assert digest(cat) == digest(cat)
    assert digest(cat) != digest(relabelled)
    assert digest(cat) != digest(cat, policy=2)


def test_each_stored_jsonl_line_parses_back_into_its_item() -> None:
    items = [
        DatasetItem(item_id="i1", labels=[box("cat", confidence=0.9, model="yolo")], split="train"),
        DatasetItem(
            item_id="i2",
            text="un but marqué",
            metadata={"site": "a"},
            labels=[cls("dog")],
            lineage=LabelLineage(annotation_id="a2", annotators=["ann"], audit_chain="i2"),
        ),
    ]
    manifest = Manifest(version_settings(PROJECT, DatasetFilter(), 1, 1))
    stored = [manifest.add(item) for item in items]
    assert [line for _, line in stored] == [jsonl_line(item) for item in items]
    lines = b"".join(line for _, line in stored).decode().splitlines()
    assert [json_format.ParseDict(json.loads(line), DatasetItem()) for line in lines] == items
    assert [DatasetItem.FromString(raw) for raw, _ in stored] == items


def test_item_changes_list_labels_added_and_removed() -> None:
    old = dataset_item(accepted_item([box("cat"), box("dog")]), DatasetFilter())
    new = dataset_item(accepted_item([box("cat"), box("bird")]), DatasetFilter())
    assert old is not None and new is not None
    assert item_change(old, old) is None
    changed = item_change(old, new)
    assert changed is not None and changed.kind == ItemChangeKind.ITEM_CHANGE_KIND_CHANGED
    assert [label.bounding_box.label for label in changed.labels_added] == ["bird"]
    assert [label.bounding_box.label for label in changed.labels_removed] == ["dog"]
    added = item_change(None, new)
    assert added is not None and added.kind == ItemChangeKind.ITEM_CHANGE_KIND_ADDED
    removed = item_change(old, None)
    assert removed is not None and len(removed.labels_removed) == 2


def test_balance_counts_every_class_and_the_imbalance_of_those_present() -> None:
    found = balance_of("train", {"cat": 8, "dog": 2}, CLASSES)
    assert dict(found.class_counts) == {"cat": 8, "dog": 2, "bird": 0}
    assert found.imbalance_ratio == 4.0 and list(found.missing_classes) == ["bird"]
    assert balance_of("test", {}, CLASSES).imbalance_ratio == 0.0
