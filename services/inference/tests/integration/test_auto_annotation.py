"""Pre-labelling under auto-annotation rules, AI Assist and measured precision,
with real models against the real broker and database."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from google.protobuf.message import Message
from PIL import Image
from skimage import data

from labelmesh.core.config import CoreSettings
from labelmesh.core.envelopes import new_envelope, user_actor
from labelmesh.core.errors import InvalidField
from labelmesh.core.outbox import stored_events
from labelmesh.inference.app import InferenceApp, build_app
from labelmesh.inference.config import InferenceSettings
from labelmesh.testing.services import eventually, served_app
from labelmesh.v1.events_pb2 import (
    AutoAnnotationRules,
    AutoAnnotationStatus,
    DataType,
    Envelope,
    ItemIngested,
    ModelBinding,
    ProjectCreated,
    ProjectSpec,
    SuggestionAccepted,
    SuggestionRejected,
)
from labelmesh.v1.geometry_pb2 import BoundingBox, Label, LabelSource

pytestmark = pytest.mark.integration
FACES = "mediapipe-face-detection"


def astronaut_png() -> bytes:
    """scikit-image's astronaut photograph: one face, as a PNG."""
    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, format="PNG")  # type: ignore[no-untyped-call]
    return buffer.getvalue()


@pytest.fixture
async def app(core_settings: CoreSettings, tmp_path: Path) -> AsyncIterator[InferenceApp]:
    async with served_app(build_app, InferenceSettings, core_settings, media_dir=tmp_path) as app:
        yield app


def event(payload: Message, project_id: str = "faces", item_id: str = "") -> Envelope:
    return new_envelope(
        payload,
        producer="test",
        actor=user_actor("dana"),
        project_id=project_id,
        item_id=item_id,
    )


async def outbox(app: InferenceApp, event_type: str) -> list[Envelope]:
    return await stored_events(app.service.platform.db, f"labelmesh.v1.{event_type}")


async def announced(app: InferenceApp, project: ProjectSpec) -> None:
    """Publish the project's creation and wait until inference knows the project."""
    await app.service.platform.publisher.publish([event(ProjectCreated(project=project))])

    async def known() -> bool:
        return await app.repositories.projects.get(project.project_id) is not None

    await eventually(known, what="the project")


async def ingest(app: InferenceApp, item_id: str, media: bytes) -> None:
    await app.store.put(f"media/{item_id}", media, "image/png")
    item = ItemIngested(
        data_type=DataType.DATA_TYPE_IMAGE, media_key=f"media/{item_id}", content_type="image/png"
    )
    await app.service.platform.publisher.publish([event(item, item_id=item_id)])


async def decided(app: InferenceApp, count: int) -> None:
    async def enough() -> bool:
        made = await outbox(app, "PredictionCreated") + await outbox(app, "PredictionFailed")
        return len(made) >= count

    await eventually(enough, within=60, what=f"{count} predictions")


async def test_rules_decide_per_class_and_every_decision_records_its_rule_version(
    app: InferenceApp,
) -> None:
    project = ProjectSpec(
        project_id="faces",
        data_type=DataType.DATA_TYPE_IMAGE,
        classes=["person"],
        models=[ModelBinding(model_id=FACES, label_map={"face": "person"})],
        auto_annotation=AutoAnnotationRules(default_min_confidence=0.95, floor=0.3),
    )
    await announced(app, project)

    astronaut = astronaut_png()
    await ingest(app, "astronaut-1", astronaut)
    await ingest(app, "corrupt", astronaut[:300])
    await decided(app, 2)

    [first] = await outbox(app, "PredictionCreated")
    prediction = first.prediction_created
    assert prediction.status == AutoAnnotationStatus.AUTO_ANNOTATION_STATUS_AWAITING_REVIEW
    assert (prediction.rule_version, prediction.auto_accepted) == (1, False)
    box = next(lb for lb in prediction.labels if lb.HasField("bounding_box"))
    assert box.bounding_box.label == "person"  # mapped from the model's "face"
    assert 0.3 <= box.confidence < 0.95
    assert (box.source.model_id, box.source.score) == (FACES, box.confidence)
    [failed] = await outbox(app, "PredictionFailed")
    assert failed.item_id == "corrupt"
    assert failed.prediction_failed.field == "media"
    assert "truncated" in failed.prediction_failed.reason

    # A new rule version lowers the bar for the class: the next face is accepted.
    setup = await app.use_cases.auto_annotation.configure(
        "faces",
        [ModelBinding(model_id=FACES, label_map={"face": "person"})],
        AutoAnnotationRules(default_min_confidence=0.99, class_min_confidence={"person": 0.8}),
        "dana",
    )
    assert setup.rules.version == 2
    await ingest(app, "astronaut-2", astronaut)
    await decided(app, 3)
    [accepted] = await outbox(app, "AnnotationAutoAccepted")
    assert accepted.item_id == "astronaut-2"
    assert accepted.annotation_auto_accepted.rule_version == 2
    [configured] = await outbox(app, "AutoAnnotationConfigured")
    assert configured.auto_annotation_configured.rules.class_min_confidence["person"] == 0.8

    with pytest.raises(InvalidField) as wrong:
        await app.use_cases.auto_annotation.configure(
            "faces", [ModelBinding(model_id="vader-sentiment")], AutoAnnotationRules(), "dana"
        )
    assert wrong.value.field == "models[0].model_id"
    assert "reads TEXT items" in wrong.value.reason


async def test_assist_suggests_above_the_threshold_and_judgements_measure_precision(
    app: InferenceApp,
) -> None:
    project = ProjectSpec(project_id="faces", data_type=DataType.DATA_TYPE_IMAGE, classes=["face"])
    await announced(app, project)
    await ingest(app, "astronaut-1", astronaut_png())
    await decided(app, 1)  # no models: a task without suggestion

    model, items = await app.use_cases.assist.assist(
        "faces", ["astronaut-1", "missing"], FACES, 0.5, "bo"
    )
    assert model.id == FACES
    found, missing = items
    assert missing.error == "no such item in this project"
    assert {lb.WhichOneof("kind") for lb in found.labels} == {"bounding_box", "keypoints"}
    assert all(lb.confidence >= 0.5 and lb.source.suggestion_id for lb in found.labels)
    assert (await app.use_cases.assist.assist("faces", ["astronaut-1"], FACES, 0.99, "bo"))[1][
        0
    ].labels == []
    assisted = await outbox(app, "PredictionCreated")
    assert sum(e.prediction_created.source == 2 for e in assisted) == 2

    def judged(accepted: bool, score: float) -> Envelope:
        label = Label(
            bounding_box=BoundingBox(label="face", width=1, height=1),
            confidence=score,
            source=LabelSource(model_id=FACES, score=score, suggestion_id="s"),
        )
        payload = (
            SuggestionAccepted(suggestion_id="s", label=label)
            if accepted
            else SuggestionRejected(suggestion_id="s", label=label)
        )
        return event(payload, item_id="astronaut-1")

    verdicts = [judged(True, 0.92), judged(True, 0.95), judged(False, 0.55)]
    await app.service.platform.publisher.publish(verdicts + verdicts[:1])  # one delivered twice

    async def counted() -> bool:
        return (await app.use_cases.registry.describe(FACES)).quality.rejected == 1

    await eventually(counted, what="the judgements")
    quality = (await app.use_cases.registry.describe(FACES)).quality
    assert (quality.accepted, quality.rejected) == (2, 1)
    assert quality.precision == pytest.approx(2 / 3)
    assert [
        (b.low, b.accepted, b.rejected) for b in quality.buckets if b.accepted or b.rejected
    ] == [
        (0.5, 0, 1),
        (0.9, 2, 0),
    ]
