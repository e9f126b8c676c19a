"""What the review contract suites share: the repositories on the backend under
test, and times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from labelmesh.review.adapters.store import MongoReviewStore
from labelmesh.review.ports import ReviewStore
from labelmesh.testing.backends import Backend
from labelmesh.testing.twins.review import in_memory_review_store

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)  # whole seconds: MongoDB keeps milliseconds


def review_store(backend: Backend) -> ReviewStore:
    """Every review repository: twins over the backend's state, or on its database."""
    return backend.pick(memory=in_memory_review_store, mongo=MongoReviewStore.on)


def at(minutes: float) -> datetime:
    """`minutes` after T0."""
    return T0 + timedelta(minutes=minutes)
