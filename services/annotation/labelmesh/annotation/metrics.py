"""Every metric of the annotation service, declared once."""

from prometheus_client import CollectorRegistry, Counter


class AnnotationMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.tasks_created = Counter(
            "labelmesh_annotation_tasks_created_total",
            "Tasks opened for annotators, by whether they carry a suggestion.",
            ["with_suggestion"],
            registry=registry,
        )
        self.annotations = Counter(
            "labelmesh_annotation_annotations_total",
            "Annotations stored, by source (human, suggestion, model).",
            ["source"],
            registry=registry,
        )
        self.rejected_submissions = Counter(
            "labelmesh_annotation_rejected_submissions_total",
            "Submissions refused by schema validation, by field kind.",
            ["reason"],
            registry=registry,
        )
        self.suggestions = Counter(
            "labelmesh_annotation_suggestions_judged_total",
            "Model suggestions annotators accepted or rejected, by outcome.",
            ["outcome"],
            registry=registry,
        )
