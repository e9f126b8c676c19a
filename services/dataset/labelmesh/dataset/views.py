"""The dataset service's resources as the messages its gRPC methods return;
REST returns the same messages as proto-JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator

from labelmesh.dataset.domain import order_key
from labelmesh.dataset.records import ItemSummary
from labelmesh.v1 import dataset_service_pb2 as pb
from labelmesh.v1.events_pb2 import DatasetVersion


def created(version: DatasetVersion, is_new: bool) -> pb.CreateDatasetVersionResponse:
    return pb.CreateDatasetVersionResponse(version=version, created=is_new)


def versions_page(versions: list[DatasetVersion], token: str) -> pb.ListDatasetVersionsResponse:
    return pb.ListDatasetVersionsResponse(versions=versions, next_page_token=token)


def items_page(items: list[pb.DatasetItem], token: str) -> pb.ListDatasetVersionItemsResponse:
    return pb.ListDatasetVersionItemsResponse(items=items, next_page_token=token)


async def diff_page(
    changes: AsyncIterator[pb.ItemChange], summary: pb.DiffSummary, size: int, after: str
) -> pb.DatasetDiffPage:
    """The changes after item `after` (none: from the first), at most `size`,
    with the counts of the whole diff, which is read to its end for them."""
    page = pb.DatasetDiffPage()
    start = order_key(after) if after else None
    more = False
    async for change in changes:
        if start is not None and order_key(change.item_id) <= start:
            continue
        if len(page.changes) < size:
            page.changes.append(change)
        else:
            more = True
    page.summary.CopyFrom(summary)
    if more:
        page.next_page_token = page.changes[-1].item_id
    return page


def listed_items(items: list[ItemSummary], token: str) -> pb.ListItemsResponse:
    return pb.ListItemsResponse(items=[listed(i) for i in items], next_page_token=token)


def listed(item: ItemSummary) -> pb.ListedItem:
    message = pb.ListedItem(
        item_id=item.item_id,
        data_type=item.data_type,  # type: ignore[arg-type]
        filename=item.filename,
        text=item.text,
        metadata=item.metadata,
        source=item.source,
        source_uri=item.source_uri,
        status=item.status.value,
        classes=item.classes,
        annotators=item.annotators,
        width=item.width,
        height=item.height,
    )
    if item.created_at is not None:
        message.created_at.FromDatetime(item.created_at)
    return message
