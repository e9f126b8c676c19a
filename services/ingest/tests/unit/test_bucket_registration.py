"""What registering a bucket checks, and the S3 event notifications ingest reads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from labelmesh.core.errors import InvalidField
from labelmesh.ingest.buckets.notifications import CREATED, REMOVED, ObjectEvent
from labelmesh.ingest.buckets.registration import host_and_port, registration
from labelmesh.ingest.buckets.s3_events import UNKNOWN, events_of_notification
from labelmesh.v1.ingest_service_pb2 import BucketMode, RegisterBucketRequest

AT = datetime(2026, 12, 1, tzinfo=UTC)


def request(**fields: object) -> RegisterBucketRequest:
    given: dict[str, object] = {
        "project_id": "p1",
        "endpoint": "minio.internal:9000",
        "bucket": "photos",
        "prefix": "2024/",
        "mode": BucketMode.BUCKET_MODE_REFERENCE,
        "access_key_id": "key",
        "secret_access_key": "secret",
        **fields,
    }
    return RegisterBucketRequest(**given)  # type: ignore[arg-type]


def test_a_registration_has_an_id_from_what_it_is_and_the_default_region() -> None:
    bucket = registration(request(), "dana", AT)
    same = registration(request(endpoint="MINIO.internal:9000"), "kim", AT)
    other = registration(request(prefix="2025/"), "dana", AT)

    assert bucket.bucket_id.startswith("bkt_") and bucket.bucket_id == same.bucket_id
    assert other.bucket_id != bucket.bucket_id
    assert (bucket.region, bucket.created_by, bucket.created_at.ToDatetime(UTC)) == (
        "us-east-1",
        "dana",
        AT,
    )
    assert bucket.access_key_id == "key" and "secret" not in str(bucket)


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"project_id": ""}, "project_id", "required"),
        ({"endpoint": ""}, "endpoint", "required"),
        ({"endpoint": "https://s3.example"}, "endpoint", "is a URL"),
        ({"endpoint": "s3.example:99999"}, "endpoint", "no valid port"),
        ({"endpoint": "s3.example/path"}, "endpoint", "not host or host:port"),
        ({"bucket": "a"}, "bucket", "is not a bucket name"),
        ({"prefix": "/2024/"}, "prefix", "do not start with '/'"),
        ({"prefix": "p" * 1025}, "prefix", "at most 1024"),
        ({"mode": BucketMode.BUCKET_MODE_UNSPECIFIED}, "mode", "is required"),
        ({"region": "Europe West"}, "region", "is not a region"),
        ({"secret_access_key": ""}, "secret_access_key", "give both keys"),
        ({"access_key_id": ""}, "access_key_id", "give both keys"),
    ],
)
def test_a_bad_registration_names_its_field(
    fields: dict[str, object], field: str, reason: str
) -> None:
    with pytest.raises(InvalidField) as refused:
        registration(request(**fields), "dana", AT)
    assert refused.value.field == field
    assert reason in refused.value.reason


def test_a_public_bucket_needs_no_keys_and_ports_default_by_scheme() -> None:
    public = registration(request(access_key_id="", secret_access_key=""), "dana", AT)
    assert public.access_key_id == ""
    assert host_and_port(registration(request(endpoint="s3.example"), "d", AT)) == (
        "s3.example",
        80,
    )
    secure = registration(request(endpoint="s3.example", secure=True), "d", AT)
    assert host_and_port(secure) == ("s3.example", 443)
    assert host_and_port(public) == ("minio.internal", 9000)


def record(event: str, key: str, bucket: str = "photos") -> dict[str, object]:
    return {"eventName": event, "s3": {"bucket": {"name": bucket}, "object": {"key": key}}}


def test_minio_and_aws_notifications_name_their_objects_decoded() -> None:
    body = {
        "Records": [
            record("s3:ObjectCreated:Put", "2024/a+b%2Fc.png"),
            record("ObjectRemoved:Delete", "2024/old.png"),
            record("s3:ObjectAccessed:Get", "2024/read.png"),
        ]
    }
    assert events_of_notification(body, "photos") == [
        ObjectEvent(CREATED, "2024/a b/c.png"),
        ObjectEvent(REMOVED, "2024/old.png"),
        ObjectEvent(UNKNOWN, "2024/read.png"),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"EventName": "s3:TestEvent"}, "Records"),
        ({"Records": ["nothing"]}, "Records[0]"),
        (
            {"Records": [record("s3:ObjectCreated:Put", "k", bucket="other")]},
            "Records[0].s3.bucket.name",
        ),
        (
            {
                "Records": [
                    {"eventName": "s3:ObjectCreated:Put", "s3": {"bucket": {"name": "photos"}}}
                ]
            },
            "Records[0].s3.object.key",
        ),
    ],
)
def test_a_notification_that_is_not_of_this_bucket_names_the_record(
    body: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidField) as refused:
        events_of_notification(body, "photos")
    assert refused.value.field == field
