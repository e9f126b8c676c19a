"""Metrics every service has: event traffic, handler latency, consumer lag,
dead letters and the outbox backlog. Declared once, on an injected registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class BusMetrics:
    """The shared metrics of one service, named `labelmesh_<service>_...`."""

    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        prefix = f"labelmesh_{service}"
        self.consumed = Counter(
            f"{prefix}_events_consumed_total",
            "Events taken from Kafka, by type and outcome (ok, duplicate, ignored, dead_lettered).",
            ["event_type", "outcome"],
            registry=registry,
        )
        self.produced = Counter(
            f"{prefix}_events_produced_total",
            "Events published to Kafka, by type.",
            ["event_type"],
            registry=registry,
        )
        self.handler_seconds = Histogram(
            f"{prefix}_handler_duration_seconds",
            "Time spent in event handlers, retries included, by type.",
            ["event_type"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.handler_retries = Counter(
            f"{prefix}_handler_retries_total",
            "Handler attempts that failed and were retried, by type.",
            ["event_type"],
            registry=registry,
        )
        self.consumer_lag = Gauge(
            f"{prefix}_consumer_lag_messages",
            "Messages behind the end of each partition.",
            ["topic", "partition"],
            registry=registry,
        )
        self.consumer_paused = Gauge(
            f"{prefix}_consumer_paused",
            "1 while a consumer group's fetching is paused because its workers are full.",
            ["group"],
            registry=registry,
        )
        self.dead_letters = Counter(
            f"{prefix}_dead_letters_total",
            "Messages sent to the dead-letter topic, by reason kind.",
            ["reason"],
            registry=registry,
        )
        self.outbox_pending = Gauge(
            f"{prefix}_outbox_pending_events",
            "Events written to the outbox and not yet published.",
            registry=registry,
        )
        self.outbox_relay_seconds = Histogram(
            f"{prefix}_outbox_publish_duration_seconds",
            "Time to publish one batch from the outbox.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
