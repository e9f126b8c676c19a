"""Every metric of the ingest service, declared once."""

from prometheus_client import CollectorRegistry, Counter


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
