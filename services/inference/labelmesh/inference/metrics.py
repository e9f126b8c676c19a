"""Every metric of the inference service, declared once."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from labelmesh.core.metrics import LATENCY_BUCKETS

MODEL_BUCKETS = (*LATENCY_BUCKETS, 30, 60)


class InferenceMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.model_seconds = Histogram(
            "labelmesh_inference_model_duration_seconds",
            "Time of one batched model call, by model.",
            ["model"],
            buckets=MODEL_BUCKETS,
            registry=registry,
        )
        self.batch_size = Histogram(
            "labelmesh_inference_batch_size_items",
            "Items per batched model call, by model.",
            ["model"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=registry,
        )
        self.model_items = Counter(
            "labelmesh_inference_model_items_total",
            "Items a model labelled; its rate is the model's items per second.",
            ["model"],
            registry=registry,
        )
        self.model_errors = Counter(
            "labelmesh_inference_model_errors_total",
            "Items a model could not label, by model and kind (undecodable, error, timeout).",
            ["model", "kind"],
            registry=registry,
        )
        self.model_loads = Histogram(
            "labelmesh_inference_model_load_seconds",
            "Time to load a model's weights, once per process.",
            ["model"],
            buckets=MODEL_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "labelmesh_inference_items_in_flight",
            "Items inside the model workers; the consumer pauses at the limit.",
            registry=registry,
        )
        self.predictions = Counter(
            "labelmesh_inference_predictions_total",
            "Pre-labelled items, by auto-annotation outcome "
            "(auto_accepted, awaiting_review, no_suggestion, failed; imported for an "
            "item that came with its own predictions).",
            ["outcome"],
            registry=registry,
        )
        self.suggestions_judged = Counter(
            "labelmesh_inference_suggestions_judged_total",
            "Suggestions people accepted or rejected, by model, confidence bucket "
            "(its lower bound) and outcome; accepted / all per bucket shows calibration.",
            ["model", "bucket", "outcome"],
            registry=registry,
        )
