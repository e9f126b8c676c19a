"""The review use cases on the in-memory twins: no broker, no database."""

from __future__ import annotations

import pytest

from labelmesh.testing.twins.review import ReviewOnTwins


@pytest.fixture
def review() -> ReviewOnTwins:
    return ReviewOnTwins.build()
