"""Every metric of the review service, declared once."""

from prometheus_client import CollectorRegistry, Counter, Histogram


class ReviewMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.decisions = Counter(
            "labelmesh_review_decisions_total",
            "Review decisions, by decision and the step that decided (consensus, a stage, "
            "adjudication, gold, rework, auto-annotation).",
            ["decision", "stage"],
            registry=registry,
        )
        self.decision_latency = Histogram(
            "labelmesh_review_decision_latency_seconds",
            "From an annotation's submission (or auto-acceptance) to the decision on it.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=registry,
        )
        self.tasks_opened = Counter(
            "labelmesh_review_tasks_opened_total",
            "Review and adjudication tasks opened, by kind.",
            ["kind"],
            registry=registry,
        )
        self.scored = Counter(
            "labelmesh_review_annotations_scored_total",
            "Annotations scored, by what they were compared with (gold, final, suggestion).",
            ["reference"],
            registry=registry,
        )
        self.annotators_flagged = Counter(
            "labelmesh_review_annotators_flagged_total",
            "Annotators flagged for gold accuracy below their project's threshold.",
            registry=registry,
        )
