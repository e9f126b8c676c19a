"""Reading media from URLs, against a real HTTP server on the loopback interface."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from labelmesh.inference.adapters.media_urls import MediaUrlReader
from labelmesh.inference.ports import MediaUnreadable
from labelmesh.testing.media_urls import Answer, MediaUrlServer, media_url_server

LIMIT = 1024


@pytest.fixture
def server() -> Iterator[MediaUrlServer]:
    with media_url_server() as running:
        yield running


@pytest.fixture
async def reader() -> AsyncIterator[MediaUrlReader]:
    urls = MediaUrlReader(LIMIT, timeout_seconds=0.5)
    yield urls
    await urls.close()


async def unreadable(reader: MediaUrlReader, url: str) -> str:
    with pytest.raises(MediaUnreadable) as failed:
        await reader.read(url)
    return failed.value.reason


async def test_the_answer_is_the_media(server: MediaUrlServer, reader: MediaUrlReader) -> None:
    url = server.serve("/bucket/cat.png", b"\x89PNG cat")
    assert await reader.read(f"{url}?X-Amz-Signature=abc") == b"\x89PNG cat"
    assert await reader.read(server.serve("/exact", b"a" * LIMIT)) == b"a" * LIMIT
    assert await reader.read(server.serve("/empty", b"")) == b""
    streamed = Answer(b"b" * LIMIT, declare_length=False)
    assert await reader.read(server.serve("/streamed", streamed)) == b"b" * LIMIT


async def test_a_missing_object_is_its_status(
    server: MediaUrlServer, reader: MediaUrlReader
) -> None:
    assert await unreadable(reader, server.url("/bucket/gone.png")) == "answered HTTP 404"
    assert server.requested == ["/bucket/gone.png"]


async def test_an_answer_over_the_limit_is_refused(
    server: MediaUrlServer, reader: MediaUrlReader
) -> None:
    declared = server.serve("/declared", b"a" * (LIMIT + 1))
    assert (
        await unreadable(reader, declared)
        == f"declares {LIMIT + 1} bytes, over the limit of {LIMIT}"
    )
    # 64 MiB without a length: reading stops at the limit instead of at the end.
    streamed = server.serve("/streamed", Answer(b"a" * (64 << 20), declare_length=False))
    assert await unreadable(reader, streamed) == f"sent more than the limit of {LIMIT} bytes"


async def test_a_slow_answer_times_out(server: MediaUrlServer, reader: MediaUrlReader) -> None:
    slow = server.serve("/slow", Answer(b"late", delay_seconds=30))
    assert await unreadable(reader, slow) == "no whole answer within 0.5 s"


async def test_an_unreachable_or_malformed_url_says_why(
    server: MediaUrlServer, reader: MediaUrlReader
) -> None:
    with media_url_server() as stopped:
        gone = stopped.url("/cat.png")
    assert (await unreadable(reader, gone)).startswith("could not be read (ConnectError")
    malformed = await unreadable(reader, "ftp://bucket/cat.png")
    assert malformed.startswith("could not be read (UnsupportedProtocol")
