"""Media that stays in a customer's bucket, read over HTTP from the presigned
URL that comes with its item, within a size and a time limit."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from labelmesh.inference.ports import MediaUnreadable


@dataclass(eq=False)
class MediaUrlReader:
    """Reads one URL's answer of at most `max_bytes` within `timeout_seconds`."""

    max_bytes: int
    timeout_seconds: float

    def __post_init__(self) -> None:
        # A presigned URL answers itself: a redirect would lead somewhere not signed for.
        self.client = httpx.AsyncClient(follow_redirects=False, timeout=self.timeout_seconds)

    async def read(self, url: str) -> bytes:
        """The URL's bytes; MediaUnreadable says why there are none."""
        try:
            async with asyncio.timeout(self.timeout_seconds):
                return await self._read(url)
        except (TimeoutError, httpx.TimeoutException):
            raise MediaUnreadable(f"no whole answer within {self.timeout_seconds:g} s") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise MediaUnreadable(f"could not be read ({type(exc).__name__}: {exc})") from None

    async def _read(self, url: str) -> bytes:
        async with self.client.stream("GET", url) as answer:
            if answer.status_code != httpx.codes.OK:
                raise MediaUnreadable(f"answered HTTP {answer.status_code}")
            declared = answer.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise MediaUnreadable(
                    f"declares {declared} bytes, over the limit of {self.max_bytes}"
                )
            media = bytearray()
            async for chunk in answer.aiter_bytes():
                media += chunk
                # Checked as it arrives: an answer without a length stops at the limit.
                if len(media) > self.max_bytes:
                    raise MediaUnreadable(f"sent more than the limit of {self.max_bytes} bytes")
            return bytes(media)

    async def close(self) -> None:
        await self.client.aclose()
