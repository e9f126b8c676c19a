"""The upload stream over a real gRPC channel, on the in-memory twins: batches
are written one after another while the next is read, and results keep the
stream's order."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import grpc
import pytest
from prometheus_client import CollectorRegistry

from labelmesh.core.storage import LocalDiskStore
from labelmesh.ingest.api import grpc as ingest_grpc
from labelmesh.ingest.metrics import IngestMetrics
from labelmesh.ingest.usecases import Ingest
from labelmesh.testing.access import StaticAuthenticator, grpc_bearer, principal
from labelmesh.testing.memory import InMemoryProjectDirectory, InMemoryUnitOfWork, MemoryState
from labelmesh.testing.services import grpc_stub
from labelmesh.testing.twins.ingest import InMemoryItemRepository, secured_ingest
from labelmesh.v1 import ingest_service_pb2 as pb
from labelmesh.v1 import ingest_service_pb2_grpc as pb_grpc
from labelmesh.v1.events_pb2 import ImportedAnnotation, ImportedPrediction, ProjectSpec, Role
from labelmesh.v1.geometry_pb2 import Classification, Label

pytestmark = pytest.mark.integration
KEY = "integration-key"


@pytest.fixture
async def ingest(tmp_path: Path) -> Ingest:
    state = MemoryState()
    uow = InMemoryUnitOfWork(state)
    projects = InMemoryProjectDirectory(state)
    async with uow.begin() as tx:
        await projects.save(tx, ProjectSpec(project_id="p1"))
    return Ingest(
        InMemoryItemRepository(state),
        projects,
        LocalDiskStore(tmp_path / "media"),
        uow,
        IngestMetrics(CollectorRegistry()),
        max_item_bytes=1024,
    )


@pytest.fixture
async def stub(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[pb_grpc.IngestServiceStub]:
    monkeypatch.setattr(ingest_grpc, "STREAM_BATCH", 3)
    secured = secured_ingest(ingest)
    callers = StaticAuthenticator({KEY: principal("dana", Role.ROLE_INTEGRATION)})
    service = ingest_grpc.grpc_service(secured, callers, max_manifest_bytes=4096)
    async with grpc_stub(service, pb_grpc.IngestServiceStub) as stub:
        yield stub


def stream(texts: Iterable[str], project_id: str = "p1") -> list[pb.UploadItemStreamRequest]:
    return [
        pb.UploadItemStreamRequest(project_id=project_id, item=pb.ItemUpload(text=text))
        for text in texts
    ]


async def test_results_keep_stream_order_across_batches(
    stub: pb_grpc.IngestServiceStub, ingest: Ingest
) -> None:
    texts = ["a", "b", "c", "d", "e", "b", "", "f"]
    response = await stub.UploadItemStream(iter(stream(texts)), metadata=grpc_bearer(KEY))
    results = list(response.results)
    assert [r.index for r in results] == list(range(8))
    # "b" came back in the second batch: a duplicate of the first batch's item.
    assert (results[5].item_id, results[5].duplicate) == (results[1].item_id, True)
    assert results[6].error.field == "items[6].text"
    assert all(r.item_id and not r.duplicate for r in results[:5] + results[7:])
    assert isinstance(ingest.uow, InMemoryUnitOfWork)
    assert len(ingest.uow.emitted("item_ingested")) == 6
    assert ingest.uow.commits == 1 + 3  # the project, then one per batch of three


async def test_an_unknown_project_ends_the_stream_with_not_found(
    stub: pb_grpc.IngestServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await stub.UploadItemStream(
            iter(stream(["a", "b"]) + stream(["c"], "nope")), metadata=grpc_bearer(KEY)
        )
    assert failed.value.code() == grpc.StatusCode.NOT_FOUND
    assert "project 'nope'" in (failed.value.details() or "")


async def test_uploads_carry_their_source_and_imported_labels(
    stub: pb_grpc.IngestServiceStub, ingest: Ingest
) -> None:
    cat = Label(classification=Classification(label="cat"))
    item = pb.ItemUpload(
        text="a cat",
        source="cvat",
        source_uri="cvat://jobs/3",
        annotations=[ImportedAnnotation(labels=[cat], annotator="ann")],
        predictions=[ImportedPrediction(labels=[cat], score=0.4)],
    )
    unlabelled = pb.ItemUpload(text="empty", annotations=[ImportedAnnotation(annotator="x")])
    response = await stub.UploadItems(
        pb.UploadItemsRequest(project_id="p1", items=[item, unlabelled]), metadata=grpc_bearer(KEY)
    )
    assert response.results[1].error.field == "items[1].annotations[0].labels"
    assert isinstance(ingest.uow, InMemoryUnitOfWork)
    (event,) = ingest.uow.emitted("item_ingested")
    ingested = event.item_ingested
    assert (ingested.source, ingested.source_uri) == ("cvat", "cvat://jobs/3")
    assert list(ingested.imported_annotations) == list(item.annotations)
    assert list(ingested.imported_predictions) == list(item.predictions)
    got = await stub.GetItem(
        pb.GetItemRequest(item_id=response.results[0].item_id), metadata=grpc_bearer(KEY)
    )
    assert got.item.source == "cvat"


async def test_a_manifest_streams_in_pieces_and_answers_per_row(
    stub: pb_grpc.IngestServiceStub, ingest: Ingest
) -> None:
    content = b'{"t": "one"}\n{"t": ""}\n{"t": "two"}\n'
    first = pb.ImportManifestRequest(
        project_id="p1",
        filename="rows.jsonl",
        mapping=pb.ManifestMapping(text="t"),
        content=content[:7],
    )
    pieces = [first, pb.ImportManifestRequest(content=content[7:20])]
    pieces.append(pb.ImportManifestRequest(content=content[20:]))
    response = await stub.ImportManifest(iter(pieces), metadata=grpc_bearer(KEY))
    assert [(r.index, r.error.field) for r in response.results] == [
        (0, ""),
        (1, "rows[1]"),
        (2, ""),
    ]
    assert isinstance(ingest.uow, InMemoryUnitOfWork)
    assert [e.item_ingested.text for e in ingest.uow.emitted("item_ingested")] == ["one", "two"]


async def test_a_manifest_over_the_limit_is_refused_as_it_streams(
    stub: pb_grpc.IngestServiceStub,
) -> None:
    mapping = pb.ManifestMapping(text="t")
    pieces = [
        pb.ImportManifestRequest(project_id="p1", format=pb.MANIFEST_FORMAT_JSONL, mapping=mapping)
    ] + [pb.ImportManifestRequest(content=b"x" * 1024) for _ in range(5)]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.ImportManifest(iter(pieces), metadata=grpc_bearer(KEY))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "content: a manifest holds at most 4096 bytes" in (refused.value.details() or "")
