"""The address policy of URL imports: every kind of non-public address is denied,
in IPv4, IPv6 and the IPv6 forms that carry IPv4, unless its network is allowed."""

from __future__ import annotations

import ipaddress
import re

import pytest

from labelmesh.ingest.addresses import AddressPolicy, parse_networks

STRICT = AddressPolicy()


def denial(address: str, policy: AddressPolicy = STRICT) -> str | None:
    return policy.denial(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("0.0.0.0", "an unspecified"),
        ("::", "an unspecified"),
        ("127.0.0.1", "a loopback"),
        ("127.255.0.9", "a loopback"),
        ("::1", "a loopback"),
        ("169.254.169.254", "a link-local"),
        ("169.254.0.1", "a link-local"),
        ("fe80::1", "a link-local"),
        ("224.0.0.1", "a multicast"),
        ("239.255.255.250", "a multicast"),
        ("ff02::1", "a multicast"),
        ("10.0.0.1", "a private"),
        ("172.16.5.4", "a private"),
        ("192.168.1.1", "a private"),
        ("fd12:3456::1", "a private"),
        ("192.0.2.10", "a private"),
        ("2001:db8::1", "a private"),
        ("240.0.0.1", "a private"),
        ("255.255.255.255", "a private"),
        ("fec0::1", "a site-local"),
        ("100.64.0.1", "a non-public"),
    ],
)
def test_every_kind_of_non_public_address_is_denied(address: str, kind: str) -> None:
    assert denial(address) == f"{address} is {kind} address"


@pytest.mark.parametrize(
    ("address", "reached"),
    [
        ("::ffff:127.0.0.1", "127.0.0.1"),
        ("::ffff:169.254.169.254", "169.254.169.254"),
        ("::ffff:10.0.0.1", "10.0.0.1"),
        ("::127.0.0.1", "127.0.0.1"),
        ("2002:7f00:1::1", "127.0.0.1"),
        ("2002:a9fe:a9fe::", "169.254.169.254"),
        ("64:ff9b::a00:1", "10.0.0.1"),
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "10.0.0.1"),
    ],
)
def test_ipv6_forms_that_carry_an_ipv4_address_are_judged_by_it(address: str, reached: str) -> None:
    reason = denial(address)
    assert reason is not None
    shown = ipaddress.ip_address(address)
    assert reason.startswith(f"{shown} (reaching {reached}) is ")


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert denial(address) is None


def test_allowed_networks_open_only_themselves() -> None:
    policy = AddressPolicy(parse_networks("127.0.0.0/8, 10.20.0.0/16,fd00::/8"))
    assert denial("127.0.0.1", policy) is None
    assert denial("::ffff:127.0.0.1", policy) is None
    assert denial("10.20.3.4", policy) is None
    assert denial("fd00::5", policy) is None
    assert denial("10.21.0.1", policy) == "10.21.0.1 is a private address"
    assert denial("169.254.169.254", policy) == "169.254.169.254 is a link-local address"
    assert denial("::1", policy) == "::1 is a loopback address"


def test_networks_are_read_from_a_comma_separated_list() -> None:
    assert parse_networks("") == ()
    assert parse_networks(" 127.0.0.1/8 ,") == (ipaddress.ip_network("127.0.0.0/8"),)
    with pytest.raises(ValueError, match=re.escape("'10.0.0.0/33' is not a network in CIDR form")):
        parse_networks("127.0.0.0/8,10.0.0.0/33")
