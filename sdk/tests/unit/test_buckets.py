"""The SDK's `buckets` resource against the stand-in for ingest."""

from __future__ import annotations

import pytest

from labelmesh.sdk import AsyncClient, Client, NotFound, Overloaded, RetryPolicy

from .conftest import ENDPOINTS
from .fake_ingest import FakeIngest, counts_of

NO_WAITING = RetryPolicy(attempts=3, first_delay=0.0)


async def test_register_sends_the_settings_and_returns_the_bucket_without_its_secret(
    ingest: FakeIngest,
) -> None:
    async with AsyncClient(ENDPOINTS, "lm_test_secret", retry=NO_WAITING) as client:
        bucket = await client.buckets.register(
            "p1",
            "s3://photos/2024/",
            endpoint="minio.internal:9000",
            secure=False,
            mode="copy",
            access_key_id="AKIA1",
            secret_access_key="s3cret",
        )
        again = await client.buckets.register(
            "p1", "photos", prefix="2024/", endpoint="minio.internal:9000"
        )
    first = ingest.sent("POST", "/v1/projects/p1/buckets")[0]
    assert first == {
        "endpoint": "minio.internal:9000",
        "secure": False,
        "region": "",
        "bucket": "photos",
        "prefix": "2024/",
        "mode": "BUCKET_MODE_COPY",
        "mirror_deletions": False,
        "access_key_id": "AKIA1",
        "secret_access_key": "s3cret",
    }
    assert bucket.uri == "s3://photos/2024/" and bucket.access_key_id == "AKIA1"
    assert "s3cret" not in bucket.model_dump_json()
    assert again.bucket_id == bucket.bucket_id and again.mode == "BUCKET_MODE_REFERENCE"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"access_key_id": "AKIA1"}, "^secret_access_key: "),
        ({"secret_access_key": "s3cret"}, "^access_key_id: "),
        ({"mode": "mirror"}, "^mode: 'mirror'"),
        ({"endpoint": "https://s3.example"}, "^endpoint: "),
    ],
)
async def test_bad_settings_are_refused_by_name_before_anything_is_sent(
    ingest: FakeIngest, options: dict[str, str], field: str
) -> None:
    async with AsyncClient(ENDPOINTS, "lm_test_secret") as client:
        with pytest.raises(ValueError, match=field):
            await client.buckets.register(
                "p1", "s3://photos", **{"endpoint": "minio:9000", **options}
            )
    assert ingest.requests == []


async def test_a_sync_is_queued_once_and_waited_for_with_its_counts_as_numbers(
    ingest: FakeIngest,
) -> None:
    seen: list[str] = []
    async with AsyncClient(ENDPOINTS, "lm_test_secret", retry=NO_WAITING) as client:
        bucket = await client.buckets.register("p1", "s3://photos", endpoint="minio:9000")
        assert bucket.state == "SYNC_STATE_UNSPECIFIED" and not bucket.syncing
        queued = await client.buckets.sync(bucket.bucket_id, full=True)
        again = await client.buckets.sync(bucket.bucket_id)
        ingest.progress = [
            {"state": "SYNC_STATE_RUNNING", "counts": counts_of(listed=4, read=2)},
            {
                "state": "SYNC_STATE_SUCCEEDED",
                "counts": counts_of(listed=9, read=9, stored=7, duplicates=1, failed=1),
                "failures": [{"key": "notes.bin", "reason": "not a supported type"}],
            },
        ]
        done = await client.buckets.wait(
            bucket.bucket_id, poll_seconds=0, progress=lambda b: seen.append(b.state)
        )
    assert queued.syncing and again.full
    assert ingest.sent("POST", f"/v1/buckets/{bucket.bucket_id}/syncs") == [
        {"full": True},
        {"full": False},
    ]
    assert seen == ["SYNC_STATE_RUNNING", "SYNC_STATE_SUCCEEDED"]
    assert done.finished and done.counts.stored == 7 and done.counts.failed == 1
    assert done.failures[0].key == "notes.bin"


async def test_a_shed_sync_is_sent_again_and_fails_once_the_attempts_run_out(
    ingest: FakeIngest,
) -> None:
    async with AsyncClient(ENDPOINTS, "lm_test_secret", retry=NO_WAITING) as client:
        bucket = await client.buckets.register("p1", "s3://photos", endpoint="minio:9000")
        ingest.busy = 2
        assert (await client.buckets.sync(bucket.bucket_id)).syncing
        ingest.busy = 3
        with pytest.raises(Overloaded, match="too many syncs wait"):
            await client.buckets.get(bucket.bucket_id)
        with pytest.raises(NotFound):
            await client.buckets.get("bkt-none")


def test_the_blocking_client_lists_the_projects_buckets_oldest_first(ingest: FakeIngest) -> None:
    with Client(ENDPOINTS, "lm_test_secret") as client:
        first = client.buckets.register("p1", "s3://photos/a/", endpoint="minio:9000")
        second = client.buckets.register("p1", "s3://photos/b/", endpoint="minio:9000")
        client.buckets.register("p2", "s3://photos/a/", endpoint="minio:9000")
        listed = client.buckets.list("p1")
    assert [b.bucket_id for b in listed] == [first.bucket_id, second.bucket_id]
    assert ingest.requests[0].headers["authorization"] == "Bearer lm_test_secret"
