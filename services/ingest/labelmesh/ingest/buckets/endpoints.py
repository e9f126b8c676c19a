"""Whether a bucket's endpoint may be reached: the URL imports' address policy
applied to every address its host resolves to."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from labelmesh.ingest.adapters.fetcher import Resolver, system_resolver
from labelmesh.ingest.addresses import AddressPolicy
from labelmesh.ingest.buckets.ports import BucketUnreadable
from labelmesh.ingest.buckets.registration import host_and_port
from labelmesh.v1.ingest_service_pb2 import Bucket


@dataclass(frozen=True)
class EndpointCheck:
    policy: AddressPolicy
    resolve: Resolver = system_resolver

    async def check(self, bucket: Bucket) -> None:
        """Raise BucketUnreadable saying why the endpoint may not be reached."""
        host, port = host_and_port(bucket)
        try:
            addresses = await self.resolve(host, port)
        except (socket.gaierror, UnicodeError) as exc:
            raise BucketUnreadable(f"endpoint: host {host!r} not found: {exc}") from None
        if not addresses:
            raise BucketUnreadable(f"endpoint: host {host!r} has no address")
        for address in addresses:
            denial = self.policy.denial(ipaddress.ip_address(address))
            if denial:
                raise BucketUnreadable(
                    f"endpoint: host {host!r}: {denial}; LABELMESH_INGEST_URL_ALLOW_NETWORKS "
                    "lists the private networks ingest may reach"
                )
