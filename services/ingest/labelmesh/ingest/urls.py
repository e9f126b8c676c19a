"""The URLs a URL import may fetch, and the request that reaches a checked
address while naming the original host. Pure."""

from __future__ import annotations

import ipaddress
import posixpath
import re
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL_CHARS = 2048
# A DNS name as IDNA writes it: labels of letters, digits and hyphens.
HOSTNAME = re.compile(
    r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.?"
)


class BadUrl(ValueError):
    """The URL cannot be fetched; the message says why."""


@dataclass(frozen=True)
class Target:
    """Where a URL points: the host to resolve and what to ask it for."""

    url: str
    scheme: str
    # The host name as resolved and sent (IDNA, lowercase), or an IP literal.
    host: str
    port: int
    # The path and query, as sent.
    path: str

    @property
    def host_header(self) -> str:
        """The Host header the server expects: the original name, and any non-default port."""
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return shown if DEFAULT_PORTS[self.scheme] == self.port else f"{shown}:{self.port}"

    def pinned_url(self, address: str) -> str:
        """The URL that connects to `address`, checked before, without resolving the host."""
        shown = f"[{address}]" if ":" in address else address
        return f"{self.scheme}://{shown}:{self.port}{self.path}"

    @property
    def filename(self) -> str:
        """The last segment of the path, as a file name."""
        return posixpath.basename(unquote(urlsplit(self.url).path))


def target_of(url: str) -> Target:
    """Parse a URL to fetch; BadUrl unless http(s) with a host and no user info."""
    if len(url) > MAX_URL_CHARS:
        raise BadUrl(f"at most {MAX_URL_CHARS} characters")
    if any(c.isspace() or ord(c) < 0x20 or c == "\\" for c in url):
        raise BadUrl("contains whitespace, control characters or a backslash")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BadUrl(f"not a URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise BadUrl(f"scheme {parts.scheme!r} is not http or https")
    if "@" in parts.netloc:
        raise BadUrl("user info (user:password@) is not allowed in URLs")
    host = _host(parts.hostname or "")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(url, scheme, host, port or DEFAULT_PORTS[scheme], path)


def redirect_target(current: Target, location: str) -> Target:
    """The target a redirect's Location names, relative to the URL that redirected."""
    if not location:
        raise BadUrl("a redirect without a Location")
    return target_of(urljoin(current.url, location))


def _host(raw: str) -> str:
    if not raw:
        raise BadUrl("no host")
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        pass
    try:
        name = raw.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise BadUrl(f"host {raw!r} is not a valid name: {exc}") from None
    if not HOSTNAME.fullmatch(name):
        raise BadUrl(f"host {raw!r} is not a valid name")
    return name.rstrip(".")
