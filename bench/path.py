"""Items per second through the whole path, measured from the outside.

All items are uploaded in batches to a project that auto-accepts every
prediction; the clock stops when review has completed the last one.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from labelmesh.devstack.keys import StackKeys
from labelmesh.devstack.services import ServiceAddress, running_services, stack_env
from labelmesh.testing.services import wait_for

UPLOAD_BATCH = 200
TOPICS = ["sports", "politics", "technology", "business", "health"]


def bench_path(bootstrap: str, mongo_uri: str, root: Path, count: int) -> float:
    env = {**stack_env(bootstrap, mongo_uri, "path", root), "LABELMESH_LOG_LEVEL": "WARNING"}
    print("path: starting the services ...", flush=True)
    with running_services(env, root / "logs") as addresses:
        return _drive(addresses, StackKeys.of(addresses, root), count)


def _drive(addresses: dict[str, ServiceAddress], keys: StackKeys, count: int) -> float:
    with httpx.Client(timeout=60, headers=keys.headers("")) as client:
        project = client.post(
            f"{addresses['annotation'].rest}/v1/projects",
            json={
                "name": "bench",
                "data_type": "TEXT",
                "classes": TOPICS,
                "auto_accept_threshold": 0,
            },
        ).json()["project"]
        url = f"{addresses['ingest'].rest}/v1/projects/{project['project_id']}/items"
        wait_for(
            lambda: client.post(url, json={"items": [{"text": "warm-up"}]}).status_code == 200,
            "ingest to know the project",
        )
        texts = [f"Report {i}: news about {TOPICS[i % len(TOPICS)]} today" for i in range(count)]
        print(f"path: uploading {count:,} items ...", flush=True)
        started = time.perf_counter()
        for offset in range(0, count, UPLOAD_BATCH):
            batch = [{"text": t} for t in texts[offset : offset + UPLOAD_BATCH]]
            client.post(url, json={"items": batch}).raise_for_status()
        metrics_url = addresses["review"].metrics
        done, reported = 0, -1
        while done < count + 1:  # + the warm-up item
            done = _completed(client.get(metrics_url).text)
            if (done - 1) * 10 // count > reported:
                reported = (done - 1) * 10 // count
                print(f"path: {done - 1:,}/{count:,} items completed", flush=True)
            time.sleep(0.25)
        return count / (time.perf_counter() - started)


def _completed(metrics_text: str) -> int:
    prefix = 'labelmesh_review_events_produced_total{event_type="labelmesh.v1.ItemCompleted"}'
    for line in metrics_text.splitlines():
        if line.startswith(prefix):
            return int(float(line.split()[-1]))
    return 0
