"""HTTP calls to the services: the credential on every request, and retries
of what the server shed or never answered, with backoff."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from labelmesh.sdk.endpoints import Endpoints
from labelmesh.sdk.errors import ApiError, Overloaded, Unreachable, error_of

USER_AGENT = "labelmesh-sdk/0.1.0"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before sending a request again."""

    attempts: int = 5
    first_delay: float = 0.25
    max_delay: float = 10.0

    def delay(self, attempt: int, advised: float | None) -> float:
        """The wait before try `attempt + 1`: the server's Retry-After when it gave
        one, else exponential backoff with full jitter."""
        if advised is not None:
            return min(advised, self.max_delay)
        ceiling = min(self.max_delay, self.first_delay * 2**attempt)
        return random.uniform(0, ceiling)


class Transport:
    """One connection pool for every service; safe to share between tasks."""

    def __init__(
        self,
        endpoints: Endpoints,
        credential: str,
        *,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        max_connections: int = 32,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.retry = retry or RetryPolicy()
        self._http = http or httpx.AsyncClient(
            timeout=timeout,
            limits=httpx.Limits(max_connections=max_connections),
            headers={"authorization": f"Bearer {credential}", "user-agent": USER_AGENT},
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def call(
        self,
        method: str,
        service: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        files: Any = None,
        retry: bool = True,
    ) -> httpx.Response:
        """Send a request and return its successful response; raise `ApiError` or
        `Unreachable`. With `retry`, a shed request (429/503) or one that got no
        answer is sent again: only pass it for calls that are safe to repeat."""
        url = self.endpoints.url(service, path)
        attempts = self.retry.attempts if retry else 1
        for attempt in range(attempts):
            try:
                response = await self._http.request(
                    method, url, json=json, params=clean(params), data=data, files=files
                )
            except httpx.TransportError as exc:
                if attempt + 1 == attempts:
                    raise Unreachable(f"{method} {url}: {exc!r}") from exc
                await asyncio.sleep(self.retry.delay(attempt, None))
                continue
            if response.is_success:
                return response
            error = error_of(response)
            if isinstance(error, Overloaded) and attempt + 1 < attempts:
                await asyncio.sleep(self.retry.delay(attempt, error.retry_after))
                continue
            raise error
        raise AssertionError("unreachable")

    async def json(self, method: str, service: str, path: str, **kwargs: Any) -> Any:
        response = await self.call(method, service, path, **kwargs)
        return response.json() if response.content else {}

    @asynccontextmanager
    async def stream(
        self, service: str, path: str, params: Mapping[str, Any] | None = None
    ) -> AsyncIterator[httpx.Response]:
        """A GET whose body is read as it arrives."""
        url = self.endpoints.url(service, path)
        try:
            async with self._http.stream("GET", url, params=clean(params)) as response:
                if not response.is_success:
                    await response.aread()
                    raise error_of(response)
                yield response
        except httpx.TransportError as exc:
            raise Unreachable(f"GET {url}: {exc!r}") from exc


def clean(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Query parameters without the ones left unset."""
    if params is None:
        return None
    return {k: v for k, v in params.items() if v not in (None, "", [], 0)}


__all__ = ["ApiError", "RetryPolicy", "Transport"]
