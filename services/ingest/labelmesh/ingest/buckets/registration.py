"""What registering a bucket checks and records. Pure: no I/O."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from urllib.parse import urlsplit

from labelmesh.core.errors import InvalidField
from labelmesh.v1.ingest_service_pb2 import Bucket, BucketMode, RegisterBucketRequest

BUCKET_SOURCE = "bucket"
DEFAULT_REGION = "us-east-1"
MAX_PREFIX_CHARS = 1024
# S3's rules, loosened as MinIO and older AWS buckets are: capitals and
# underscores pass here and the server has the last word.
BUCKET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{2,62}")
REGION = re.compile(r"[a-z0-9-]{1,64}")
# What a registration holds besides the sync's state, copied field by field.
SETTINGS = (
    "project_id",
    "endpoint",
    "secure",
    "region",
    "bucket",
    "prefix",
    "mode",
    "mirror_deletions",
    "access_key_id",
)


def bucket_id_for(project_id: str, endpoint: str, bucket: str, prefix: str) -> str:
    """A registration's id, from what it is: registering it again finds it."""
    name = "\n".join((project_id, endpoint.lower(), bucket, prefix))
    return "bkt_" + hashlib.sha256(name.encode()).hexdigest()[:24]


def registration(request: RegisterBucketRequest, created_by: str, at: datetime) -> Bucket:
    """The bucket a request registers, with no sync yet; InvalidField names a bad field."""
    if not request.project_id:
        raise InvalidField("project_id", "required")
    endpoint = checked_endpoint(request.endpoint)
    if not BUCKET_NAME.fullmatch(request.bucket):
        raise InvalidField("bucket", f"{request.bucket!r} is not a bucket name")
    if len(request.prefix) > MAX_PREFIX_CHARS:
        raise InvalidField("prefix", f"at most {MAX_PREFIX_CHARS} characters")
    if request.prefix.startswith("/"):
        raise InvalidField("prefix", "keys do not start with '/': leave it out")
    if request.mode not in (BucketMode.BUCKET_MODE_REFERENCE, BucketMode.BUCKET_MODE_COPY):
        raise InvalidField("mode", "BUCKET_MODE_REFERENCE or BUCKET_MODE_COPY is required")
    region = request.region or DEFAULT_REGION
    if not REGION.fullmatch(region):
        raise InvalidField("region", f"{region!r} is not a region such as us-east-1")
    if bool(request.access_key_id) != bool(request.secret_access_key):
        missing = "secret_access_key" if request.access_key_id else "access_key_id"
        raise InvalidField(missing, "give both keys, or neither for a public bucket")
    bucket = Bucket(
        bucket_id=bucket_id_for(request.project_id, endpoint, request.bucket, request.prefix),
        project_id=request.project_id,
        endpoint=endpoint,
        secure=request.secure,
        region=region,
        bucket=request.bucket,
        prefix=request.prefix,
        mode=request.mode,
        mirror_deletions=request.mirror_deletions,
        access_key_id=request.access_key_id,
        created_by=created_by,
    )
    bucket.created_at.FromDatetime(at)
    return bucket


def checked_endpoint(endpoint: str) -> str:
    """`endpoint` if it is host or host:port, such as "minio.internal:9000"."""
    if not endpoint:
        raise InvalidField("endpoint", "required: the S3 endpoint as host or host:port")
    if "://" in endpoint:
        raise InvalidField("endpoint", f"{endpoint!r} is a URL: give host or host:port")
    parts = urlsplit(f"//{endpoint}")
    try:
        port = parts.port
    except ValueError:
        raise InvalidField("endpoint", f"{endpoint!r} has no valid port") from None
    extra = parts.path or parts.query or parts.fragment or parts.username
    if not parts.hostname or extra or port == 0 or endpoint.endswith(":"):
        raise InvalidField("endpoint", f"{endpoint!r} is not host or host:port")
    return endpoint


def host_and_port(bucket: Bucket) -> tuple[str, int]:
    parts = urlsplit(f"//{bucket.endpoint}")
    assert parts.hostname is not None, "registration checked the endpoint"
    return parts.hostname, parts.port or (443 if bucket.secure else 80)


def object_uri(bucket: Bucket, key: str) -> str:
    return f"s3://{bucket.bucket}/{key}"
