from __future__ import annotations

import pytest

from labelmesh.sdk.bucket_location import (
    BucketLocation,
    checked_endpoint,
    location_of,
    parse_s3_uri,
)


def test_an_s3_uri_names_the_bucket_and_the_prefix_after_its_first_slash() -> None:
    assert parse_s3_uri("s3://photos/2024/june/") == BucketLocation("photos", "2024/june/")
    assert parse_s3_uri("S3://photos") == BucketLocation("photos", "")
    assert parse_s3_uri("s3://photos/").uri == "s3://photos/"


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("photos/2024", "not s3://bucket/prefix"),
        ("gs://photos/2024", "not s3://bucket/prefix"),
        ("s3://", "names no bucket"),
        ("s3:///2024", "names no bucket"),
        ("s3://my bucket/x", "names no bucket"),
    ],
)
def test_anything_but_an_s3_uri_is_refused_with_the_reason(uri: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_s3_uri(uri)


def test_a_bucket_is_named_by_uri_or_by_name_and_prefix_but_its_prefix_only_once() -> None:
    assert location_of("photos", "2024/") == BucketLocation("photos", "2024/")
    assert location_of("s3://photos/2024/") == location_of("s3://photos", "2024/")
    with pytest.raises(ValueError, match=r"^prefix: .* not both"):
        location_of("s3://photos/2024/", "2025/")
    with pytest.raises(ValueError, match=r"^bucket: 'photos/2024'"):
        location_of("photos/2024")


def test_an_endpoint_is_a_host_with_an_optional_port() -> None:
    assert checked_endpoint("minio.internal:9000") == "minio.internal:9000"
    assert checked_endpoint("[::1]:9000") == "[::1]:9000"
    assert checked_endpoint("s3.amazonaws.com") == "s3.amazonaws.com"


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("http://minio:9000", "is a URL"),
        ("minio:99999", "no valid port"),
        ("minio:nine", "no valid port"),
        ("minio:", "not host or host:port"),
        ("minio:9000/bucket", "not host or host:port"),
        ("key@minio", "not host or host:port"),
        ("", "not host or host:port"),
    ],
)
def test_an_endpoint_that_is_not_host_and_port_is_refused(endpoint: str, reason: str) -> None:
    with pytest.raises(ValueError, match=rf"^endpoint: .*{reason}"):
        checked_endpoint(endpoint)
