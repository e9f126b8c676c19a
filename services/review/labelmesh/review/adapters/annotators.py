"""Annotators' gold tallies (`annotators`) and gold items' known answers
(`gold`) in MongoDB."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from pymongo import ASCENDING, ReplaceOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from labelmesh.core.labels import labels_to_json
from labelmesh.core.mongo import Document, find_in, session_of
from labelmesh.core.uow import Transaction
from labelmesh.review.adapters.documents import labels_of, now
from labelmesh.review.records import AnnotatorRecord, GoldAnswer
from labelmesh.v1.geometry_pb2 import Label


def annotator_key(project_id: str, annotator: str) -> str:
    return f"{project_id}\x00{annotator}"


def annotator_from_document(document: Document) -> AnnotatorRecord:
    return AnnotatorRecord(
        project_id=document["project_id"],
        annotator=document["annotator"],
        gold_answers=document.get("gold_answers", 0),
        gold_correct=document.get("gold_correct", 0),
        flagged=document["flagged"],
    )


class MongoAnnotatorRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.annotators = db["annotators"]

    async def ensure_indexes(self) -> None:
        # A project's annotators are read for every fetch that brings its annotations.
        await self.annotators.create_index([("project_id", ASCENDING)])

    async def of_project(self, project_id: str) -> list[AnnotatorRecord]:
        documents = await self.annotators.find({"project_id": project_id}).to_list(None)
        return [annotator_from_document(d) for d in documents]

    async def count_gold(
        self, tx: Transaction, project_id: str, tally: Mapping[str, tuple[int, int]]
    ) -> list[AnnotatorRecord]:
        session = session_of(tx)
        keys = {annotator: annotator_key(project_id, annotator) for annotator in tally}
        if not keys:
            return []
        # One bulk upsert and one read by id: findAndModify per annotator would cost a
        # round trip each, and SecantusDB may scan the collection for it.
        await self.annotators.bulk_write(
            [
                UpdateOne(
                    {"_id": keys[annotator]},
                    {
                        "$inc": {"gold_answers": answers, "gold_correct": correct},
                        "$setOnInsert": {
                            "project_id": project_id,
                            "annotator": annotator,
                            "flagged": False,
                        },
                    },
                    upsert=True,
                )
                for annotator, (answers, correct) in tally.items()
            ],
            ordered=False,
            session=session,
        )
        found = await find_in(self.annotators, "_id", keys.values(), session)
        stored = {document["_id"]: document for document in found}
        return [annotator_from_document(stored[keys[annotator]]) for annotator in tally]

    async def mark_flagged(self, tx: Transaction, project_id: str, annotator: str) -> None:
        await self.annotators.update_one(
            {"_id": annotator_key(project_id, annotator)},
            {"$set": {"flagged": True, "flagged_at": now()}},
            session=session_of(tx),
        )


class MongoGoldRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.gold = db["gold"]

    async def ensure_indexes(self) -> None:
        await self.gold.create_index("project_id")

    async def answers(self, tx: Transaction, item_ids: Iterable[str]) -> dict[str, list[Label]]:
        documents = await find_in(self.gold, "_id", item_ids, session_of(tx))
        return {d["_id"]: labels_of(d["labels"]) for d in documents}

    async def save(self, tx: Transaction, answers: Sequence[GoldAnswer]) -> None:
        if not answers:
            return
        replacements = [
            ReplaceOne(
                {"_id": answer.item_id},
                {
                    "_id": answer.item_id,
                    "project_id": answer.project_id,
                    "labels": labels_to_json(answer.labels),
                    "set_by": answer.set_by,
                    "set_at": answer.set_at,
                },
                upsert=True,
            )
            for answer in answers
        ]
        await self.gold.bulk_write(replacements, session=session_of(tx))
