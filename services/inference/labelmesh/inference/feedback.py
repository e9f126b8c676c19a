"""People's judgements of suggestions, counted per model and confidence
bucket, and the precision they measure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from labelmesh.core.uow import Transaction
from labelmesh.inference import domain
from labelmesh.inference.metrics import InferenceMetrics
from labelmesh.inference.ports import JudgementRepository
from labelmesh.inference.records import ConfidenceBand, Judgement, MeasuredQuality
from labelmesh.v1.events_pb2 import SuggestionAccepted, SuggestionRejected


def judgement_of(event: SuggestionAccepted | SuggestionRejected) -> Judgement | None:
    """What a verdict on a suggestion counts toward; None for a label no model suggested."""
    source = event.label.source
    if not source.model_id:
        return None
    return Judgement(
        model_id=source.model_id,
        bucket=domain.confidence_bucket(source.score),
        accepted=isinstance(event, SuggestionAccepted),
    )


@dataclass(eq=False)
class Feedback:
    judgements: JudgementRepository
    metrics: InferenceMetrics

    async def record(self, tx: Transaction, judgements: Sequence[Judgement]) -> None:
        """Count judgements toward their models' precision."""
        await self.judgements.record(tx, judgements)

    def counted(self, judgements: Sequence[Judgement]) -> None:
        """Metrics of judgements once they are committed."""
        for judgement in judgements:
            low, _ = domain.bucket_bounds(judgement.bucket)
            self.metrics.suggestions_judged.labels(
                judgement.model_id,
                f"{low:.1f}",
                "accepted" if judgement.accepted else "rejected",
            ).inc()

    async def quality(self, model_id: str) -> MeasuredQuality:
        """The model's measured precision, overall and per confidence bucket."""
        counts = await self.judgements.counts(model_id)
        accepted = sum(c.accepted for c in counts)
        rejected = sum(c.rejected for c in counts)
        return MeasuredQuality(
            accepted=accepted,
            rejected=rejected,
            precision=accepted / (accepted + rejected) if accepted + rejected else 0.0,
            buckets=tuple(
                ConfidenceBand(low=low, high=high, accepted=c.accepted, rejected=c.rejected)
                for index, c in enumerate(counts)
                for low, high in [domain.bucket_bounds(index)]
            ),
        )
