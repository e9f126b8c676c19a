from __future__ import annotations

import pytest

from labelmesh.sdk.endpoints import SERVICES, Endpoints


def test_one_host_puts_every_service_at_its_usual_port() -> None:
    endpoints = Endpoints.host("labelmesh.internal")
    assert endpoints.url("ingest", "/v1/items/x") == "http://labelmesh.internal:8081/v1/items/x"
    assert endpoints.urls["dataset"] == "http://labelmesh.internal:8087"


def test_a_gateway_routes_each_service_under_api() -> None:
    endpoints = Endpoints.gateway("https://lm.example.com/")
    assert endpoints.url("audit", "/v1/audit/entries") == (
        "https://lm.example.com/api/audit/v1/audit/entries"
    )


def test_a_spec_reads_back_as_the_same_endpoints() -> None:
    endpoints = Endpoints.gateway("https://lm.example.com")
    assert Endpoints.parse(endpoints.spec()) == endpoints
    assert Endpoints.parse("host:10.0.0.5") == Endpoints.host("10.0.0.5")


def test_a_spec_must_name_every_service_with_an_http_url() -> None:
    with pytest.raises(ValueError, match="no URL for the service"):
        Endpoints.parse("ingest=http://a:1")
    with pytest.raises(ValueError, match="not <service>=<url>"):
        Endpoints.parse("nothing=http://a:1")
    with pytest.raises(ValueError, match="must be http or https"):
        Endpoints({service: "ftp://a" for service in SERVICES})
