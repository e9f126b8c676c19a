"""Every metric of the inference service, declared once."""

from prometheus_client import CollectorRegistry, Counter, Histogram

from labelmesh.core.metrics import LATENCY_BUCKETS


class InferenceMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.model_seconds = Histogram(
            "labelmesh_inference_model_duration_seconds",
            "Time of one batched model call, by model.",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.batch_size = Histogram(
            "labelmesh_inference_batch_size_items",
            "Items per batched model call, by model.",
            ["model"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=registry,
        )
        self.model_errors = Counter(
            "labelmesh_inference_model_errors_total",
            "Model calls that raised, by model.",
            ["model"],
            registry=registry,
        )
        self.predictions = Counter(
            "labelmesh_inference_predictions_total",
            "Predictions made, by outcome (auto_accepted, needs_review, skipped).",
            ["outcome"],
            registry=registry,
        )
