"""The projection of accepted labels, what a version takes from it, its
manifest hash, and the diff of two versions. Pure: no I/O."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import orjson
from google.protobuf.message import Message

from labelmesh.core.enums import proto_values
from labelmesh.core.errors import InvalidField
from labelmesh.core.labels import class_of
from labelmesh.core.proto_json import to_json
from labelmesh.dataset.records import Acceptance, AnnotationTrace, ItemStatus, ProjectedItem
from labelmesh.v1.dataset_service_pb2 import (
    DatasetItem,
    DiffSummary,
    ItemChange,
    ItemChangeKind,
    LabelLineage,
)
from labelmesh.v1.events_pb2 import (
    AcceptedStatus,
    AdjudicationDecided,
    AnnotationAutoAccepted,
    AnnotationSubmitted,
    Augmentation,
    CompletionSource,
    DatasetFilter,
    DatasetVersion,
    DataType,
    Envelope,
    ItemCompleted,
    ItemDeleted,
    ItemFlagged,
    ItemIngested,
    ModelRef,
    ProjectSpec,
    ReviewDecided,
    ReviewDecision,
    SplitBalance,
)
from labelmesh.v1.geometry_pb2 import Label

# Items are read from the projection a bucket at a time, so that no query
# returns more than a bucket's share of a project; a version lists its items in
# (bucket, item id) order, which never changes for an item.
BUCKETS = 256

STATUS_VALUES = proto_values(ItemStatus, AcceptedStatus)


def bucket_of(item_id: str) -> int:
    return int.from_bytes(hashlib.sha256(item_id.encode()).digest()[:4], "big") % BUCKETS


def order_key(item_id: str) -> tuple[int, str]:
    """Where an item stands in every version's order."""
    return bucket_of(item_id), item_id


def projected(item: ProjectedItem | None, envelope: Envelope, event: Message) -> ProjectedItem:
    """`item` (None if unseen) after one event about it.

    Events of one item may arrive in any order across topics, and more than
    once: each event sets only what it knows, and a completion or a flag older
    than the acceptance already held changes nothing.
    """
    item = item or ProjectedItem(envelope.item_id, envelope.project_id)
    at = envelope.occurred_at.ToDatetime(UTC)
    if isinstance(event, ItemIngested):
        # Content deleted and then brought in again is the same item again.
        deleted_at = item.deleted_at if item.deleted_at and item.deleted_at > at else None
        return replace(
            item,
            data_type=int(event.data_type),
            media_key=event.media_key,
            media_uri=event.media_uri,
            deleted_at=deleted_at,
            sha256=event.content_sha256,
            content_type=event.content_type,
            filename=event.filename,
            text=event.text,
            metadata=dict(event.metadata),
            width=event.width,
            height=event.height,
            source=event.source,
            source_uri=event.source_uri,
            created_at=at,
        )
    if isinstance(event, ItemDeleted):
        return replace(item, deleted_at=max(at, item.deleted_at or at))
    if isinstance(event, AnnotationSubmitted):
        trace = item.annotations.get(event.annotation_id, AnnotationTrace(event.annotation_id))
        submitted = replace(
            trace, annotator=event.annotator, round=event.round, classes=classes(event.labels)
        )
        return _with_trace(item, submitted)
    if isinstance(event, AnnotationAutoAccepted):
        trace = item.annotations.get(event.annotation_id, AnnotationTrace(event.annotation_id))
        model = replace(
            trace,
            model_id=event.model.id,
            model_version=event.model.version,
            rule_version=event.rule_version,
            classes=classes(event.labels),
        )
        return _with_trace(item, model)
    if isinstance(event, ReviewDecided):
        if event.decision != ReviewDecision.REVIEW_DECISION_APPROVED or not event.reviewer:
            return item
        trace = item.annotations.get(event.annotation_id, AnnotationTrace(event.annotation_id))
        reviewers = tuple(sorted({*trace.reviewers, event.reviewer}))
        return _with_trace(item, replace(trace, reviewers=reviewers))
    if isinstance(event, AdjudicationDecided):
        return replace(item, adjudicator=event.adjudicator)
    if isinstance(event, ItemCompleted):
        if item.acceptance is not None and at < item.acceptance.accepted_at:
            return item
        source = int(event.completion_source)
        acceptance = Acceptance(
            annotation_id=event.annotation_id,
            labels=tuple(label.SerializeToString(deterministic=True) for label in event.labels),
            source=source,
            policy_version=event.policy_version,
            accepted_at=at,
            event_id=envelope.event_id,
            adjudicator=(
                item.adjudicator
                if source == CompletionSource.COMPLETION_SOURCE_ADJUDICATION
                else ""
            ),
        )
        # A flag made after this completion, heard before it, reopens it.
        if item.flagged_at is not None and item.flagged_at > at:
            return replace(
                item, acceptance=acceptance, status=ItemStatus.IN_REREVIEW, adjudicator=""
            )
        return replace(
            item, acceptance=acceptance, status=ItemStatus.ACCEPTED, flagged_at=None, adjudicator=""
        )
    if isinstance(event, ItemFlagged):
        if item.acceptance is not None and at < item.acceptance.accepted_at:
            return item
        if item.acceptance is None:
            # Flagged before it was accepted: browsing shows it flagged.
            return replace(item, flagged_at=max(at, item.flagged_at or at))
        return replace(item, status=ItemStatus.IN_REREVIEW, flagged_at=at)
    raise TypeError(f"the projection takes no {type(event).__name__}")


def classes(labels: Iterable[Label]) -> tuple[str, ...]:
    """The classes of `labels`, each once, in the order first met."""
    return tuple(dict.fromkeys(name for name in map(class_of, labels) if name))


def _with_trace(item: ProjectedItem, trace: AnnotationTrace) -> ProjectedItem:
    return replace(item, annotations={**item.annotations, trace.annotation_id: trace})


def lineage(item: ProjectedItem, acceptance: Acceptance) -> LabelLineage:
    """Where an accepted item's labels came from. A consensus was made by every
    annotator of the item's last round; any other label by its annotation's
    maker, a person or a model."""
    chosen: list[AnnotationTrace]
    if acceptance.source == CompletionSource.COMPLETION_SOURCE_CONSENSUS:
        human = [t for t in item.annotations.values() if t.annotator]
        last_round = max((t.round for t in human), default=0)
        chosen = [t for t in human if t.round == last_round]
    else:
        trace = item.annotations.get(acceptance.annotation_id)
        chosen = [trace] if trace else []
    models = {(t.model_id, t.model_version) for t in chosen if t.model_id}
    for raw in acceptance.labels:
        source = Label.FromString(raw).source
        if source.model_id:
            models.add((source.model_id, source.model_version))
    result = LabelLineage(
        annotation_id=acceptance.annotation_id,
        annotators=sorted({t.annotator for t in chosen if t.annotator}),
        reviewers=sorted({r for t in chosen for r in t.reviewers}),
        adjudicator=acceptance.adjudicator,
        models=[ModelRef(id=m, version=v) for m, v in sorted(models)],
        completion_source=CompletionSource.ValueType(acceptance.source),
        audit_chain=item.item_id,
        policy_version=acceptance.policy_version,
        rule_version=max((t.rule_version for t in chosen), default=0),
        completion_event_id=acceptance.event_id,
        status=STATUS_VALUES[item.status or ItemStatus.ACCEPTED],
    )
    result.accepted_at.FromDatetime(acceptance.accepted_at)
    return result


def check_filter(filter: DatasetFilter, project: ProjectSpec, at: str = "filter") -> None:
    """Refuse a filter that could never mean what it says."""
    known = set(project.classes)
    for n, name in enumerate(filter.classes):
        if name not in known:
            raise InvalidField(f"{at}.classes[{n}]", f"{name!r} is not a class of the project")
    for n, status in enumerate(filter.statuses):
        if status == AcceptedStatus.ACCEPTED_STATUS_UNSPECIFIED:
            raise InvalidField(f"{at}.statuses[{n}]", "must be ACCEPTED or IN_REREVIEW")
    for n, source in enumerate(filter.sources):
        if source == CompletionSource.COMPLETION_SOURCE_UNSPECIFIED:
            raise InvalidField(f"{at}.sources[{n}]", "must name a completion source")
    if not 0.0 <= filter.min_confidence <= 1.0:
        raise InvalidField(f"{at}.min_confidence", "must be within [0, 1]")
    if (
        filter.HasField("accepted_from")
        and filter.HasField("accepted_to")
        and filter.accepted_to.ToDatetime() <= filter.accepted_from.ToDatetime()
    ):
        raise InvalidField(f"{at}.accepted_to", "must be after accepted_from")


def dataset_item(item: ProjectedItem, filter: DatasetFilter) -> DatasetItem | None:
    """The item as a version with `filter` holds it, or None if it takes none of it."""
    acceptance = item.acceptance
    if acceptance is None or item.deleted_at is not None:
        return None
    statuses = set(filter.statuses) or {AcceptedStatus.ACCEPTED_STATUS_ACCEPTED}
    if STATUS_VALUES[item.status or ItemStatus.ACCEPTED] not in statuses:
        return None
    if filter.sources and acceptance.source not in filter.sources:
        return None
    if not _within(acceptance.accepted_at, filter):
        return None
    if any(item.metadata.get(key) != value for key, value in filter.metadata.items()):
        return None
    origin = lineage(item, acceptance)
    if filter.annotators and not set(filter.annotators) & set(origin.annotators):
        return None
    labels = [
        label
        for label in (Label.FromString(raw) for raw in acceptance.labels)
        if _keeps(label, filter)
    ]
    if not labels:
        return None
    return DatasetItem(
        item_id=item.item_id,
        data_type=item.data_type,  # type: ignore[arg-type]
        media_key=item.media_key,
        content_sha256=item.sha256,
        content_type=item.content_type,
        filename=item.filename,
        text=item.text,
        metadata=item.metadata,
        labels=labels,
        lineage=origin,
        width=item.width,
        height=item.height,
        media_uri=item.media_uri,
    )


def _within(at: datetime, filter: DatasetFilter) -> bool:
    if filter.HasField("accepted_from") and at < filter.accepted_from.ToDatetime(UTC):
        return False
    return not (filter.HasField("accepted_to") and at >= filter.accepted_to.ToDatetime(UTC))


def _keeps(label: Label, filter: DatasetFilter) -> bool:
    if filter.classes and class_of(label) not in filter.classes:
        return False
    made_by_model = bool(label.source.model_id) and not label.source.accepted_by
    return not (made_by_model and label.confidence < filter.min_confidence)


def schema_sha256(classes: Sequence[str]) -> str:
    """The label schema's version: a hash of its classes, in order."""
    return hashlib.sha256("\n".join(classes).encode()).hexdigest()


class Manifest:
    """The running hash of a version's manifest: its settings, then each of its
    items in item id order, each prefixed with its length."""

    def __init__(self, settings: DatasetVersion) -> None:
        self._hash = hashlib.sha256(settings.SerializeToString(deterministic=True))
        self.items = 0
        self.labels = 0
        self.class_counts: dict[str, int] = {}
        self.split_counts: dict[str, int] = {}
        self.split_classes: dict[str, dict[str, int]] = {}

    def add(self, item: DatasetItem) -> tuple[bytes, bytes]:
        """Count and hash one item; returns its stored forms, the message and
        its JSONL line."""
        raw: bytes = item.SerializeToString(deterministic=True)
        self._hash.update(len(raw).to_bytes(8, "big"))
        self._hash.update(raw)
        self.items += 1
        self.labels += len(item.labels)
        in_split = self.split_classes.setdefault(item.split, {})
        for label in item.labels:
            name = class_of(label) or ""
            self.class_counts[name] = self.class_counts.get(name, 0) + 1
            in_split[name] = in_split.get(name, 0) + 1
        if item.split:
            self.split_counts[item.split] = self.split_counts.get(item.split, 0) + 1
        return raw, jsonl_line(item)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def balance(self, classes: Sequence[str], splits: Sequence[str]) -> list[SplitBalance]:
        """Class counts per split (`splits` in order; none: the whole version)."""
        return [
            balance_of(name, self.split_classes.get(name, {}), classes) for name in splits or [""]
        ]


def jsonl_line(item: DatasetItem) -> bytes:
    """The item's canonical form: its proto-JSON on one line."""
    return orjson.dumps(to_json(item), option=orjson.OPT_APPEND_NEWLINE)


def balance_of(split: str, counts: dict[str, int], classes: Sequence[str]) -> SplitBalance:
    """One split's class counts, every class of the schema included, and how
    far its largest class outnumbers its smallest present one."""
    full = {name: counts.get(name, 0) for name in classes} | counts
    present = [n for n in full.values() if n]
    return SplitBalance(
        split=split,
        class_counts=full,
        imbalance_ratio=max(present) / min(present) if present else 0.0,
        missing_classes=[name for name in classes if not full[name]],
    )


def version_settings(
    project: ProjectSpec, filter: DatasetFilter, policy_version: int, rule_version: int
) -> DatasetVersion:
    """What a version records of the settings behind it, and hashes first."""
    return DatasetVersion(
        project_id=project.project_id,
        filter=filter,
        classes=project.classes,
        schema_sha256=schema_sha256(project.classes),
        policy_version=policy_version,
        rule_version=rule_version,
        skeletons=project.skeletons,
    )


MAX_COPIES = 10
MAX_SCALE = 4.0


def check_augmentation(recipe: Augmentation, data_type: int) -> None:
    """Raise InvalidField naming the first setting of `recipe` out of its range."""
    if data_type != DataType.DATA_TYPE_IMAGE:
        raise InvalidField("augmentation", "only image projects are augmented")
    if not 1 <= recipe.copies <= MAX_COPIES:
        raise InvalidField("augmentation.copies", f"must be 1 to {MAX_COPIES}")
    for name in ("horizontal_flip", "vertical_flip", "rotate90", "color_jitter"):
        if not 0.0 <= getattr(recipe, name) <= 1.0:
            raise InvalidField(f"augmentation.{name}", "must be 0 to 1")
    if not 0.0 <= recipe.crop_min_scale <= 1.0:
        raise InvalidField("augmentation.crop_min_scale", "must be 0 (no crop) or above 0 to 1")
    scaled = recipe.scale_min or recipe.scale_max
    if scaled and not 0.0 < recipe.scale_min <= recipe.scale_max <= MAX_SCALE:
        raise InvalidField(
            "augmentation.scale_min",
            f"must be above 0 and at most scale_max, which is at most {MAX_SCALE}",
        )


def item_change(before: DatasetItem | None, after: DatasetItem | None) -> ItemChange | None:
    """How an item differs between two versions; None if its labels are the same."""
    if before is None and after is None:
        return None
    if before is None:
        assert after is not None
        return ItemChange(
            item_id=after.item_id,
            kind=ItemChangeKind.ITEM_CHANGE_KIND_ADDED,
            labels_added=after.labels,
        )
    if after is None:
        return ItemChange(
            item_id=before.item_id,
            kind=ItemChangeKind.ITEM_CHANGE_KIND_REMOVED,
            labels_removed=before.labels,
        )
    old = {label.SerializeToString(deterministic=True): label for label in before.labels}
    new = {label.SerializeToString(deterministic=True): label for label in after.labels}
    if old.keys() == new.keys():
        return None
    return ItemChange(
        item_id=after.item_id,
        kind=ItemChangeKind.ITEM_CHANGE_KIND_CHANGED,
        labels_added=[label for key, label in new.items() if key not in old],
        labels_removed=[label for key, label in old.items() if key not in new],
    )


def summarize(changes: Iterable[ItemChange], into: DiffSummary) -> None:
    """Add `changes` to the running counts `into`."""
    for change in changes:
        if change.kind == ItemChangeKind.ITEM_CHANGE_KIND_ADDED:
            into.items_added += 1
        elif change.kind == ItemChangeKind.ITEM_CHANGE_KIND_REMOVED:
            into.items_removed += 1
        else:
            into.items_changed += 1
        into.labels_added += len(change.labels_added)
        into.labels_removed += len(change.labels_removed)
