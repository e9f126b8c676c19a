"""The inference service's repositories, as ports: MongoDB implements them in
`adapters/repository.py`, in-memory twins in `labelmesh.testing.twins.inference`;
and the reader of media URLs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from labelmesh.core.uow import Transaction
from labelmesh.inference.records import (
    AutoAnnotationSetup,
    BucketCounts,
    Judgement,
    StoredItem,
    StoredPrediction,
)
from labelmesh.v1.events_pb2 import ItemIngested
from labelmesh.v1.inference_service_pb2 import RegisterModelRequest


class ItemRepository(Protocol):
    """Items as announced by ItemIngested, so AI Assist can run models on them later."""

    async def save(self, tx: Transaction, items: Sequence[StoredItem]) -> None:
        """Add or replace items by id."""
        ...

    async def get(self, project_id: str, item_ids: Sequence[str]) -> dict[str, ItemIngested]:
        """Those of the items that exist in the project, by id."""
        ...


class MediaUnreadable(Exception):
    """A media URL gave no media; `reason` says why. It never holds the URL,
    whose query string is a signature that reads the media."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MediaUrls(Protocol):
    """Media read over HTTP from the presigned URL that comes with an item
    whose media stays in a customer's bucket (`adapters/media_urls.py`)."""

    async def read(self, url: str) -> bytes:
        """The URL's bytes, or MediaUnreadable."""
        ...


class PredictionRepository(Protocol):
    async def save(self, tx: Transaction, predictions: Sequence[StoredPrediction]) -> None:
        """Add predictions; a prediction id already stored is a Conflict."""
        ...

    async def known(self, tx: Transaction, prediction_ids: Sequence[str]) -> set[str]:
        """Those of the ids that are stored already."""
        ...

    async def latest_auto(self, item_id: str) -> StoredPrediction | None:
        """The item's most recent prediction made by pre-labelling (not by AI Assist)."""
        ...


class SetupRepository(Protocol):
    """Each project's auto-annotation setup, versioned by its rules' version."""

    async def get(self, project_id: str) -> AutoAnnotationSetup | None: ...

    async def replace(
        self, tx: Transaction, project_id: str, setup: AutoAnnotationSetup, expected_version: int
    ) -> bool:
        """Store a new version over `expected_version`; False when another
        writer got there first. A project with no stored setup takes any."""
        ...


class ModelRegistrations(Protocol):
    """Remote models, as registered."""

    async def save(self, tx: Transaction, registration: RegisterModelRequest) -> None:
        """Add or replace the registration of its model id."""
        ...

    async def get(self, model_id: str) -> RegisterModelRequest | None: ...

    async def all(self) -> list[RegisterModelRequest]:
        """Every registration, by model id."""
        ...


class JudgementRepository(Protocol):
    """How people judged each model's suggestions, counted per confidence bucket."""

    async def record(self, tx: Transaction, judgements: Sequence[Judgement]) -> None: ...

    async def counts(self, model_id: str) -> list[BucketCounts]:
        """Counts of every confidence bucket, lowest first (zero when never judged)."""
        ...
