"""The annotation service on the in-memory twins: no broker, no database."""

from __future__ import annotations

import pytest

from labelmesh.testing.twins.annotation import AnnotationTwins, annotation_on_twins


@pytest.fixture
def twins() -> AnnotationTwins:
    return annotation_on_twins()
