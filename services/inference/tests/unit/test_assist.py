"""AI Assist and zero-shot text predictions, on the twins."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelmesh.core.errors import InvalidField, NotFound
from labelmesh.inference.models.catalog import ZERO_SHOT
from labelmesh.inference.records import StoredItem
from labelmesh.v1.events_pb2 import DataType, ItemIngested, PredictionSource, ProjectSpec

from .fakes import BOXES, TOPICS, Harness, harness, text_project


async def stored(h: Harness) -> None:
    text = DataType.DATA_TYPE_TEXT
    async with h.uow.begin() as tx:
        await h.repositories.projects.save(tx, text_project())
        await h.repositories.items.save(
            tx,
            [
                StoredItem("i1", "p1", ItemIngested(data_type=text, text="A match tonight")),
                StoredItem("i2", "p1", ItemIngested(data_type=text, text="Soup")),
                StoredItem("other", "p2", ItemIngested(data_type=text, text="A match")),
            ],
        )


async def test_assist_suggests_above_the_threshold_and_records_the_predictions(
    tmp_path: Path,
) -> None:
    h = harness(tmp_path)
    await stored(h)
    model, items = await h.cases.assist.assist("p1", ["i1", "i2", "other", "i1"], "", 0.9, "bo")
    assert (model.id, model.version) == (TOPICS, "1")
    assert [i.item_id for i in items] == ["i1", "i2", "other", "i1"]
    assert [lb.classification.label for lb in items[0].labels] == ["sports"]
    assert items[0].labels[0].source.suggestion_id
    assert items[1].labels == [] and items[1].error == ""
    assert items[2].error == "no such item in this project"
    created = h.uow.emitted("prediction_created")
    assert [e.item_id for e in created] == ["i1", "i2", "i1"]
    assert all(
        e.prediction_created.source == PredictionSource.PREDICTION_SOURCE_ASSIST for e in created
    )
    assert all(e.actor.id == "bo" for e in created)
    # Assist's predictions are not the item's pre-labelling.
    with pytest.raises(NotFound):
        await h.cases.prelabelling.latest("i1")


async def test_assist_explains_a_model_that_cannot_read_the_items(tmp_path: Path) -> None:
    h = harness(tmp_path)
    await stored(h)
    _, [item] = await h.cases.assist.assist("p1", ["i1"], BOXES, 0.0, "bo")
    assert item.error == "'pixel-boxes' reads IMAGE items, not TEXT"
    [failed] = h.uow.emitted("prediction_failed")
    assert failed.prediction_failed.field == "model_id"


async def test_assist_refuses_bad_requests(tmp_path: Path) -> None:
    h = harness(tmp_path)
    await stored(h)
    assist = h.cases.assist.assist
    for args, field in [
        (("p1", [], "", 0.0), "item_ids"),
        (("p1", [f"i{n}" for n in range(65)], "", 0.0), "item_ids"),
        (("p1", ["i1"], "", 1.5), "min_confidence"),
    ]:
        with pytest.raises(InvalidField) as invalid:
            await assist(*args, "bo")  # type: ignore[arg-type]
        assert invalid.value.field == field
    with pytest.raises(NotFound):
        await assist("p1", ["i1"], "nothing", 0.0, "bo")
    with pytest.raises(NotFound):
        await assist("p9", ["i1"], "", 0.0, "bo")
    async with h.uow.begin() as tx:
        await h.repositories.projects.save(
            tx, ProjectSpec(project_id="img", data_type=DataType.DATA_TYPE_IMAGE)
        )
    with pytest.raises(InvalidField, match="no models"):
        await assist("img", ["i1"], "", 0.0, "bo")


async def test_predict_text_ranks_the_projects_classes(tmp_path: Path) -> None:
    h = harness(tmp_path)
    await stored(h)
    predicted = await h.cases.assist.predict_text("p1", ["Cooking with wine", "A sports match"])
    assert predicted.model.id == ZERO_SHOT
    assert [r[0].classification.label for r in predicted.ranked] == ["cooking", "sports"]
    assert predicted.ranked[0][0].confidence > predicted.ranked[0][1].confidence
    for texts, field in [([], "texts"), (["ok", " "], "texts[1]"), (["x"] * 257, "texts")]:
        with pytest.raises(InvalidField) as invalid:
            await h.cases.assist.predict_text("p1", texts)
        assert invalid.value.field == field
    with pytest.raises(NotFound):
        await h.cases.assist.predict_text("p9", ["text"])
