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
