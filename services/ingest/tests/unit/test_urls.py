"""Which URLs a URL import fetches, and the request that reaches a checked address."""

from __future__ import annotations

import pytest

from labelmesh.ingest.urls import BadUrl, redirect_target, target_of


def test_a_target_names_its_host_and_connects_to_the_checked_address() -> None:
    target = target_of("https://Media.Example/a/cat%20one.png?size=2#top")
    assert (target.scheme, target.host, target.port, target.path) == (
        "https",
        "media.example",
        443,
        "/a/cat%20one.png?size=2",
    )
    assert target.host_header == "media.example"
    assert target.pinned_url("93.184.215.14") == "https://93.184.215.14:443/a/cat%20one.png?size=2"
    assert target.pinned_url("2606:4700::1") == "https://[2606:4700::1]:443/a/cat%20one.png?size=2"
    assert target.filename == "cat one.png"


def test_ports_ip_literals_and_international_names() -> None:
    assert target_of("http://example.org:8080").host_header == "example.org:8080"
    assert target_of("http://example.org:8080").path == "/"
    assert target_of("http://[::1]:81/x").host_header == "[::1]:81"
    assert target_of("http://bücher.example/").host == "xn--bcher-kva.example"


def test_redirects_resolve_against_the_url_that_redirected() -> None:
    here = target_of("http://a.example/dir/page")
    assert redirect_target(here, "other.png").url == "http://a.example/dir/other.png"
    assert redirect_target(here, "//b.example/x").host == "b.example"
    with pytest.raises(BadUrl, match="scheme 'file'"):
        redirect_target(here, "file:///etc/passwd")
    with pytest.raises(BadUrl, match="without a Location"):
        redirect_target(here, "")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("gopher://a.example/", "scheme"),
        ("a.example/cat.png", "scheme"),
        ("http://u@a.example/", "user info"),
        ("http://a.example\\@127.0.0.1/", "backslash"),
        ("http://a.exa mple/", "whitespace"),
        ("http://a.example:99999/", "not a URL"),
        ("http://a_b.example/", "not a valid name"),
        ("http://" + "a" * 2050 + ".example/", "at most 2048"),
    ],
)
def test_urls_that_are_not_plain_http_are_refused(url: str, why: str) -> None:
    with pytest.raises(BadUrl, match=why):
        target_of(url)
