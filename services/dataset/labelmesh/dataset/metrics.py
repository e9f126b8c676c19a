"""Every metric of the dataset service, declared once."""

from prometheus_client import CollectorRegistry, Counter, Histogram


class DatasetMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.projected = Counter(
            "labelmesh_dataset_projected_events_total",
            "Events applied to the projection of accepted labels.",
            registry=registry,
        )
        self.versions = Counter(
            "labelmesh_dataset_versions_total",
            "Dataset versions made (not those found made before).",
            registry=registry,
        )
        self.version_items = Counter(
            "labelmesh_dataset_version_items_total",
            "Items written into the manifests of new versions.",
            registry=registry,
        )
        self.browse_lookups = Histogram(
            "labelmesh_dataset_browse_lookups_per_request",
            "Index lookups one item listing made (windows of the project's order).",
            buckets=(1, 2, 3, 4, 6, 8, 12),
            registry=registry,
        )
