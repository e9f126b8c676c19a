"""Pre-labelling arriving items through the dispatcher, on the twins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from labelmesh.core.errors import NotFound, RetryLater
from labelmesh.core.topics import ANNOTATIONS, ITEMS, PROJECTS
from labelmesh.inference.handlers import TABLE
from labelmesh.testing.media_urls import media_url_server
from labelmesh.v1.events_pb2 import (
    AutoAnnotationRules,
    AutoAnnotationStatus,
    DataType,
    Envelope,
    ImportedAnnotation,
    ImportedPrediction,
    ItemIngested,
    ModelBinding,
    PredictionSource,
    ProjectCreated,
    ProjectSpec,
)
from labelmesh.v1.geometry_pb2 import Classification, Label

from .fakes import BOXES, MAX_MEDIA_URL_BYTES, TOPICS, event, harness, text_project

SPORTS = text_project(auto_annotation=AutoAnnotationRules(default_min_confidence=0.95, floor=0.3))


def text(item_id: str, body: str, project_id: str = "p1") -> Envelope:
    item = ItemIngested(data_type=DataType.DATA_TYPE_TEXT, text=body, content_type="text/plain")
    return event(item, project_id=project_id, item_id=item_id)


def test_the_table_consumes_projects_items_and_annotations() -> None:
    assert TABLE.families == sorted([ANNOTATIONS, ITEMS, PROJECTS])


async def test_a_fetch_is_labelled_in_one_batched_call_and_recorded_in_one_transaction(
    tmp_path: Path,
) -> None:
    h = harness(tmp_path)
    created = event(ProjectCreated(project=SPORTS))
    match, recipe = text("i1", "A match tonight"), text("i2", "A recipe for soup")
    # The project arrives in the same fetch as its items.
    await h.cases.dispatcher.handle([created, match, recipe])

    assert h.topics.batches == [2]
    assert h.uow.commits == 1
    assert await h.repositories.projects.get("p1") == SPORTS
    accepted = await h.cases.prelabelling.latest("i1")
    awaiting = await h.cases.prelabelling.latest("i2")
    assert (accepted.status, accepted.auto_accepted) == (
        AutoAnnotationStatus.AUTO_ANNOTATION_STATUS_SUCCESS,
        True,
    )
    assert accepted.labels[0].classification.label == "sports"
    assert accepted.labels[0].source.model_id == TOPICS
    assert (accepted.rule_version, accepted.threshold) == (1, pytest.approx(0.95))
    assert accepted.source == PredictionSource.PREDICTION_SOURCE_AUTO
    assert awaiting.status == AutoAnnotationStatus.AUTO_ANNOTATION_STATUS_AWAITING_REVIEW
    assert [e.item_id for e in h.uow.emitted("prediction_created")] == ["i1", "i2"]
    [auto] = h.uow.emitted("annotation_auto_accepted")
    assert auto.item_id == "i1"
    assert auto.annotation_auto_accepted.prediction_id == accepted.prediction_id
    assert auto.actor.id == f"{TOPICS}@1" and auto.trace_id == match.trace_id
    assert await h.repositories.items.get("p1", ["i1", "i2"]) == {
        "i1": match.item_ingested,
        "i2": recipe.item_ingested,
    }
    assert h.metric("labelmesh_inference_predictions_total", outcome="auto_accepted") == 1
    assert h.metric("labelmesh_inference_predictions_total", outcome="awaiting_review") == 1

    # A replay changes nothing and emits nothing.
    await h.cases.dispatcher.handle([match, recipe])
    assert len(h.uow.emitted("prediction_created")) == 2
    assert h.metric("labelmesh_inference_predictions_total", outcome="auto_accepted") == 1


async def test_an_item_of_an_unknown_project_waits_and_leaves_nothing(tmp_path: Path) -> None:
    h = harness(tmp_path)
    with pytest.raises(RetryLater):
        await h.cases.dispatcher.handle([text("i1", "A match")])
    assert h.uow.commits == 0
    await h.cases.dispatcher.handle([event(ProjectCreated(project=SPORTS))])
    await h.cases.dispatcher.handle([text("i1", "A match")])
    assert (await h.cases.prelabelling.latest("i1")).auto_accepted


async def test_failures_and_skips_are_recorded(tmp_path: Path) -> None:
    h = harness(tmp_path)
    faces = ProjectSpec(
        project_id="faces",
        data_type=DataType.DATA_TYPE_IMAGE,
        classes=["person"],
        models=[
            ModelBinding(model_id=BOXES, label_map={"face": "person"}),
            ModelBinding(model_id=TOPICS),  # reads text: skipped for images
        ],
        auto_accept_threshold=0.5,
    )
    await h.store.put("media/bright", bytes([255, 1, 2]), "image/png")
    await h.store.put("media/empty", b"", "image/png")
    image = DataType.DATA_TYPE_IMAGE
    arrivals = [
        event(ItemIngested(data_type=image, media_key="media/bright"), "faces", "bright"),
        event(ItemIngested(data_type=image, media_key="media/empty"), "faces", "empty"),
        event(ItemIngested(data_type=image, media_key="media/gone"), "faces", "gone"),
        # No model of the project reads audio.
        event(
            ItemIngested(data_type=DataType.DATA_TYPE_AUDIO, media_key="media/bright"),
            "faces",
            "words",
        ),
    ]
    await h.cases.dispatcher.handle([event(ProjectCreated(project=faces), "faces"), *arrivals])

    bright = await h.cases.prelabelling.latest("bright")
    assert bright.auto_accepted
    assert bright.labels[0].bounding_box.label == "person"
    failed = {e.item_id: e.prediction_failed for e in h.uow.emitted("prediction_failed")}
    assert set(failed) == {"empty", "gone"}
    assert (failed["empty"].field, failed["empty"].reason) == ("media", "empty image")
    assert failed["gone"].field == "media" and "not found" in failed["gone"].reason
    skipped = await h.cases.prelabelling.latest("words")
    assert skipped.skipped_reason == "no model of this project reads this item's data type"
    assert skipped.status == AutoAnnotationStatus.AUTO_ANNOTATION_STATUS_NO_SUGGESTION
    assert h.metric("labelmesh_inference_predictions_total", outcome="failed") == 2
    with pytest.raises(NotFound):
        await h.cases.prelabelling.latest("empty")


async def test_media_kept_in_a_customers_bucket_is_read_from_its_url(tmp_path: Path) -> None:
    h = harness(tmp_path)
    faces = ProjectSpec(
        project_id="faces",
        data_type=DataType.DATA_TYPE_IMAGE,
        classes=["person"],
        models=[ModelBinding(model_id=BOXES, label_map={"face": "person"})],
        auto_accept_threshold=0.5,
    )

    def by_reference(key: str, url: str, expires_at: datetime) -> ItemIngested:
        item = ItemIngested(
            data_type=DataType.DATA_TYPE_IMAGE, media_uri=f"s3://cust/{key}", media_url=url
        )
        item.media_url_expires_at.FromDatetime(expires_at)
        return item

    later, earlier = datetime.now(UTC) + timedelta(hours=1), datetime(2026, 1, 2, tzinfo=UTC)
    with media_url_server() as server:
        bright = server.serve("/cust/bright.png", bytes([255, 1, 2]))
        arrivals = [
            event(by_reference("bright.png", f"{bright}?sig=1", later), "faces", "bright"),
            event(by_reference("gone.png", server.url("/cust/gone.png"), later), "faces", "gone"),
            event(by_reference("old.png", bright, earlier), "faces", "old"),
            event(
                by_reference(
                    "big.png", server.serve("/big", bytes(MAX_MEDIA_URL_BYTES + 1)), later
                ),
                "faces",
                "big",
            ),
        ]
        try:
            await h.cases.dispatcher.handle(
                [event(ProjectCreated(project=faces), "faces"), *arrivals]
            )
            # The kept item still has its URL: AI Assist reads the media from it later.
            _, [assisted] = await h.cases.assist.assist("faces", ["bright"], BOXES, 0.0, "bo")
        finally:
            await h.urls.close()
        requested = list(server.requested)

    labelled = await h.cases.prelabelling.latest("bright")
    assert labelled.auto_accepted and labelled.labels[0].bounding_box.label == "person"
    assert [lb.bounding_box.label for lb in assisted.labels] == ["person"]
    stored = await h.repositories.items.get("faces", ["bright"])
    assert stored["bright"].media_url == f"{bright}?sig=1"
    failed = {e.item_id: e.prediction_failed for e in h.uow.emitted("prediction_failed")}
    assert {i: (f.field, f.reason) for i, f in failed.items()} == {
        "gone": ("media", "media 's3://cust/gone.png': answered HTTP 404"),
        "old": (
            "media",
            "media 's3://cust/old.png': the URL expired at 2026-01-02T00:00:00+00:00",
        ),
        "big": (
            "media",
            f"media 's3://cust/big.png': declares {MAX_MEDIA_URL_BYTES + 1} bytes,"
            f" over the limit of {MAX_MEDIA_URL_BYTES}",
        ),
    }
    # An expired URL is not asked.
    assert sorted(requested) == ["/big", "/cust/bright.png", "/cust/bright.png", "/cust/gone.png"]


async def test_judged_suggestions_are_counted_once(tmp_path: Path) -> None:
    from labelmesh.v1.events_pb2 import SuggestionAccepted, SuggestionRejected
    from labelmesh.v1.geometry_pb2 import Classification, Label, LabelSource

    h = harness(tmp_path)

    def label(score: float, model_id: str = TOPICS) -> Label:
        return Label(
            classification=Classification(label="sports"),
            confidence=score,
            source=LabelSource(model_id=model_id, score=score),
        )

    verdicts = [
        event(SuggestionAccepted(label=label(0.92)), item_id="i1"),
        event(SuggestionRejected(label=label(0.55)), item_id="i1"),
        event(SuggestionAccepted(label=label(0.9, model_id="")), item_id="i1"),
    ]
    await h.cases.dispatcher.handle(verdicts + verdicts[:1])
    await h.cases.dispatcher.handle(verdicts)
    quality = await h.cases.feedback.quality(TOPICS)
    assert (quality.accepted, quality.rejected) == (1, 1)
    assert h.uow.outbox == []


async def test_an_item_with_imported_predictions_takes_them_and_runs_no_model(
    tmp_path: Path,
) -> None:
    h = harness(tmp_path)
    await h.cases.dispatcher.handle([event(ProjectCreated(project=SPORTS))])
    brought = ImportedPrediction(
        labels=[Label(classification=Classification(label="cooking"))],
        score=0.99,
        model_version="ls-ml-2",
    )
    item = ItemIngested(
        data_type=DataType.DATA_TYPE_TEXT,
        text="A match tonight",
        source="label-studio",
        imported_predictions=[brought],
    )
    arrival = event(item, item_id="i1")
    await h.cases.dispatcher.handle([arrival])

    assert h.topics.batches == []
    stored = await h.cases.prelabelling.latest("i1")
    assert (stored.model.id, stored.model.version, stored.origin) == (
        "label-studio",
        "ls-ml-2",
        "label-studio",
    )
    assert stored.labels[0].classification.label == "cooking"
    assert stored.labels[0].source.score == pytest.approx(0.99)
    assert not stored.auto_accepted
    [announced] = h.uow.emitted("prediction_created")
    assert announced.actor.id == "dana" and announced.trace_id == arrival.trace_id
    assert h.uow.emitted("annotation_auto_accepted") == []
    assert h.metric("labelmesh_inference_predictions_total", outcome="imported") == 1

    # The item announced again, twice in one fetch: nothing is stored or announced twice.
    await h.cases.dispatcher.handle([event(item, item_id="i1"), event(item, item_id="i1")])
    assert len(h.uow.emitted("prediction_created")) == 1
    assert h.metric("labelmesh_inference_predictions_total", outcome="imported") == 1


async def test_an_item_with_imported_annotations_is_never_auto_accepted(tmp_path: Path) -> None:
    h = harness(tmp_path)
    await h.cases.dispatcher.handle([event(ProjectCreated(project=SPORTS))])
    people = ImportedAnnotation(labels=[Label(classification=Classification(label="sports"))])
    item = ItemIngested(
        data_type=DataType.DATA_TYPE_TEXT,
        text="A match tonight",
        source="cvat",
        imported_annotations=[people],
    )
    await h.cases.dispatcher.handle([event(item, item_id="i1")])
    # The model is as sure as for any match report, but the people's work goes to review.
    assert h.topics.batches == [1]
    suggested = await h.cases.prelabelling.latest("i1")
    assert suggested.labels[0].classification.label == "sports"
    assert not suggested.auto_accepted
    assert suggested.status == AutoAnnotationStatus.AUTO_ANNOTATION_STATUS_AWAITING_REVIEW
    assert h.uow.emitted("annotation_auto_accepted") == []
