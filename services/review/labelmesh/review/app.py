"""Wiring of the review service."""

from __future__ import annotations

from labelmesh.core.platform import Platform
from labelmesh.core.runner import ServiceDefinition
from labelmesh.review import handlers
from labelmesh.review.adapters.repository import ReviewRepository
from labelmesh.review.api import grpc, rest
from labelmesh.review.config import ReviewSettings
from labelmesh.review.facade import ReviewApi
from labelmesh.review.metrics import ReviewMetrics
from labelmesh.review.quality import Quality
from labelmesh.review.review_tasks import ReviewTasks
from labelmesh.review.usecases import SERVICE, Review


def build(settings: ReviewSettings) -> ServiceDefinition:
    platform = Platform(SERVICE, settings)
    repository = ReviewRepository(platform.db)
    review = Review(repository, platform.uow, ReviewMetrics(platform.registry))
    api = ReviewApi(review, ReviewTasks(review), Quality(review))
    return ServiceDefinition(
        name=SERVICE,
        platform=platform,
        settings=settings,
        usecases=review,
        router=rest.router(api),
        grpc_services=[grpc.grpc_service(api)],
        handlers=handlers.HANDLERS,
        batch_handler=handlers.on_fetch,
        consumes=handlers.CONSUMES,
        deps=handlers.Deps(review, api.quality),
        on_start=repository.ensure_indexes,
    )
