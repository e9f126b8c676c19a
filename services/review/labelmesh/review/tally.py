"""What one transaction's pipeline steps move in the metrics, counted only once it
has committed: a transaction that rolls back counts nothing, and one that runs
again after a conflict does not count twice."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from labelmesh.review.metrics import ReviewMetrics
from labelmesh.review.pipeline import Effects
from labelmesh.v1.events_pb2 import ReviewDecided, ReviewDecision


@dataclass
class Tally:
    metrics: ReviewMetrics
    decisions: Counter[tuple[str, str]] = field(default_factory=Counter)
    tasks: Counter[str] = field(default_factory=Counter)
    scored: Counter[str] = field(default_factory=Counter)
    flagged: int = 0
    # When each decided annotation's cause happened (epoch seconds), for the latency.
    caused_at: list[float] = field(default_factory=list)

    def add(self, fx: Effects, occurred_at: float | None) -> None:
        """Count one step's effects; `occurred_at` is when its causing event happened."""
        for decision in (e for e in fx.events if isinstance(e, ReviewDecided)):
            name = ReviewDecision.Name(decision.decision)
            self.decisions[(name, decision.stage or "review")] += 1
            if occurred_at is not None and decision.annotation_id:
                self.caused_at.append(occurred_at)
        self.tasks.update(task.kind.value for task in fx.tasks)
        self.scored.update(score.reference.value for score in fx.scores)

    def committed(self) -> None:
        """Move the metrics; call once, after the transaction committed."""
        metrics, now = self.metrics, time.time()
        for (decision, stage), n in self.decisions.items():
            metrics.decisions.labels(decision, stage).inc(n)
        for at in self.caused_at:
            metrics.decision_latency.observe(max(0.0, now - at))
        for kind, n in self.tasks.items():
            metrics.tasks_opened.labels(kind).inc(n)
        for reference, n in self.scored.items():
            metrics.scored.labels(reference).inc(n)
        if self.flagged:
            metrics.annotators_flagged.inc(self.flagged)
