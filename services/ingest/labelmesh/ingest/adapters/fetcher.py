"""Fetches a URL for a URL import, guarded against server-side request forgery.

Each hop resolves its host, refuses it if any address is not allowed by the
AddressPolicy, and connects to the address it checked (the request URL names
that address; the Host header and TLS SNI name the original host), so that a
name that resolves differently a moment later (DNS rebinding) cannot send the
request elsewhere. Redirects are followed here, each hop checked the same way.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from labelmesh.ingest.addresses import AddressPolicy
from labelmesh.ingest.fetching import BytePool, FetchBudget, Fetched, FetchFailed
from labelmesh.ingest.sniff import sniffed_type
from labelmesh.ingest.urls import BadUrl, Target, redirect_target, target_of

MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# host, port -> the addresses the name resolves to.
Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system's resolver gives for `host`, in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for *_, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


@dataclass
class HttpFetcher:
    """Fetches http(s) URLs within the policy, the size limit and the time limits."""

    policy: AddressPolicy
    max_bytes: int
    connect_timeout: float
    total_timeout: float
    resolve: Resolver = system_resolver
    # How certificates are verified; a context trusting a test's own CA in tests.
    verify: ssl.SSLContext | bool = True

    def __post_init__(self) -> None:
        # No connection is reused: a pooled connection is keyed by the address it
        # reached, and reusing it for another host would skip that host's TLS check.
        self.client = httpx.AsyncClient(
            trust_env=False,
            follow_redirects=False,
            verify=self.verify,
            timeout=httpx.Timeout(self.total_timeout, connect=self.connect_timeout),
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    async def fetch(self, url: str, pool: BytePool | None = None) -> Fetched:
        """The URL's bytes and sniffed media type; FetchFailed says why not. With
        `pool`, the bytes are drawn from it, and given back if the fetch fails."""
        try:
            target = target_of(url)
        except BadUrl as exc:
            raise FetchFailed("invalid_url", str(exc)) from None
        budget = FetchBudget(self.max_bytes, pool)
        try:
            try:
                async with asyncio.timeout(self.total_timeout):
                    content = await self._follow(target, budget)
            except TimeoutError:
                reason = f"no whole answer within {self.total_timeout:g} s"
                raise FetchFailed("timeout", reason) from None
            media_type = sniffed_type(content)
            if media_type is None:
                reason = "the content is not an image, audio, video or UTF-8 text"
                raise FetchFailed("unsupported", reason)
        except BaseException:
            budget.release()
            raise
        return Fetched(content=content, content_type=media_type, filename=target.filename)

    async def close(self) -> None:
        await self.client.aclose()

    async def _follow(self, target: Target, budget: FetchBudget) -> bytes:
        for _ in range(MAX_REDIRECTS + 1):
            address = await self._checked_address(target)
            location = await self._get(target, address, budget)
            if location is None:
                return budget.content()
            try:
                target = redirect_target(target, location)
            except BadUrl as exc:
                raise FetchFailed("invalid_url", f"redirect to {location!r}: {exc}") from None
        raise FetchFailed("redirects", f"more than {MAX_REDIRECTS} redirects")

    async def _checked_address(self, target: Target) -> str:
        """The address to connect to: the first the host resolves to, if all are allowed."""
        try:
            addresses = await self.resolve(target.host, target.port)
        except (socket.gaierror, UnicodeError) as exc:
            raise FetchFailed("failed", f"host {target.host!r} not found: {exc}") from None
        if not addresses:
            raise FetchFailed("failed", f"host {target.host!r} has no address")
        for address in addresses:
            denial = self.policy.denial(ipaddress.ip_address(address))
            if denial:
                raise FetchFailed("denied", f"host {target.host!r}: {denial}")
        return addresses[0]

    async def _get(self, target: Target, address: str, budget: FetchBudget) -> str | None:
        """Read the answer into `budget`; the Location of a redirect, or None when read."""
        headers = {"Host": target.host_header, "Accept-Encoding": "identity"}
        request = self.client.build_request(
            "GET",
            target.pinned_url(address),
            headers=headers,
            extensions={"sni_hostname": target.host},
        )
        try:
            response = await self.client.send(request, stream=True)
            try:
                return await self._read(response, budget)
            finally:
                await response.aclose()
        except httpx.TimeoutException:
            raise FetchFailed("timeout", f"{target.host} did not answer in time") from None
        except httpx.HTTPError as exc:
            raise FetchFailed("failed", f"{target.host}: {exc or type(exc).__name__}") from None

    async def _read(self, response: httpx.Response, budget: FetchBudget) -> str | None:
        if response.status_code in REDIRECTS:
            location: str = response.headers.get("location", "")
            return location
        if response.status_code != 200:
            raise FetchFailed("http_status", f"HTTP {response.status_code}")
        encoding = response.headers.get("content-encoding", "identity").lower()
        if encoding != "identity":
            raise FetchFailed("unsupported", f"Content-Encoding {encoding}: only identity")
        declared = response.headers.get("content-length")
        if declared and declared.isdigit():
            budget.check(int(declared))
        # Counted as it arrives, so that an answer over the limit stops being read.
        async for chunk in response.aiter_raw():
            budget.add(chunk)
        return None
