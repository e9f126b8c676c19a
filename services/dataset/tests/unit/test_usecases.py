"""Versions, their pages and diffs, on the in-memory twins."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from labelmesh.core.errors import InvalidField, NotFound
from labelmesh.dataset import usecases
from labelmesh.dataset.domain import order_key
from labelmesh.testing.twins.dataset import T0, DatasetWorld, box, cls, event
from labelmesh.v1.dataset_service_pb2 import DiffSummary, ItemChangeKind, ListItemsRequest
from labelmesh.v1.events_pb2 import (
    AnnotationSubmitted,
    DatasetFilter,
    DatasetVersion,
    DataType,
    ItemIngested,
    Rebalance,
    RebalanceMethod,
    ReviewPolicy,
    ReviewPolicyConfigured,
    SplitSpec,
)


async def test_a_version_snapshots_accepted_items_with_counts_and_one_event(
    world: DatasetWorld,
) -> None:
    await world.project()
    await world.accepted("i1", [box("cat"), box("dog")])
    await world.accepted("i2", [box("cat")])
    version, created = await world.version(name="first")
    assert created and version.item_count == 2 and version.label_count == 3
    assert dict(version.class_counts) == {"cat": 2, "dog": 1}
    assert version.created_by == "KIND_USER:lead" and version.name == "first"
    assert list(version.classes) == ["cat", "dog", "bird"] and version.schema_sha256
    (made,) = world.uow.emitted("dataset_version_created")
    assert made.dataset_version_created.version.version_id == version.version_id
    assert made.project_id == "p1"


async def test_the_same_labels_give_back_the_version_made_before_and_leave_no_chunks(
    world: DatasetWorld,
) -> None:
    await world.project()
    await world.accepted("i1", [box("cat")])
    first, _ = await world.version()
    chunks = dict(world.versions.chunks)
    again, created = await world.version(name="another name")
    assert not created and again.version_id == first.version_id and again.name == "v"
    assert world.versions.chunks == chunks
    assert len(world.uow.emitted("dataset_version_created")) == 1
    await world.accepted("i2", [box("dog")])
    changed, created = await world.version()
    assert created and changed.version_id != first.version_id


async def test_a_failed_write_leaves_no_manifest_behind(
    world: DatasetWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world.project()
    await world.accepted("i1", [box("cat")])

    async def broken(*_: object) -> bool:
        raise RuntimeError("database went away")

    monkeypatch.setattr(world.versions, "add", broken)
    with pytest.raises(RuntimeError):
        await world.version()
    assert world.versions.chunks == {}
    assert world.uow.emitted("dataset_version_created") == []


async def test_a_version_records_the_policy_in_force(world: DatasetWorld) -> None:
    await world.project()
    await world.accepted("i1", [box("cat")])
    policy = ReviewPolicyConfigured(policy=ReviewPolicy(version=3))
    await world.hear([event(policy)])
    version, _ = await world.version()
    assert version.policy_version == 3


async def test_a_version_of_an_unknown_project_or_with_a_bad_filter_is_refused(
    world: DatasetWorld,
) -> None:
    with pytest.raises(NotFound):
        await world.version(project="nowhere")
    await world.project()
    with pytest.raises(InvalidField) as refused:
        await world.version(DatasetFilter(classes=["zebra"]))
    assert refused.value.field == "filter.classes[0]"


async def test_items_come_in_pages_across_chunks_in_version_order(
    world: DatasetWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(usecases, "CHUNK_ITEMS", 4)
    await world.project()
    ids = [f"item-{n:02d}" for n in range(11)]
    for item in ids:
        await world.accepted(item, [cls("cat")])
    version, _ = await world.version()
    stored = await world.datasets.version(version.version_id)
    assert stored.chunks == 3
    seen, token = [], ""
    while True:
        page, token = await world.datasets.items_page(stored, 3, token)
        seen += [item.item_id for item in page]
        if not token:
            break
    assert seen == sorted(ids, key=order_key)
    assert all(item.lineage.annotators == ["ann-1"] for item in page)
    with pytest.raises(InvalidField):
        await world.datasets.items_page(stored, 10, "not-a-token")


async def test_versions_are_listed_newest_first_in_pages(world: DatasetWorld) -> None:
    await world.project()
    made = []
    for n in range(5):
        await world.accepted(f"i{n}", [cls("cat")], at=T0 + timedelta(minutes=n))
        made.append((await world.version())[0])
    # Newest first; versions made in the same millisecond by id, highest first.
    made.sort(key=lambda v: (v.created_at.ToDatetime(), v.version_id))
    seen, token = [], ""
    while True:
        page, token = await world.datasets.list_versions("p1", 2, token)
        seen += [v.version_id for v in page]
        if not token:
            break
    assert seen == [v.version_id for v in made[::-1]]


async def test_a_diff_lists_items_added_removed_and_relabelled_with_counts(
    world: DatasetWorld,
) -> None:
    await world.project()
    await world.accepted("keep", [box("cat")])
    await world.accepted("relabel", [box("cat"), box("dog")])
    await world.accepted("drop", [box("bird")], metadata={"split": "old"})
    before, _ = await world.version(DatasetFilter())
    await world.accepted("relabel", [box("cat"), box("bird")], at=T0 + timedelta(hours=1))
    await world.accepted("new", [box("dog")])
    after, _ = await world.version(DatasetFilter(classes=["cat", "dog"]))
    old = await world.datasets.version(before.version_id)
    new = await world.datasets.version(after.version_id)
    summary = DiffSummary()
    changes = {c.item_id: c async for c in world.datasets.diff(old, new, summary)}
    assert changes["new"].kind == ItemChangeKind.ITEM_CHANGE_KIND_ADDED
    assert changes["drop"].kind == ItemChangeKind.ITEM_CHANGE_KIND_REMOVED
    relabelled = changes["relabel"]
    assert relabelled.kind == ItemChangeKind.ITEM_CHANGE_KIND_CHANGED
    assert [label.bounding_box.label for label in relabelled.labels_removed] == ["dog"]
    assert "keep" not in changes
    assert (summary.items_added, summary.items_removed, summary.items_changed) == (1, 1, 1)
    assert (summary.labels_added, summary.labels_removed) == (1, 2)


async def test_versions_of_two_projects_cannot_be_diffed(world: DatasetWorld) -> None:
    for project in ("p1", "p2"):
        await world.project(project)
        await world.accepted(f"{project}-item", [cls("cat")], project=project)
    one = await world.datasets.version((await world.version(project="p1"))[0].version_id)
    two = await world.datasets.version((await world.version(project="p2"))[0].version_id)
    with pytest.raises(InvalidField) as refused:
        _ = [c async for c in world.datasets.diff(one, two, DiffSummary())]
    assert refused.value.field == "to_version_id"


async def items_of(world: DatasetWorld, version_id: str) -> dict[str, str]:
    stored = await world.datasets.version(version_id)
    return {item.item_id: item.split async for item in world.datasets.manifest(stored)}


async def test_a_split_version_places_every_item_and_keeps_groups_together(
    world: DatasetWorld,
) -> None:
    await world.project()
    for n in range(40):
        await world.accepted(
            f"i{n:02d}", [cls("cat" if n % 4 else "dog")], metadata={"video": f"v{n // 4}"}
        )
    split = SplitSpec(ratios={"train": 0.5, "test": 0.5}, seed=3, group_by="video")
    version, _ = await world.version(split=split)
    assert dict(version.split_counts) == {"train": 20, "test": 20}
    assert version.split == split
    splits = await items_of(world, version.version_id)
    for group in range(10):
        assert len({splits[f"i{n:02d}"] for n in range(group * 4, group * 4 + 4)}) == 1
    unsplit, _ = await world.version()
    assert unsplit.version_id != version.version_id and not unsplit.split_counts


async def test_items_keep_their_split_from_the_parent_version(world: DatasetWorld) -> None:
    await world.project()
    for n in range(30):
        await world.accepted(f"old{n}", [cls("cat")])
    ratios = {"train": 0.6, "validation": 0.2, "test": 0.2}
    first, _ = await world.version(split=SplitSpec(ratios=ratios, seed=1))
    for n in range(30):
        await world.accepted(f"new{n}", [cls("cat")])
    child_spec = SplitSpec(ratios=ratios, seed=1, parent_version_id=first.version_id)
    second, _ = await world.version(split=child_spec)
    before, after = (
        await items_of(world, first.version_id),
        await items_of(world, second.version_id),
    )
    assert {i: after[i] for i in before} == before
    assert dict(second.split_counts) == {"train": 36, "validation": 12, "test": 12}


async def test_a_split_with_bad_ratios_or_a_foreign_parent_is_refused(world: DatasetWorld) -> None:
    for project in ("p1", "p2"):
        await world.project(project)
        await world.accepted(f"{project}-i", [cls("cat")], project=project)
    elsewhere, _ = await world.version(project="p2")
    with pytest.raises(InvalidField) as refused:
        await world.version(split=SplitSpec(ratios={"train": 0.9}))
    assert refused.value.field == "split.ratios"
    foreign = SplitSpec(ratios={"train": 1.0}, parent_version_id=elsewhere.version_id)
    with pytest.raises(InvalidField) as refused:
        await world.version(split=foreign)
    assert refused.value.field == "split.parent_version_id"


async def test_a_version_counts_classes_per_split(world: DatasetWorld) -> None:
    await world.project()
    for n in range(20):
        await world.accepted(f"i{n:02d}", [cls("cat" if n % 5 else "dog")])
    whole, _ = await world.version()
    [all_items] = whole.balance
    assert all_items.split == "" and dict(all_items.class_counts) == {
        "cat": 16,
        "dog": 4,
        "bird": 0,
    }
    split, _ = await world.version(split=SplitSpec(ratios={"train": 0.75, "test": 0.25}))
    assert [b.split for b in split.balance] == ["test", "train"]
    test, train = split.balance
    assert dict(train.class_counts) == {"cat": 12, "dog": 3, "bird": 0}
    assert dict(test.class_counts) == {"cat": 4, "dog": 1, "bird": 0}
    assert train.imbalance_ratio == 4.0


async def skewed(world: DatasetWorld) -> DatasetVersion:
    """A split version with four cats to each dog in every split."""
    await world.project()
    for n in range(40):
        await world.accepted(f"i{n:02d}", [cls("dog" if n % 5 == 0 else "cat")])
    ratios = {"train": 0.5, "test": 0.5}
    return (await world.version(split=SplitSpec(ratios=ratios, seed=2)))[0]


async def test_undersampling_keeps_as_many_of_each_class_as_the_rarest_has(
    world: DatasetWorld,
) -> None:
    parent = await skewed(world)
    undersample = Rebalance(method=RebalanceMethod.REBALANCE_METHOD_UNDERSAMPLE, seed=1)
    derived, _ = await world.version(derived_from=parent.version_id, rebalance=undersample)
    assert derived.derived_from == parent.version_id and derived.rebalance == undersample
    assert derived.split == parent.split
    for split in derived.balance:
        assert dict(split.class_counts) == {"cat": 4, "dog": 4, "bird": 0}
        assert split.imbalance_ratio == 1.0
    kept = await items_of(world, derived.version_id)
    assert kept.items() <= (await items_of(world, parent.version_id)).items()
    again, created = await world.version(derived_from=parent.version_id, rebalance=undersample)
    assert not created and again.version_id == derived.version_id


async def test_weights_make_each_class_weigh_the_same_in_its_split(world: DatasetWorld) -> None:
    parent = await skewed(world)
    weights = Rebalance(method=RebalanceMethod.REBALANCE_METHOD_WEIGHTS)
    derived, _ = await world.version(derived_from=parent.version_id, rebalance=weights)
    assert derived.item_count == parent.item_count
    stored = await world.datasets.version(derived.version_id)
    weight: dict[tuple[str, str], float] = {}
    async for item in world.datasets.manifest(stored):
        key = (item.split, item.labels[0].classification.label)
        weight[key] = weight.get(key, 0.0) + item.sampling_weight
    for split in ("train", "test"):
        assert weight[(split, "cat")] == pytest.approx(weight[(split, "dog")]) == 10.0


async def test_a_rebalance_needs_a_parent_of_the_project_and_a_method(world: DatasetWorld) -> None:
    parent = await skewed(world)
    weights = Rebalance(method=RebalanceMethod.REBALANCE_METHOD_WEIGHTS)
    cases = [
        ({"rebalance": weights}, "rebalance"),
        ({"derived_from": "nothing", "rebalance": weights}, "derived_from"),
        ({"derived_from": parent.version_id}, "rebalance.method"),
        (
            {
                "derived_from": parent.version_id,
                "rebalance": weights,
                "filter": DatasetFilter(classes=["cat"]),
            },
            "filter",
        ),
    ]
    for fields, field in cases:
        with pytest.raises(InvalidField) as refused:
            await world.version(**fields)  # type: ignore[arg-type]
        assert refused.value.field == field


async def ingest(world: DatasetWorld, item: str, **fields: Any) -> None:
    fields.setdefault("data_type", DataType.DATA_TYPE_IMAGE)
    await world.hear([event(ItemIngested(**fields), item)])


async def listed(world: DatasetWorld, **asked: Any) -> list[str]:
    """Every item id the listing gives, page after page."""
    ids: list[str] = []
    token = ""
    while True:
        request = ListItemsRequest(project_id="p1", page_token=token, **asked)
        page, token = await world.datasets.list_items(request)
        ids += [i.item_id for i in page]
        if not token:
            return ids


async def test_items_list_in_the_order_heard_with_every_filter_combined(
    world: DatasetWorld,
) -> None:
    await world.project()
    await ingest(world, "i1", filename="dog_park.png", source="url", metadata={"camera": "1"})
    await ingest(world, "i2", filename="cat.png", source="upload", metadata={"camera": "2"})
    await ingest(world, "i3", text="A Dog sleeps", data_type=DataType.DATA_TYPE_TEXT)
    await world.accepted("i4", [box("cat")], annotator="alice", metadata={"camera": "1"})
    submitted = AnnotationSubmitted(annotation_id="b1", annotator="bob", labels=[box("dog")])
    await world.hear([event(submitted, "i1")])
    assert await listed(world) == ["i1", "i2", "i3", "i4"]
    assert await listed(world, status="new") == ["i2", "i3"]
    assert await listed(world, status="annotated") == ["i1"]
    assert await listed(world, status="accepted", class_name="cat") == ["i4"]
    assert await listed(world, class_name="dog") == ["i1"]
    assert await listed(world, annotator="alice") == ["i4"]
    assert await listed(world, source="url", metadata=["camera:1"]) == ["i1"]
    assert await listed(world, metadata=["camera:1"]) == ["i1", "i4"]
    assert await listed(world, q="DOG") == ["i1", "i3"]
    assert await listed(world, q="dog sleeps") == ["i3"]
    assert await listed(world, data_type=DataType.DATA_TYPE_TEXT, q="dog") == ["i3"]
    assert await listed(world, q="dog", status="accepted") == []


async def test_a_listed_item_shows_what_ingest_and_annotation_said_of_it(
    world: DatasetWorld,
) -> None:
    await world.project()
    await ingest(
        world,
        "i1",
        filename="cat.png",
        text="x" * 300,
        source="url",
        source_uri="https://example.org/cat.png",
        width=64,
        height=48,
    )
    submitted = AnnotationSubmitted(annotation_id="a1", annotator="ann", labels=[box("cat")])
    await world.hear([event(submitted, "i1")])
    (item,), token = await world.datasets.list_items(ListItemsRequest(project_id="p1"))
    assert token == ""
    assert (item.filename, item.source, item.source_uri) == (
        "cat.png",
        "url",
        "https://example.org/cat.png",
    )
    assert item.text == "x" * 200 and (item.width, item.height) == (64, 48)
    assert item.classes == ("cat",) and item.annotators == ("ann",)
    assert item.status.value == "annotated" and item.created_at == T0


async def test_a_sparse_filter_pages_through_many_items_with_short_pages(
    world: DatasetWorld,
) -> None:
    await world.project()
    await world.hear(
        [
            event(
                ItemIngested(filename=f"{'rare' if n % 997 == 0 else 'common'}-{n}.png"),
                f"i{n}",
                T0 + timedelta(milliseconds=n),
            )
            for n in range(1, 20_001)
        ]
    )
    pages: list[int] = []
    ids: list[str] = []
    token = ""
    while True:
        request = ListItemsRequest(project_id="p1", q="rare", page_size=5, page_token=token)
        page, token = await world.datasets.list_items(request)
        pages.append(len(page))
        ids += [i.item_id for i in page]
        if not token:
            break
    # The last request examines the items after the twentieth, and finds none.
    assert pages == [5, 5, 5, 5, 0]
    assert ids == [f"i{n}" for n in range(997, 20_001, 997)]
    first = ListItemsRequest(project_id="p1", page_size=500)
    everything, token = await world.datasets.list_items(first)
    assert len(everything) == 500 and token


async def test_listing_an_unknown_project_is_not_found(world: DatasetWorld) -> None:
    with pytest.raises(NotFound):
        await world.datasets.list_items(ListItemsRequest(project_id="nope"))
