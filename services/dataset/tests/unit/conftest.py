"""The dataset service on its in-memory twins: no broker, no database."""

from __future__ import annotations

import pytest

from labelmesh.testing.twins.dataset import DatasetWorld


@pytest.fixture
def world() -> DatasetWorld:
    return DatasetWorld()
