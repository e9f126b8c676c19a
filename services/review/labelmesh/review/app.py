"""Wiring of the review service."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from labelmesh.core.access import ProjectGate, directory_organizations
from labelmesh.core.dispatch import Dispatcher
from labelmesh.core.platform import Platform
from labelmesh.core.runner import ServiceDefinition
from labelmesh.core.uow import UnitOfWork
from labelmesh.review.adapters.store import MongoReviewStore, ensure_indexes
from labelmesh.review.api import grpc, rest
from labelmesh.review.arrivals import Arrivals
from labelmesh.review.config import ReviewSettings
from labelmesh.review.contexts import ProjectContexts
from labelmesh.review.facade import ReviewApi
from labelmesh.review.handlers import TABLE, FetchStarter, ReviewFetch
from labelmesh.review.metrics import ReviewMetrics
from labelmesh.review.ports import ReviewStore
from labelmesh.review.quality import Quality
from labelmesh.review.recorder import SERVICE, Recorder
from labelmesh.review.review_tasks import ReviewTasks
from labelmesh.review.secured import SecuredReview

# A fetch's annotations are taken in by transactions of at most this many: a backlog then
# costs the same per annotation as a trickle, where one transaction of a whole fetch of
# 500 would ask SecantusDB for hundreds of ids at once (quadratic there).
MAX_PER_TRANSACTION = 100


@dataclass(frozen=True)
class ReviewUseCases:
    """The review service's application layer over some store and unit of work."""

    store: ReviewStore
    contexts: ProjectContexts
    arrivals: Arrivals
    tasks: ReviewTasks
    quality: Quality
    api: ReviewApi
    dispatcher: Dispatcher[ReviewFetch]


def use_cases(store: ReviewStore, uow: UnitOfWork, metrics: ReviewMetrics) -> ReviewUseCases:
    """Every use case and the event dispatcher, on the given repositories."""
    contexts = ProjectContexts(store)
    recorder = Recorder(store)
    arrivals = Arrivals(store, recorder)
    tasks = ReviewTasks(store, contexts, recorder, uow, metrics)
    quality = Quality(store, contexts, uow)
    start = FetchStarter(arrivals, quality, contexts, metrics)
    return ReviewUseCases(
        store=store,
        contexts=contexts,
        arrivals=arrivals,
        tasks=tasks,
        quality=quality,
        api=ReviewApi(store, contexts, tasks, quality),
        dispatcher=Dispatcher(
            TABLE, uow, consumer=SERVICE, start=start, max_per_transaction=MAX_PER_TRANSACTION
        ),
    )


@dataclass(frozen=True)
class ReviewApp:
    use_cases: ReviewUseCases
    service: ServiceDefinition


def build_app(settings: ReviewSettings) -> ReviewApp:
    platform = Platform(SERVICE, settings)
    store = MongoReviewStore.on(platform.db)
    wired = use_cases(store, platform.uow, ReviewMetrics(platform.registry))
    secured = SecuredReview(wired.api, ProjectGate(directory_organizations(store.projects.get)))
    service = ServiceDefinition(
        platform=platform,
        router=rest.router(secured),
        grpc_services=[grpc.grpc_service(secured, platform.authenticator)],
        events=wired.dispatcher,
        on_start=partial(ensure_indexes, platform.db),
    )
    return ReviewApp(wired, service)


def build(settings: ReviewSettings) -> ServiceDefinition:
    return build_app(settings).service
