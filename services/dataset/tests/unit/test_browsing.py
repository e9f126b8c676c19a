"""What browsing keeps of an item, how it reads a request, and how a request walks the index."""

from __future__ import annotations

from datetime import timedelta

import pytest

from labelmesh.core.errors import InvalidField
from labelmesh.dataset.browsing import (
    EVERY_ITEM,
    MAX_PAGE,
    MAX_TERM_CHARS,
    MAX_TERMS,
    MAX_WINDOW,
    MAX_WINDOWS,
    PROBE_PLACES,
    Cursor,
    Walk,
    Wanted,
    annotators_of,
    classes_of,
    decode_cursor,
    encode_cursor,
    facet,
    facets_of,
    search_terms,
    status_of,
    wanted,
    words,
)
from labelmesh.dataset.records import (
    Acceptance,
    AnnotationTrace,
    BrowseStatus,
    ItemStatus,
    ItemSummary,
    ProjectedItem,
)
from labelmesh.testing.twins.dataset import T0, box, cls
from labelmesh.v1.dataset_service_pb2 import ListItemsRequest
from labelmesh.v1.events_pb2 import DataType


def accepted(*names: str) -> Acceptance:
    labels = tuple(box(n).SerializeToString() for n in names)
    return Acceptance("a1", labels, 1, 1, T0, "e1")


def test_an_item_stands_new_then_annotated_flagged_accepted_and_in_rereview() -> None:
    new = ProjectedItem("i1", "p1")
    annotated = ProjectedItem("i1", "p1", annotations={"a1": AnnotationTrace("a1", "ann")})
    flagged = ProjectedItem("i1", "p1", annotations=annotated.annotations, flagged_at=T0)
    done = ProjectedItem("i1", "p1", acceptance=accepted("cat"), status=ItemStatus.ACCEPTED)
    again = ProjectedItem(
        "i1", "p1", acceptance=accepted("cat"), status=ItemStatus.IN_REREVIEW, flagged_at=T0
    )
    assert [status_of(i) for i in (new, annotated, flagged, done, again)] == [
        BrowseStatus.NEW,
        BrowseStatus.ANNOTATED,
        BrowseStatus.FLAGGED,
        BrowseStatus.ACCEPTED,
        BrowseStatus.IN_REREVIEW,
    ]


def test_an_items_classes_are_those_of_its_annotations_and_accepted_labels_once_each() -> None:
    item = ProjectedItem(
        "i1",
        "p1",
        annotations={
            "a1": AnnotationTrace("a1", "bob", classes=("dog", "cat")),
            "a2": AnnotationTrace("a2", "alice", classes=("cat",)),
            "m1": AnnotationTrace("m1", model_id="yolo", classes=("car",)),
        },
        acceptance=Acceptance("a1", (cls("bird").SerializeToString(),), 1, 1, T0, "e1"),
    )
    assert classes_of(item) == ("dog", "cat", "car", "bird")
    assert annotators_of(item) == ("alice", "bob")


def test_search_terms_are_the_lowercased_words_of_file_name_and_text_once_each_capped() -> None:
    assert words("Cat_on-a.MAT, the cat!") == ["cat", "on", "a", "mat", "the"]
    item = ProjectedItem("i1", "p1", filename="IMG_0042.png", text="A dog and a img")
    assert search_terms(item) == ["img", "0042", "png", "a", "dog", "and"]
    long = ProjectedItem("i1", "p1", text=" ".join(f"w{n}" for n in range(100)))
    assert search_terms(long) == [f"w{n}" for n in range(MAX_TERMS)]
    assert words("x" * 100) == ["x" * MAX_TERM_CHARS]


def test_an_items_facets_name_every_value_a_filter_may_ask_for() -> None:
    item = ProjectedItem(
        "i1",
        "p1",
        data_type=DataType.DATA_TYPE_IMAGE,
        filename="dog.png",
        metadata={"camera": "1"},
        source="url",
    )
    found = facets_of(item, BrowseStatus.ANNOTATED, ("dog",), ("alice",))
    assert found == [
        EVERY_ITEM,
        "status:annotated",
        "type:DATA_TYPE_IMAGE",
        "source:url",
        "class:dog",
        "status-class:annotated/dog",
        "annotator:alice",
        "meta:camera=1",
        "term:dog",
        "term:png",
    ]


def test_a_long_facet_is_a_hash_the_same_written_and_asked() -> None:
    value = "v" * 500
    assert facet("meta", f"k={value}").startswith("meta#")
    assert len(facet("meta", f"k={value}")) < 50
    assert facet("meta", f"k={value}") == facet("meta", f"k={value}")
    assert facet("meta", f"k={value}") != facet("meta", f"k={value}w")
    item = ProjectedItem("i1", "p1", metadata={"k": value})
    request = ListItemsRequest(project_id="p1", metadata=[f"k:{value}"])
    assert wanted(request).lead in facets_of(item, BrowseStatus.NEW, (), ())


def test_a_request_leads_with_the_facet_likely_rarest_and_checks_the_rest() -> None:
    request = ListItemsRequest(
        project_id="p1",
        status="accepted",
        class_name="cat",
        source="url",
        data_type=DataType.DATA_TYPE_IMAGE,
        metadata=["camera:1", "site:a:b"],
        page_size=20,
    )
    assert wanted(request) == Wanted(
        "meta:camera=1",
        frozenset(
            {
                "meta:site=a:b",
                "status-class:accepted/cat",
                "status:accepted",
                "class:cat",
                "source:url",
                "type:DATA_TYPE_IMAGE",
            }
        ),
        20,
        ("meta:camera=1", "meta:site=a:b", "status-class:accepted/cat", "class:cat"),
    )
    searched = wanted(ListItemsRequest(q="The Tabby cat", status="flagged"))
    assert searched.lead == "term:tabby"
    assert searched.rest == {"term:the", "term:cat", "status:flagged"}
    assert wanted(ListItemsRequest(status="flagged", class_name="cat")).lead == (
        "status-class:flagged/cat"
    )
    assert wanted(ListItemsRequest(status="new", source="url")).lead == "source:url"
    assert wanted(ListItemsRequest(class_name="cat")) == Wanted("class:cat", frozenset(), 50)
    assert wanted(ListItemsRequest()) == Wanted(EVERY_ITEM, frozenset(), 50)


@pytest.mark.parametrize(
    ("request_", "field", "reason"),
    [
        (
            ListItemsRequest(status="done"),
            "status",
            "must be one of new, annotated, accepted, in_rereview, flagged",
        ),
        (ListItemsRequest(metadata=["ok:1", "camera"]), "metadata[1]", "must be key:value"),
        (ListItemsRequest(metadata=[":1"]), "metadata[0]", "must be key:value"),
        (ListItemsRequest(q="?!"), "q", "names no word to search for"),
        (ListItemsRequest(q="a b c d e f g h i"), "q", "at most 8 words"),
        (ListItemsRequest(data_type=99), "data_type", "unknown data type 99"),  # type: ignore[arg-type]
        (ListItemsRequest(page_size=MAX_PAGE + 1), "page_size", "must be 0 (for 50) to 500"),
    ],
)
def test_a_filter_that_could_never_match_is_refused_by_name(
    request_: ListItemsRequest, field: str, reason: str
) -> None:
    with pytest.raises(InvalidField) as refused:
        wanted(request_)
    assert (refused.value.field, refused.value.reason) == (field, reason)


def test_a_cursor_reads_back_and_a_foreign_token_is_refused() -> None:
    assert decode_cursor(encode_cursor(Cursor(41, 800))) == Cursor(41, 800)
    assert decode_cursor("") == Cursor(1, 0)
    for token in ("abc", "1", "0.5", "3.-1", f"3.{MAX_WINDOW + 1}"):
        with pytest.raises(InvalidField) as refused:
            decode_cursor(token)
        assert refused.value.field == "page_token"


def summary(seq: int, *facets: str) -> ItemSummary:
    return ItemSummary(
        item_id=f"i{seq}",
        seq=seq,
        data_type=0,
        filename="",
        text="",
        metadata={},
        source="",
        source_uri="",
        status=BrowseStatus.NEW,
        classes=(),
        annotators=(),
        created_at=T0 + timedelta(seconds=seq),
        width=0,
        height=0,
        facets=frozenset({EVERY_ITEM, *facets}),
    )


def test_a_walk_keeps_the_items_every_facet_matches_and_resumes_after_the_last() -> None:
    walk = Walk.begin(Wanted(EVERY_ITEM, frozenset({"class:cat"}), 2), Cursor(), end=11)
    assert walk.span() == (1, 3)
    walk.take([summary(2, "class:cat"), summary(1)], 3)
    assert [i.seq for i in walk.page] == [2] and walk.span() == (3, 5)
    walk.take([summary(4, "class:cat"), summary(3, "class:cat")], 5)
    assert [i.seq for i in walk.page] == [2, 3]
    assert walk.span() is None
    assert walk.next_token() == encode_cursor(Cursor(4, 2))


def test_a_walk_widens_its_window_where_the_facet_is_sparse_and_stops_at_the_end() -> None:
    walk = Walk.begin(Wanted("class:cat", frozenset(), 10), Cursor(), end=1000)
    walk.take([], 11)
    assert walk.span() == (11, 51)
    walk.take([summary(20)], 51)
    assert walk.span() == (51, 211)
    walk.take([summary(s) for s in range(51, 211, 2)], 211)
    assert len(walk.page) == 10 and walk.next_token() == encode_cursor(Cursor(68, 160))
    last = Walk.begin(Wanted("class:cat", frozenset(), 10), Cursor(990, 160), end=1000)
    assert last.span() == (990, 1000)
    last.take([summary(995)], 1000)
    assert last.span() is None and last.next_token() == ""


def test_a_walk_stops_after_its_share_of_windows_with_a_cursor_to_go_on() -> None:
    walk = Walk.begin(Wanted("class:cat", frozenset(), 50), Cursor(), end=10_000_000)
    while (span := walk.span()) is not None:
        walk.take([], span[1])
    assert walk.windows == MAX_WINDOWS and walk.page == []
    cursor = decode_cursor(walk.next_token())
    assert cursor.window == MAX_WINDOW
    assert cursor.start == 1 + 50 + 200 + 800 + 3200 + 12800 + MAX_WINDOW * (MAX_WINDOWS - 5)


def test_a_walk_leads_with_the_probed_facet_that_matched_fewest_of_the_first_places() -> None:
    want = wanted(ListItemsRequest(class_name="cat", source="url", page_size=2))
    assert want.probes == ("class:cat", "source:url")
    walk = Walk.begin(want, Cursor(), end=1000)
    assert walk.probe_span() == (1, 3)
    both = summary(2, "class:cat", "source:url")
    walk.choose({"class:cat": [summary(1, "class:cat"), both], "source:url": [both]}, 3)
    assert walk.lead == "source:url" and walk.rest == {"class:cat"}
    assert walk.page == [both] and walk.lookups == 2 and walk.span() == (3, 5)
    tied = Walk.begin(want, Cursor(), end=1000)
    tied.choose({"class:cat": [], "source:url": []}, 3)
    assert tied.lead == "class:cat" and tied.rest == {"source:url"}
    assert Walk.begin(wanted(ListItemsRequest(q="cat")), Cursor(), 1000).probe_span() is None
    deep = Walk.begin(want, Cursor(5, MAX_WINDOW), end=100_000)
    assert deep.probe_span() == (5, 5 + PROBE_PLACES)


def test_a_walk_sizes_its_next_window_to_the_rest_of_the_page_at_the_rate_matched() -> None:
    walk = Walk.begin(Wanted("class:cat", frozenset(), 10), Cursor(), end=1000)
    walk.take([summary(s) for s in range(1, 9)], 11)  # 8 of 10 places matched: 2 to go
    assert walk.span() == (11, 14)
    sparse = Walk.begin(Wanted("class:cat", frozenset(), 10), Cursor(), end=1000)
    sparse.take([summary(5)], 11)  # 1 of 10 matched: 9 to go, at most four times larger
    assert sparse.span() == (11, 51)
