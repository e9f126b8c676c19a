"""The URL fetcher against a real HTTP server on the loopback interface, which
the tests' address policy allows explicitly."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import pytest

from labelmesh.ingest.adapters.fetcher import HttpFetcher, Resolver
from labelmesh.ingest.addresses import AddressPolicy
from labelmesh.ingest.fetching import BytePool, FetchFailed

from .conftest import HUGE_BYTES, PNG, MediaServer, TlsMediaServer

pytestmark = pytest.mark.integration
LOOPBACK = AddressPolicy((ipaddress.ip_network("127.0.0.0/8"),))
MAX_BYTES = 1024 * 1024


def fetcher_with(policy: AddressPolicy = LOOPBACK, resolve: Resolver | None = None) -> HttpFetcher:
    if resolve is None:
        return HttpFetcher(policy, MAX_BYTES, connect_timeout=2, total_timeout=1)
    return HttpFetcher(policy, MAX_BYTES, connect_timeout=2, total_timeout=1, resolve=resolve)


@pytest.fixture
async def fetcher() -> AsyncIterator[HttpFetcher]:
    fetcher = fetcher_with()
    yield fetcher
    await fetcher.close()


async def failure(fetcher: HttpFetcher, url: str, pool: BytePool | None = None) -> FetchFailed:
    with pytest.raises(FetchFailed) as failed:
        await fetcher.fetch(url, pool)
    return failed.value


async def test_the_content_type_is_sniffed_from_the_bytes_not_the_header(
    fetcher: HttpFetcher, media_server: MediaServer
) -> None:
    image = await fetcher.fetch(media_server.url("/cat.png"))
    assert (image.content, image.content_type, image.filename) == (PNG, "image/png", "cat.png")
    note = await fetcher.fetch(media_server.url("/note?lang=fr"))
    assert note.content_type == "text/plain; charset=utf-8"
    assert note.content.decode() == "une note, é"
    unsupported = await failure(fetcher, media_server.url("/blob"))
    assert unsupported.outcome == "unsupported"


async def test_redirects_are_followed_and_each_hop_is_checked(
    fetcher: HttpFetcher, media_server: MediaServer
) -> None:
    assert (await fetcher.fetch(media_server.url("/hop"))).content == PNG
    denied = await failure(fetcher, media_server.url("/to-metadata"))
    assert denied.outcome == "denied"
    assert "169.254.169.254 is a link-local address" in denied.reason
    looping = await failure(fetcher, media_server.url("/loop"))
    assert (looping.outcome, looping.reason) == ("redirects", "more than 5 redirects")
    assert media_server.hosts.count(f"127.0.0.1:{media_server.port}") == 2 + 1 + 6


async def test_a_loopback_server_is_denied_unless_its_network_is_allowed(
    media_server: MediaServer,
) -> None:
    strict = fetcher_with(AddressPolicy())
    denied = await failure(strict, media_server.url("/cat.png"))
    assert (denied.outcome, denied.reason) == (
        "denied",
        "host '127.0.0.1': 127.0.0.1 is a loopback address",
    )
    assert media_server.hosts == [], "nothing was sent to a denied address"
    await strict.close()


async def test_it_connects_to_the_address_it_checked_and_names_the_host(
    media_server: MediaServer,
) -> None:
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    pinned = fetcher_with(resolve=resolve)
    url = f"http://media.example:{media_server.port}/cat.png"
    assert (await pinned.fetch(url)).content == PNG
    assert asked == ["media.example"], "resolved once, and connected to that answer"
    assert media_server.hosts == [f"media.example:{media_server.port}"]
    await pinned.close()


async def test_a_name_with_any_denied_address_is_refused(media_server: MediaServer) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1", "10.1.2.3"]

    mixed = fetcher_with(resolve=resolve)
    denied = await failure(mixed, f"http://media.example:{media_server.port}/cat.png")
    assert denied.outcome == "denied" and "10.1.2.3 is a private address" in denied.reason
    assert media_server.hosts == []
    await mixed.close()


async def test_an_answer_over_the_limit_is_refused_without_reading_it_all(
    fetcher: HttpFetcher, media_server: MediaServer
) -> None:
    declared = await failure(fetcher, media_server.url("/declared-huge"))
    assert declared.outcome == "too_large"
    assert declared.reason == f"declares {HUGE_BYTES} bytes, over the limit of {MAX_BYTES}"
    media_server.huge_written[0] = 0
    streamed = await failure(fetcher, media_server.url("/huge"))
    assert (streamed.outcome, streamed.reason) == (
        "too_large",
        f"more than the limit of {MAX_BYTES} bytes",
    )
    # The server's writes stopped once the client hung up, far short of the whole.
    assert media_server.huge_written[0] < HUGE_BYTES / 4


async def test_fetches_share_a_requests_byte_pool_and_give_back_what_failed(
    fetcher: HttpFetcher, media_server: MediaServer
) -> None:
    pool = BytePool(len(PNG) + 10)
    await fetcher.fetch(media_server.url("/cat.png"), pool)
    assert pool.held == len(PNG)
    over = await failure(fetcher, media_server.url("/cat.png"), pool)
    assert over.outcome == "batch_full" and "import fewer per request" in over.reason
    assert pool.held == len(PNG)


async def test_slow_missing_and_unreachable_answers_fail_with_their_reason(
    fetcher: HttpFetcher, media_server: MediaServer
) -> None:
    slow = await failure(fetcher, media_server.url("/slow"))
    assert (slow.outcome, slow.reason) == ("timeout", "no whole answer within 1 s")
    missing = await failure(fetcher, media_server.url("/missing"))
    assert (missing.outcome, missing.reason) == ("http_status", "HTTP 404")
    refused = await failure(fetcher, "http://127.0.0.1:9/nothing-listens")
    assert refused.outcome == "failed"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://127.0.0.1/a.png", "scheme 'ftp' is not http or https"),
        ("file:///etc/passwd", "scheme 'file' is not http or https"),
        ("http://user:pw@127.0.0.1/a.png", "user info (user:password@) is not allowed in URLs"),
        ("http:///a.png", "no host"),
    ],
)
async def test_urls_that_cannot_be_fetched_are_refused_before_any_connection(
    fetcher: HttpFetcher, url: str, why: str
) -> None:
    refused = await failure(fetcher, url)
    assert (refused.outcome, refused.reason) == ("invalid_url", why)


async def test_https_verifies_the_original_host_while_connecting_to_the_checked_address(
    tls_media_server: TlsMediaServer,
) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    fetcher = HttpFetcher(
        LOOPBACK,
        MAX_BYTES,
        connect_timeout=2,
        total_timeout=5,
        resolve=resolve,
        verify=tls_media_server.trust,
    )
    port = tls_media_server.port
    fetched = await fetcher.fetch(f"https://media.example:{port}/cat.png")
    assert fetched.content == PNG
    assert tls_media_server.server_names == ["media.example"]
    # The same address under a name its certificate does not hold: refused.
    wrong = await failure(fetcher, f"https://other.example:{port}/cat.png")
    assert wrong.outcome == "failed" and "certificate" in wrong.reason.lower()
    await fetcher.close()
