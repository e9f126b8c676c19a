"""Which addresses a URL import may connect to: the server-side request forgery
policy. Pure: the fetcher resolves names and asks this module about each address."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# The well-known NAT64 prefix (RFC 6052): its last 32 bits are an IPv4 address.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Deprecated IPv4-compatible addresses (RFC 4291 2.5.5.1), "::a.b.c.d".
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def parse_networks(raw: str) -> tuple[Network, ...]:
    """Comma-separated CIDRs, such as "10.0.0.0/8, fd00::/8"; ValueError names a bad one."""
    networks = []
    for part in raw.split(","):
        cidr = part.strip()
        if not cidr:
            continue
        try:
            networks.append(ipaddress.ip_network(cidr, strict=False))
        except ValueError as exc:
            raise ValueError(f"{cidr!r} is not a network in CIDR form: {exc}") from None
    return tuple(networks)


@dataclass(frozen=True)
class AddressPolicy:
    """Public addresses only, unless in one of the `allowed` networks."""

    allowed: tuple[Network, ...] = ()

    def denial(self, address: Address) -> str | None:
        """Why the address may not be connected to, or None when it may.

        An IPv6 form that carries an IPv4 address (IPv4-mapped, IPv4-compatible,
        6to4, Teredo, NAT64) is judged by the IPv4 address it reaches.
        """
        embedded: list[Address] = list(_embedded_ipv4(address))
        for candidate in embedded or [address]:
            reason = self._plain_denial(candidate)
            if reason:
                shown = f"{address} (reaching {candidate})" if embedded else str(address)
                return f"{shown} is {reason} address"
        return None

    def _plain_denial(self, address: Address) -> str | None:
        if any(address.version == n.version and address in n for n in self.allowed):
            return None
        return special_kind(address)


def special_kind(address: Address) -> str | None:
    """The kind of non-public address this is ("a loopback", ...), or None if public."""
    checks = (
        (address.is_unspecified, "an unspecified"),
        (address.is_loopback, "a loopback"),
        (address.is_link_local, "a link-local"),
        (address.is_multicast, "a multicast"),
        (address.is_private, "a private"),
        (address.is_reserved, "a reserved"),
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "a site-local"),
        # Shared address space (100.64.0.0/10), documentation ranges and the like.
        (not address.is_global, "a non-public"),
    )
    return next((kind for flagged, kind in checks if flagged), None)


def _embedded_ipv4(address: Address) -> Iterator[ipaddress.IPv4Address]:
    if not isinstance(address, ipaddress.IPv6Address):
        return
    if address.ipv4_mapped is not None:
        yield address.ipv4_mapped
    if address.sixtofour is not None:
        yield address.sixtofour
    if address.teredo is not None:
        yield from address.teredo
    if address in NAT64 or (address in IPV4_COMPATIBLE and int(address) > 1):
        yield ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
