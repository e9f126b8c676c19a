"""The annotation repository contract, against the twin and SecantusDB."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from labelmesh.annotation.ports import AnnotationRepository
from labelmesh.annotation.records import AnnotationSource, StoredAnnotation
from labelmesh.core.errors import Conflict
from labelmesh.testing.backends import Backend
from labelmesh.testing.twins.annotation import model_annotation
from labelmesh.v1.geometry_pb2 import Classification, Label, LabelSource

LABELS = (
    Label(
        classification=Classification(label="sports"),
        confidence=0.75,
        source=LabelSource(model_id="m", suggestion_id="s1", accepted_by="ana"),
    ),
)
HUMAN = StoredAnnotation(
    annotation_id="a1",
    task_id="t1",
    item_id="i1",
    project_id="p1",
    annotator="ana",
    source=AnnotationSource.SUGGESTION,
    labels=LABELS,
    round=2,
)
MODEL = model_annotation("a2", LABELS, threshold=0.5, rule_version=3, prediction_id="pr-1")
IMPORTED = StoredAnnotation(
    annotation_id="a3",
    task_id="t1",
    item_id="i1",
    project_id="p1",
    annotator="ida",
    source=AnnotationSource.IMPORTED,
    labels=LABELS,
    round=0,
    origin="label-studio",
    origin_annotator="alice@ls",
    origin_created_at=datetime(2025, 3, 1, 12, 30, tzinfo=UTC),
    origin_id="ls-7",
)


def without_time(annotation: StoredAnnotation) -> StoredAnnotation:
    assert annotation.created_at is not None
    return StoredAnnotation(**{**annotation.__dict__, "created_at": None})


async def test_annotations_round_trip_oldest_first_by_item(
    backend: Backend, annotations: AnnotationRepository
) -> None:
    async with backend.uow.begin() as tx:
        await annotations.insert(tx, [HUMAN])
    async with backend.uow.begin() as tx:
        await annotations.insert(tx, [MODEL])
        await annotations.insert(tx, [])
    stored = await annotations.of_item("i1")
    assert [without_time(a) for a in stored] == [HUMAN, MODEL]
    assert await annotations.of_item("other") == []


async def test_an_annotation_id_is_stored_once_and_a_failure_stores_nothing(
    backend: Backend, annotations: AnnotationRepository
) -> None:
    async with backend.uow.begin() as tx:
        await annotations.insert(tx, [HUMAN])
    with pytest.raises(Conflict):
        async with backend.uow.begin() as tx:
            await annotations.insert(tx, [MODEL, HUMAN])
    assert [a.annotation_id for a in await annotations.of_item("i1")] == ["a1"]


async def test_an_imported_annotation_keeps_its_origin_and_known_ids_are_told(
    backend: Backend, annotations: AnnotationRepository
) -> None:
    async with backend.uow.begin() as tx:
        await annotations.insert(tx, [IMPORTED, HUMAN])
        assert await annotations.known(tx, ["a3", "nope", "a1"]) == {"a1", "a3"}
    found = {a.annotation_id: a for a in await annotations.of_item("i1")}
    assert without_time(found["a3"]) == IMPORTED
