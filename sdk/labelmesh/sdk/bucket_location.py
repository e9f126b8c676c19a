"""Where a bucket's objects are: `s3://bucket/prefix` or a bucket's name, and
the S3 endpoint serving it as host or host:port."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

# S3 and its look-alikes (MinIO, Ceph) accept these; older AWS buckets may
# have capitals and underscores, so the server has the last word.
BUCKET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class BucketSettingError(ValueError):
    """A bucket setting the SDK refuses before sending; `field` names which."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class BucketLocation:
    """A bucket and the prefix of the keys to sync (empty for all of them)."""

    bucket: str
    prefix: str = ""

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def parse_s3_uri(uri: str) -> BucketLocation:
    """`s3://bucket` or `s3://bucket/prefix`; a ValueError names anything else."""
    scheme, separator, rest = uri.partition("://")
    if not separator or scheme.lower() != "s3":
        raise BucketSettingError("uri", f"{uri!r} is not s3://bucket/prefix")
    bucket, _, prefix = rest.partition("/")
    return BucketLocation(checked_bucket(bucket, uri), prefix)


def location_of(uri_or_bucket: str, prefix: str = "") -> BucketLocation:
    """The location an `s3://` URI or a bucket's name and `prefix` stand for."""
    if "://" not in uri_or_bucket:
        return BucketLocation(checked_bucket(uri_or_bucket, uri_or_bucket), prefix)
    location = parse_s3_uri(uri_or_bucket)
    if prefix and location.prefix:
        raise BucketSettingError(
            "prefix",
            f"{uri_or_bucket!r} has a prefix already; give it there or as prefix, not both",
        )
    return BucketLocation(location.bucket, location.prefix or prefix)


def checked_bucket(bucket: str, given: str) -> str:
    if not BUCKET_NAME.fullmatch(bucket):
        raise BucketSettingError(
            "bucket", f"{given!r} names no bucket; give a bucket's name or s3://bucket/prefix"
        )
    return bucket


def checked_endpoint(endpoint: str) -> str:
    """`endpoint` if it is host or host:port, such as "minio.internal:9000"."""
    if "://" in endpoint:
        raise BucketSettingError(
            "endpoint",
            f"{endpoint!r} is a URL; give host or host:port "
            "(and secure=False, or --insecure, for plain HTTP)",
        )
    parts = urlsplit(f"//{endpoint}")
    try:
        port = parts.port
    except ValueError as exc:
        raise BucketSettingError("endpoint", f"{endpoint!r} has no valid port: {exc}") from exc
    extra = parts.path or parts.query or parts.fragment or parts.username
    spaced = any(c.isspace() for c in endpoint)
    if not parts.hostname or extra or spaced or port == 0 or endpoint.endswith(":"):
        raise BucketSettingError("endpoint", f"{endpoint!r} is not host or host:port")
    return endpoint
