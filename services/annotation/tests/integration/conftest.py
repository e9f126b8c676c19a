"""The annotation service running in-process against the real broker and
database, and helpers to create projects and fill their queues through events."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from labelmesh.annotation.app import AnnotationApp, build_app
from labelmesh.annotation.config import AnnotationSettings
from labelmesh.annotation.usecases import Annotation
from labelmesh.core.api import rest_app
from labelmesh.core.config import CoreSettings
from labelmesh.core.runner import ServiceDefinition
from labelmesh.testing.access import SessionAccess, session_signer
from labelmesh.testing.services import served_app
from labelmesh.testing.twins.annotation import LiveAnnotation


@pytest.fixture
async def wired(core_settings: CoreSettings) -> AsyncIterator[AnnotationApp]:
    """The whole service, running."""
    async with served_app(build_app, AnnotationSettings, core_settings) as wired:
        yield wired


@pytest.fixture
def service(wired: AnnotationApp) -> ServiceDefinition:
    return wired.service


@pytest.fixture
def app(wired: AnnotationApp) -> Annotation:
    return wired.annotation


@pytest.fixture
def live(wired: AnnotationApp) -> LiveAnnotation:
    """The running service with helpers to create projects and fill their queues."""
    return LiveAnnotation(wired.service, wired.annotation)


@pytest.fixture
async def rest(
    service: ServiceDefinition, access_service: SessionAccess
) -> AsyncIterator[httpx.AsyncClient]:
    """The service's REST API, called in-process as the person each body names."""
    api = rest_app(
        "annotation", service.router, service.platform.registry, {}, service.platform.authenticator
    )
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://annotation",
        event_hooks={"request": [session_signer(access_service)]},
    ) as client:
        yield client
