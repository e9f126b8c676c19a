"""Where each LabelMesh service answers: one host with the services' own
ports (`make run`), one gateway that routes `/api/<service>/`, or a URL per
service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

SERVICES = ("access", "ingest", "inference", "annotation", "review", "audit", "dataset")
# The REST ports `make run` gives the services.
DEFAULT_PORTS = {
    "ingest": 8081,
    "inference": 8082,
    "annotation": 8083,
    "review": 8084,
    "audit": 8085,
    "access": 8086,
    "dataset": 8087,
}


@dataclass(frozen=True)
class Endpoints:
    """The REST base URL of every service."""

    urls: Mapping[str, str]

    def __post_init__(self) -> None:
        missing = [service for service in SERVICES if service not in self.urls]
        if missing:
            raise ValueError(f"no URL for the service(s) {', '.join(missing)}")
        for service, url in self.urls.items():
            if urlsplit(url).scheme not in ("http", "https"):
                raise ValueError(f"the URL of {service} must be http or https, not {url!r}")

    @classmethod
    def host(cls, host: str = "localhost", scheme: str = "http") -> Endpoints:
        """Every service on one host at the ports `make run` gives them."""
        return cls({s: f"{scheme}://{host}:{port}" for s, port in DEFAULT_PORTS.items()})

    @classmethod
    def gateway(cls, base_url: str) -> Endpoints:
        """Every service behind one origin that routes `/api/<service>/` to it."""
        base = base_url.rstrip("/")
        return cls({service: f"{base}/api/{service}" for service in SERVICES})

    @classmethod
    def parse(cls, spec: str) -> Endpoints:
        """`host:<name>`, `gateway:<url>`, or `<service>=<url>,...` for every service."""
        kind, _, rest = spec.partition(":")
        if kind == "host" and rest:
            return cls.host(rest)
        if kind == "gateway" and rest:
            return cls.gateway(rest)
        urls: dict[str, str] = {}
        for part in filter(None, spec.split(",")):
            service, sep, url = part.partition("=")
            if not sep or service not in SERVICES:
                known = ", ".join(SERVICES)
                raise ValueError(f"{part!r} is not <service>=<url> for one of {known}")
            urls[service] = url.rstrip("/")
        return cls(urls)

    def spec(self) -> str:
        """The form `parse` reads back."""
        return ",".join(f"{service}={self.urls[service]}" for service in SERVICES)

    def url(self, service: str, path: str) -> str:
        return f"{self.urls[service]}{path}"
