"""A stand-in for ingest's bucket routes, answering as its REST API does."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import httpx


class FakeIngest:
    """Answers the bucket routes the way ingest's REST API does (proto-JSON,
    uint64 counts as strings); each GET of a bucket answers the next of
    `progress`, the last one again once they run out."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.buckets: dict[str, dict[str, Any]] = {}
        self.progress: list[dict[str, Any]] = []
        self.busy = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.busy:
            self.busy -= 1
            return httpx.Response(429, json={"detail": "too many syncs wait"})
        path = request.url.path
        if found := re.fullmatch(r"/v1/projects/([^/]+)/buckets", path):
            if request.method == "POST":
                return self.register(found[1], json.loads(request.content))
            listed = [b for b in self.buckets.values() if b["project_id"] == found[1]]
            return httpx.Response(200, json={"buckets": listed})
        if found := re.fullmatch(r"/v1/buckets/([^/]+)", path):
            return self.get(found[1])
        if found := re.fullmatch(r"/v1/buckets/([^/]+)/syncs", path):
            return self.sync(found[1], json.loads(request.content))
        return httpx.Response(404, json={"detail": f"no route {path}"})

    def register(self, project_id: str, body: dict[str, Any]) -> httpx.Response:
        identity = "\0".join((project_id, body["endpoint"], body["bucket"], body["prefix"]))
        bucket_id = "bkt_" + hashlib.sha256(identity.encode()).hexdigest()[:16]
        known = bucket_id in self.buckets
        settings = {k: v for k, v in body.items() if k != "secret_access_key"}
        # Proto-JSON as ingest writes it: fields without presence always printed.
        never_synced = {
            "state": "SYNC_STATE_UNSPECIFIED",
            "cursor": "",
            "full": False,
            "error": "",
            "failures": [],
            "created_by": "key:test",
        }
        previous = self.buckets.get(bucket_id, never_synced)
        self.buckets[bucket_id] = {
            **previous,
            **settings,
            "bucket_id": bucket_id,
            "project_id": project_id,
        }
        return httpx.Response(200 if known else 201, json={"bucket": self.buckets[bucket_id]})

    def get(self, bucket_id: str) -> httpx.Response:
        if bucket_id not in self.buckets:
            return httpx.Response(404, json={"detail": f"bucket_id: no bucket {bucket_id}"})
        if self.progress:
            step = self.progress.pop(0) if len(self.progress) > 1 else self.progress[0]
            self.buckets[bucket_id] = {**self.buckets[bucket_id], **step}
        return httpx.Response(200, json={"bucket": self.buckets[bucket_id]})

    def sync(self, bucket_id: str, body: dict[str, Any]) -> httpx.Response:
        if bucket_id not in self.buckets:
            return httpx.Response(404, json={"detail": f"bucket_id: no bucket {bucket_id}"})
        bucket = self.buckets[bucket_id]
        if bucket["state"] in ("SYNC_STATE_QUEUED", "SYNC_STATE_RUNNING"):
            return httpx.Response(200, json={"bucket": bucket})
        bucket.update(
            state="SYNC_STATE_QUEUED",
            full=body["full"],
            counts={name: "0" for name in counts_of()},
            failures=[],
            error="",
        )
        return httpx.Response(202, json={"bucket": bucket})

    def sent(self, method: str, path: str) -> list[dict[str, Any]]:
        """The JSON bodies of the requests sent to a route."""
        return [
            json.loads(r.content) if r.content else {}
            for r in self.requests
            if r.method == method and r.url.path == path
        ]


def counts_of(**given: int) -> dict[str, str]:
    """SyncCounts as proto-JSON writes them: every uint64 a string."""
    names = ("listed", "read", "stored", "duplicates", "failed", "deleted")
    return {name: str(given.get(name, 0)) for name in names}
