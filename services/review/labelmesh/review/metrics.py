"""Every metric of the review service, declared once."""

from prometheus_client import CollectorRegistry, Counter, Histogram


class ReviewMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.decisions = Counter(
            "labelmesh_review_decisions_total",
            "Review decisions, by decision and annotation source.",
            ["decision", "source"],
            registry=registry,
        )
        self.agreement = Histogram(
            "labelmesh_review_agreement_ratio",
            "Agreement of human annotations with the model suggestion.",
            buckets=(0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0),
            registry=registry,
        )
