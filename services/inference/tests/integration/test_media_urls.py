"""Media read from presigned URLs of a real S3 server (moto's), as for a
bucket registered in reference mode."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from minio import Minio

from labelmesh.core.storage import S3ObjectStore
from labelmesh.inference.adapters.media_urls import MediaUrlReader
from labelmesh.inference.ports import MediaUnreadable

pytestmark = pytest.mark.integration
LIMIT = 4096
KEY = SECRET = "testing"


@pytest.fixture
async def bucket(moto_endpoint: str) -> AsyncIterator[S3ObjectStore]:
    store = S3ObjectStore(
        endpoint=moto_endpoint,
        access_key=KEY,
        secret_key=SECRET,
        bucket=f"customer-{uuid.uuid4().hex[:12]}",
        secure=False,
    )
    await store.ensure_ready()
    yield store
    await store.close()


def presigned(moto_endpoint: str, bucket: S3ObjectStore, key: str) -> str:
    signer = Minio(moto_endpoint, access_key=KEY, secret_key=SECRET, secure=False)
    return signer.presigned_get_object(bucket.bucket, key, expires=timedelta(minutes=5))


async def test_a_presigned_url_reads_the_object_and_a_missing_one_is_404(
    moto_endpoint: str, bucket: S3ObjectStore
) -> None:
    await bucket.put("photos/cat.png", b"\x89PNG cat", "image/png")
    await bucket.put("photos/huge.png", b"a" * (LIMIT + 1), "image/png")
    reader = MediaUrlReader(LIMIT, timeout_seconds=10.0)
    try:
        assert await reader.read(presigned(moto_endpoint, bucket, "photos/cat.png")) == (
            b"\x89PNG cat"
        )
        with pytest.raises(MediaUnreadable) as missing:
            await reader.read(presigned(moto_endpoint, bucket, "photos/gone.png"))
        with pytest.raises(MediaUnreadable) as huge:
            await reader.read(presigned(moto_endpoint, bucket, "photos/huge.png"))
    finally:
        await reader.close()
    assert missing.value.reason == "answered HTTP 404"
    assert huge.value.reason == f"declares {LIMIT + 1} bytes, over the limit of {LIMIT}"
