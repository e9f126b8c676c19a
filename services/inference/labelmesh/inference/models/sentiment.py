"""Sentiment of English text with VADER (a lexicon and rules; no weights).

The class is VADER's own published rule on its compound score c in [-1, 1]:
positive when c >= 0.05, negative when c <= -0.05, neutral in between.

The confidence of that class measures how far c lies from the boundary it
would have to cross, mapped linearly onto [0.5, 1]: 0.5 on the boundary
(where two classes tie) and 1 at the far end of the class's range
(c = +1 or -1 for a polarity, c = 0 for neutral). The rest, 1 minus that,
goes to the other two classes in proportion to VADER's shares of positive,
neutral and negative wording, so a mixed review keeps some weight on the
opposite polarity. The three confidences sum to 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from labelmesh.inference.models.base import Model, ModelInput, ModelSpec, Task, UndecodableInput
from labelmesh.v1.events_pb2 import DataType
from labelmesh.v1.geometry_pb2 import Classification, Label

POSITIVE, NEGATIVE, NEUTRAL = "positive", "negative", "neutral"
# VADER's recommended threshold on the compound score.
NEUTRAL_BAND = 0.05


def sentiment_confidences(scores: dict[str, float]) -> dict[str, float]:
    """Confidences per class from VADER's `polarity_scores`, most likely first."""
    compound = scores["compound"]
    if compound >= NEUTRAL_BAND:
        top, margin = POSITIVE, (compound - NEUTRAL_BAND) / (1.0 - NEUTRAL_BAND)
    elif compound <= -NEUTRAL_BAND:
        top, margin = NEGATIVE, (-compound - NEUTRAL_BAND) / (1.0 - NEUTRAL_BAND)
    else:
        top, margin = NEUTRAL, (NEUTRAL_BAND - abs(compound)) / NEUTRAL_BAND
    top_confidence = 0.5 + 0.5 * min(1.0, max(0.0, margin))
    shares = {POSITIVE: scores["pos"], NEUTRAL: scores["neu"], NEGATIVE: scores["neg"]}
    del shares[top]
    total = sum(shares.values())
    rest = {
        name: (1.0 - top_confidence) * (share / total if total > 0 else 1.0 / len(shares))
        for name, share in shares.items()
    }
    ranked = sorted(rest.items(), key=lambda pair: -pair[1])
    return {top: top_confidence, **dict(ranked)}


class VaderSentiment(Model):
    spec = ModelSpec(
        id="vader-sentiment",
        version="3.3.2",
        task=Task.SENTIMENT,
        data_type=DataType.DATA_TYPE_TEXT,
        labels=(POSITIVE, NEGATIVE, NEUTRAL),
        description="Positive, negative or neutral for English text, from the VADER "
        "lexicon; tuned for short, informal text such as reviews and posts.",
    )

    def __init__(self) -> None:
        self._analyzer: Any = None

    def load(self) -> None:
        self._analyzer = SentimentIntensityAnalyzer()

    def prepare(self, item: ModelInput) -> str:
        if not item.text.strip():
            raise UndecodableInput("text", "is blank")
        return item.text

    def predict(self, prepared: Sequence[str]) -> list[list[Label]]:
        if self._analyzer is None:
            raise RuntimeError(f"{self.spec.id}: load() was not called")
        return [self._ranked(self._analyzer.polarity_scores(text)) for text in prepared]

    @staticmethod
    def _ranked(scores: dict[str, float]) -> list[Label]:
        return [
            Label(classification=Classification(label=name), confidence=confidence)
            for name, confidence in sentiment_confidences(scores).items()
        ]
