from collections.abc import Sequence

import numpy as np
import pytest
from spacy.pipeline._parser_internals._beam_utils import BeamBatch

from labelmesh.inference.models.base import ModelInput, UndecodableInput
from labelmesh.inference.models.minilm import shared_encoder
from labelmesh.inference.models.ner import SpacyEntities, ValidActions, log_softmax_over_valid
from labelmesh.inference.models.sentiment import VaderSentiment, sentiment_confidences
from labelmesh.inference.models.zero_shot import ZeroShotClassifier
from labelmesh.v1.geometry_pb2 import Label

TOPICS = ("sports", "politics", "technology", "business")


@pytest.fixture(scope="module")
def entities() -> SpacyEntities:
    model = SpacyEntities()
    model.load()
    return model


@pytest.fixture(scope="module")
def zero_shot() -> ZeroShotClassifier:
    model = ZeroShotClassifier()
    model.load()
    return model


@pytest.fixture(scope="module")
def sentiment() -> VaderSentiment:
    model = VaderSentiment()
    model.load()
    return model


def classes_of(labels: Sequence[Label]) -> list[str]:
    return [label.classification.label for label in labels]


def test_ner_finds_the_person_with_offsets_into_the_text(entities: SpacyEntities) -> None:
    text = "Yesterday Angela Merkel met the engineers in Berlin."
    [labels] = entities.predict([entities.prepare(ModelInput(text=text))])
    spans = {label.text_span.label: label for label in labels}
    person = spans["PERSON"]
    assert person.text_span.text == "Angela Merkel"
    assert text[person.text_span.start : person.text_span.end] == "Angela Merkel"
    assert spans["GPE"].text_span.text == "Berlin"
    assert person.confidence > 0.9
    assert all(0.0 <= label.confidence <= 1.0 for label in labels)


def test_ner_is_less_sure_of_an_ambiguous_entity(entities: SpacyEntities) -> None:
    clear, vague = entities.predict(
        [
            entities.prepare(ModelInput(text="I met Angela Merkel in Berlin.")),
            entities.prepare(ModelInput(text="yesterday i met jordan at the mall")),
        ]
    )
    [merkel] = [label for label in clear if label.text_span.text == "Angela Merkel"]
    [jordan] = [label for label in vague if label.text_span.text == "jordan"]
    assert merkel.confidence > jordan.confidence + 0.05


def test_ner_gives_every_entity_of_a_clear_sentence_a_high_confidence(
    entities: SpacyEntities,
) -> None:
    # spaCy's own beam, which adds raw action scores, gives "the Nobel Prize"
    # and "1903" no mass: its beam fills with one entity running to the end.
    text = "Marie Curie won the Nobel Prize in 1903."
    [labels] = entities.predict([entities.prepare(ModelInput(text=text))])
    assert [label.text_span.text for label in labels] == ["Marie Curie", "the Nobel Prize", "1903"]
    assert all(label.confidence > 0.5 for label in labels)


def test_ner_keeps_the_batch_order_and_finds_nothing_in_plain_prose(
    entities: SpacyEntities,
) -> None:
    texts = ["The quick brown fox jumps over the lazy dog.", "Tim Cook runs Apple."]
    plain, named = entities.predict([entities.prepare(ModelInput(text=t)) for t in texts])
    assert plain == []
    assert [label.text_span.text for label in named] == ["Tim Cook", "Apple"]
    assert entities.predict([]) == []


def test_ner_refuses_blank_text(entities: SpacyEntities) -> None:
    with pytest.raises(UndecodableInput) as refused:
        entities.prepare(ModelInput(text=" \n "))
    assert refused.value.field == "text"


def test_the_quick_validity_mask_matches_spacy_asking_every_action(
    entities: SpacyEntities,
) -> None:
    nlp = entities._nlp
    assert nlp is not None
    ner = nlp.get_pipe("ner")
    moves = ner.moves  # type: ignore[attr-defined]
    names = [moves.get_class_name(i) for i in range(moves.n_moves)]
    docs = [
        nlp.make_doc(text)
        for text in (
            "Marie Curie won the Nobel Prize in 1903, then went home to Warsaw.",
            "  Spaces   and\n\nnewlines around New York  ",
            "I paid 20% of $300 to Dr. Smith at 5 p.m. on 3 March 2021.",
        )
    ]
    beams = BeamBatch(moves, moves.init_batch(docs), None, 8, density=0.0)
    step_model = ner.model.predict(docs)  # type: ignore[attr-defined]
    checked = 0
    while not beams.is_done:
        states = beams.get_unfinished_states()
        every = np.array([[moves.is_valid(s, name) for name in names] for s in states])
        assert (ValidActions(moves).mask(states) == every).all()
        checked += len(states)
        beams.advance(log_softmax_over_valid(np.asarray(step_model.predict(states)), every))
    assert checked > 100


def test_zero_shot_puts_a_sports_headline_in_sports(zero_shot: ZeroShotClassifier) -> None:
    headlines = [
        "Striker scores twice as United beat City 3-1 in the derby",
        "Shares of the bank fell after quarterly earnings missed forecasts",
    ]
    ranked = zero_shot.predict(
        [zero_shot.prepare(ModelInput(text=h, classes=TOPICS)) for h in headlines]
    )
    assert [labels[0].classification.label for labels in ranked] == ["sports", "business"]
    for labels in ranked:
        assert sorted(classes_of(labels)) == sorted(TOPICS)
        confidences = [label.confidence for label in labels]
        assert confidences == sorted(confidences, reverse=True)
        assert sum(confidences) == pytest.approx(1.0, abs=1e-5)
    assert ranked[0][0].confidence > 0.5


def test_zero_shot_returns_at_most_five_classes(zero_shot: ZeroShotClassifier) -> None:
    classes = (*TOPICS, "health", "science", "travel", "food")
    text = "A new vaccine cut hospital admissions by half"
    [labels] = zero_shot.predict([zero_shot.prepare(ModelInput(text=text, classes=classes))])
    assert len(labels) == 5
    assert labels[0].classification.label == "health"


def test_zero_shot_scores_each_item_against_its_own_classes(
    zero_shot: ZeroShotClassifier,
) -> None:
    items = [
        ModelInput(text="The striker scored in the final", classes=TOPICS),
        ModelInput(text="The striker scored in the final", classes=("cooking", "football")),
    ]
    topics, other = zero_shot.predict([zero_shot.prepare(item) for item in items])
    assert topics[0].classification.label == "sports"
    assert classes_of(other) == ["football", "cooking"]


def test_zero_shot_shares_the_process_encoder(zero_shot: ZeroShotClassifier) -> None:
    assert zero_shot._loaded() is shared_encoder()


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (ModelInput(text="   ", classes=TOPICS), "text"),
        (ModelInput(text="A headline", classes=()), "classes"),
        (ModelInput(text="A headline", classes=("", " ")), "classes"),
    ],
)
def test_zero_shot_refuses_what_it_cannot_score(
    zero_shot: ZeroShotClassifier, item: ModelInput, field: str
) -> None:
    with pytest.raises(UndecodableInput) as refused:
        zero_shot.prepare(item)
    assert refused.value.field == field


def test_sentiment_ranks_clear_texts(sentiment: VaderSentiment) -> None:
    texts = [
        "I love this product, it is absolutely wonderful!",
        "This is the worst service I have ever had. Terrible and rude.",
        "The meeting is at 3pm in room 4.",
    ]
    ranked = sentiment.predict([sentiment.prepare(ModelInput(text=t)) for t in texts])
    assert [labels[0].classification.label for labels in ranked] == [
        "positive",
        "negative",
        "neutral",
    ]
    for labels in ranked:
        assert sorted(classes_of(labels)) == ["negative", "neutral", "positive"]
        assert labels[0].confidence > 0.9
        assert sum(label.confidence for label in labels) == pytest.approx(1.0)


def test_sentiment_confidence_is_a_half_on_vader_boundary_and_keeps_mixed_feelings() -> None:
    boundary = sentiment_confidences({"compound": 0.05, "pos": 0.2, "neu": 0.8, "neg": 0.0})
    assert boundary == {"positive": 0.5, "neutral": 0.5, "negative": 0.0}
    mixed = sentiment_confidences({"compound": -0.3818, "pos": 0.186, "neu": 0.511, "neg": 0.303})
    assert list(mixed) == ["negative", "neutral", "positive"]
    assert mixed["negative"] == pytest.approx(0.5 + 0.5 * (0.3818 - 0.05) / 0.95)
    assert mixed["positive"] > 0.05


def test_sentiment_refuses_blank_text(sentiment: VaderSentiment) -> None:
    with pytest.raises(UndecodableInput) as refused:
        sentiment.prepare(ModelInput(text=""))
    assert refused.value.field == "text"
