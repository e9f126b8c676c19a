"""Every metric of the annotation service, declared once."""

from prometheus_client import CollectorRegistry, Counter, Histogram

# From a quick click to a long transcription.
TASK_SECONDS_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1200, 3600)


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
            "Annotations stored, by source (human, suggestion, model, imported).",
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
        self.tasks_claimed = Counter(
            "labelmesh_annotation_tasks_claimed_total",
            "Tasks handed to annotators by NextTask, by kind (regular or gold).",
            ["kind"],
            registry=registry,
        )
        self.queue_empty = Counter(
            "labelmesh_annotation_queue_empty_total",
            "NextTask calls that found no task for the annotator.",
            registry=registry,
        )
        self.task_seconds = Histogram(
            "labelmesh_annotation_task_seconds",
            "Time from taking a task to submitting it, by kind (regular or gold).",
            ["kind"],
            buckets=TASK_SECONDS_BUCKETS,
            registry=registry,
        )
        self.imports_refused = Counter(
            "labelmesh_annotation_imports_refused_total",
            "Imported annotations left out, by the field at fault (outside the "
            "project's schema, or `project` when the project is unknown).",
            ["reason"],
            registry=registry,
        )
        self.rework_decisions = Counter(
            "labelmesh_annotation_rework_decisions_total",
            "Rejections with a task, by outcome: reopened a round, or ignored as "
            "already applied, stale or about a gold task.",
            ["outcome"],
            registry=registry,
        )
