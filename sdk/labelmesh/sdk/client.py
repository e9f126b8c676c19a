"""The clients: `AsyncClient` for asyncio code, `Client` for everything else.

Both take the services' `Endpoints` and a credential (an API key
`lm_<id>_<secret>` or an OIDC access token) and offer the same resources:

    with Client(Endpoints.host("localhost"), api_key) as lm:
        project = lm.projects.create("reviews", "TEXT", ["positive", "negative"])
        report = lm.items.upload_folder(project.project_id, "photos/", log="upload.log")
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Self, TypeVar

from labelmesh.sdk import resources
from labelmesh.sdk.endpoints import Endpoints
from labelmesh.sdk.transport import RetryPolicy, Transport

T = TypeVar("T")


class AsyncClient:
    """Every resource of a LabelMesh deployment, over one connection pool."""

    def __init__(
        self,
        endpoints: Endpoints,
        credential: str,
        *,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        max_connections: int = 32,
    ) -> None:
        self.transport = Transport(
            endpoints, credential, timeout=timeout, retry=retry, max_connections=max_connections
        )
        self.projects = resources.Projects(self.transport)
        self.items = resources.Items(self.transport)
        self.tasks = resources.Tasks(self.transport)
        self.annotations = resources.Annotations(self.transport)
        self.suggestions = resources.Suggestions(self.transport)
        self.reviews = resources.Reviews(self.transport)
        self.reports = resources.Reports(self.transport)
        self.models = resources.Models(self.transport)
        self.datasets = resources.Datasets(self.transport)
        self.exports = resources.Exports(self.transport)
        self.buckets = resources.Buckets(self.transport)
        self.audit = resources.Audit(self.transport)
        self.access = resources.Access(self.transport)

    async def close(self) -> None:
        await self.transport.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class Portal:
    """An event loop on a thread of its own, which blocking code hands coroutines to."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def iterate(self, iterator: AsyncIterator[T]) -> Iterator[T]:
        while True:
            try:
                yield self.run(_next(iterator))
            except StopAsyncIteration:
                return

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


class Blocking:
    """A resource of the async client whose methods block until done: a
    coroutine's result is returned, an async iterator becomes an iterator."""

    def __init__(self, resource: object, portal: Portal) -> None:
        self._resource = resource
        self._portal = portal

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._resource, name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            if inspect.iscoroutine(result):
                return self._portal.run(result)
            if isinstance(result, AsyncIterator):
                return self._portal.iterate(result)
            return result

        call.__doc__ = method.__doc__
        return call

    def __dir__(self) -> list[str]:
        return [name for name in dir(self._resource) if not name.startswith("_")]


class Client:
    """The blocking client: the async client's resources, each call run to
    completion. Progress callbacks run on the client's own thread."""

    def __init__(self, endpoints: Endpoints, credential: str, **options: Any) -> None:
        self._portal = Portal()
        self._async = self._portal.run(_make(endpoints, credential, options))
        wrap: Callable[[object], Any] = lambda resource: Blocking(resource, self._portal)  # noqa: E731
        self.projects = wrap(self._async.projects)
        self.items = wrap(self._async.items)
        self.tasks = wrap(self._async.tasks)
        self.annotations = wrap(self._async.annotations)
        self.suggestions = wrap(self._async.suggestions)
        self.reviews = wrap(self._async.reviews)
        self.reports = wrap(self._async.reports)
        self.models = wrap(self._async.models)
        self.datasets = wrap(self._async.datasets)
        self.exports = wrap(self._async.exports)
        self.buckets = wrap(self._async.buckets)
        self.audit = wrap(self._async.audit)
        self.access = wrap(self._async.access)

    def close(self) -> None:
        self._portal.run(self._async.close())
        self._portal.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


async def _make(endpoints: Endpoints, credential: str, options: dict[str, Any]) -> AsyncClient:
    # httpx's pool belongs to the loop it is made on: the portal's.
    return AsyncClient(endpoints, credential, **options)


async def _next(iterator: AsyncIterator[T]) -> T:
    return await anext(iterator)
