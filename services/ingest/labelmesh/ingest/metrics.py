"""Every metric of the ingest service, declared once."""

from prometheus_client import CollectorRegistry, Counter, Histogram

# A sync takes from seconds (nothing new) to hours (a first sync of millions).
SYNC_BUCKETS = (1, 5, 30, 120, 600, 1800, 3600, 4 * 3600, 12 * 3600)


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.items = Counter(
            "labelmesh_ingest_items_total",
            "Uploads by outcome (stored, duplicate, rejected) and data type.",
            ["outcome", "data_type"],
            registry=registry,
        )
        self.bytes = Counter(
            "labelmesh_ingest_stored_bytes_total",
            "Media bytes written to the object store.",
            registry=registry,
        )
        self.url_fetches = Counter(
            "labelmesh_ingest_url_fetches_total",
            "URL imports' fetches by outcome (fetched, denied, too_large, timeout, "
            "http_status, unsupported, invalid_url, redirects, failed).",
            ["outcome"],
            registry=registry,
        )
        self.url_fetched_bytes = Counter(
            "labelmesh_ingest_url_fetched_bytes_total",
            "Bytes of the URLs fetched whole.",
            registry=registry,
        )
        self.bucket_objects = Counter(
            "labelmesh_ingest_bucket_objects_total",
            "Bucket sync's objects by what became of them (listed, read, stored, "
            "duplicates, failed, deleted), counted as each page is saved.",
            ["outcome"],
            registry=registry,
        )
        self.bucket_syncs = Counter(
            "labelmesh_ingest_bucket_syncs_total",
            "Bucket syncs ended, by state (succeeded, failed).",
            ["state"],
            registry=registry,
        )
        self.bucket_sync_seconds = Histogram(
            "labelmesh_ingest_bucket_sync_seconds",
            "How long bucket syncs ran, claim to end.",
            buckets=SYNC_BUCKETS,
            registry=registry,
        )
