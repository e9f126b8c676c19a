"""Who may call what: every REST route and every gRPC method of every running
service, called by each project role, an organisation admin, a member of
another project, and callers with no, an expired or a revoked credential.

The routes come from each service's OpenAPI document and the methods from the
protos' service descriptors, so an endpoint without an entry here fails
`test_every_endpoint_has_an_entry`.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf.message import Message
from minio import Minio

from labelmesh.devstack.keys import StackKeys
from labelmesh.devstack.services import ServiceAddress
from labelmesh.testing.services import wait_for
from labelmesh.v1 import access_service_pb2 as access_pb
from labelmesh.v1 import access_service_pb2_grpc as access_grpc
from labelmesh.v1 import annotation_service_pb2 as annotation_pb
from labelmesh.v1 import annotation_service_pb2_grpc as annotation_grpc
from labelmesh.v1 import audit_service_pb2 as audit_pb
from labelmesh.v1 import audit_service_pb2_grpc as audit_grpc
from labelmesh.v1 import dataset_service_pb2 as dataset_pb
from labelmesh.v1 import dataset_service_pb2_grpc as dataset_grpc
from labelmesh.v1 import inference_service_pb2 as inference_pb
from labelmesh.v1 import inference_service_pb2_grpc as inference_grpc
from labelmesh.v1 import ingest_service_pb2 as ingest_pb
from labelmesh.v1 import ingest_service_pb2_grpc as ingest_grpc
from labelmesh.v1 import review_service_pb2 as review_pb
from labelmesh.v1 import review_service_pb2_grpc as review_grpc
from labelmesh.v1.events_pb2 import (
    AutoAnnotationRules,
    DataType,
    ModelRef,
    ReviewDecision,
    ReviewPolicy,
    Role,
)
from labelmesh.v1.geometry_pb2 import Classification, Label

pytestmark = pytest.mark.e2e

ROLES = ("admin", "manager", "annotator", "reviewer", "expert", "auditor", "integration")
EVERY_ROLE = frozenset(ROLES)
LABEL_READERS = frozenset({"admin", "manager", "reviewer", "expert", "auditor", "integration"})
CONFIGURERS = frozenset({"admin", "manager"})
IMPORTERS = frozenset({"admin", "manager", "integration"})
ANNOTATORS = frozenset({"admin", "annotator"})
ASSISTED = EVERY_ROLE - {"auditor"}
REVIEWERS = frozenset({"admin", "reviewer", "expert"})
FLAGGERS = frozenset({"admin", "manager", "reviewer", "expert"})
REPORT_READERS = frozenset({"admin", "manager", "expert", "auditor"})
AUDIT_READERS = frozenset({"admin", "manager", "auditor"})
DATASET_MAKERS = frozenset({"admin", "manager", "integration"})
ORG_ADMIN, OUTSIDER = "org-admin", "outsider"
UNAUTHENTICATED = ("anonymous", "expired", "revoked")
CALLERS = (*ROLES, ORG_ADMIN, OUTSIDER, *UNAUTHENTICATED)
NOT_A_CLASS = [{"classification": {"label": "not a class"}}]


@dataclass(frozen=True)
class Rule:
    """Who may call an endpoint. `scope` is "project" (roles in the world's
    project; everyone else there is refused, others' members are told it does
    not exist), "organization" (organisation admins only) or "anyone"
    (every authenticated caller). `hidden_from` roles get 404, not 403."""

    scope: str
    allowed: frozenset[str] = frozenset()
    hidden_from: frozenset[str] = frozenset()

    def expected(self, caller: str) -> str:
        if caller in UNAUTHENTICATED:
            return "unauthenticated"
        if self.scope == "anyone" or caller == ORG_ADMIN:
            return "allowed"
        if self.scope == "organization":
            return "forbidden"
        if caller == OUTSIDER or caller in self.hidden_from:
            return "hidden"
        return "allowed" if caller in self.allowed else "forbidden"


def project(*allowed: frozenset[str] | str, hidden_from: frozenset[str] = frozenset()) -> Rule:
    roles: set[str] = set()
    for part in allowed:
        roles |= {part} if isinstance(part, str) else part
    return Rule("project", frozenset(roles), hidden_from)


ORGANIZATION = Rule("organization")
ANYONE = Rule("anyone")


@dataclass
class World:
    """One project with an item in each state the endpoints need, and a
    credential for every kind of caller."""

    transport: str
    stack: dict[str, ServiceAddress]
    keys: StackKeys
    s3_endpoint: str  # host:port of an S3 server holding the project's bucket
    project_id: str = ""
    submitted_item: str = ""  # annotated by the annotator, reviewed, audited
    held_task: str = ""  # the annotator's task, not yet submitted
    suggestion_id: str = ""
    review_task: str = ""  # held by the reviewer
    spare_key: str = ""  # a key id to revoke
    model_id: str = ""
    version_id: str = ""  # a dataset version of the project
    export_job: str = ""  # a finished JSONL export of the version
    bucket_id: str = ""  # registered by reference, with one object in it
    credentials: dict[str, str] = field(default_factory=dict)

    def subject(self, role: str) -> str:
        return f"mx-{self.transport}-{role}"

    def url(self, service: str, path: str) -> str:
        return self.stack[service].rest + path


def _admin(world: World) -> httpx.Client:
    return httpx.Client(timeout=60, headers=world.keys.headers(""))


def _key(admin: httpx.Client, world: World, subject: str, **fields: Any) -> dict[str, Any]:
    made = admin.post(
        world.url("access", "/v1/api-keys"), json={"subject": subject, "name": "matrix", **fields}
    )
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


def _member(admin: httpx.Client, world: World, project_id: str, subject: str, role: str) -> None:
    body = {"project_id": project_id, "subject": subject, "roles": [f"ROLE_{role.upper()}"]}
    response = admin.put(world.url("access", "/v1/memberships"), json=body)
    assert response.status_code == 200, response.text


def _registration(world: World) -> dict[str, Any]:
    return {
        "endpoint": world.s3_endpoint,
        "bucket": f"matrix-{world.transport}",
        "mode": "BUCKET_MODE_REFERENCE",
        "access_key_id": "matrix",
        "secret_access_key": "matrix-secret",
    }


def _register_bucket(admin: httpx.Client, world: World) -> str:
    s3 = Minio(world.s3_endpoint, access_key="matrix", secret_key="matrix-secret", secure=False)
    s3.make_bucket(f"matrix-{world.transport}")
    s3.put_object(f"matrix-{world.transport}", "note.txt", io.BytesIO(b"matrix"), 6)
    registered = admin.post(
        world.url("ingest", f"/v1/projects/{world.project_id}/buckets"), json=_registration(world)
    )
    assert registered.status_code == 201, registered.text
    bucket_id: str = registered.json()["bucket"]["bucket_id"]
    return bucket_id


def build_world(
    transport: str, stack: dict[str, ServiceAddress], keys: StackKeys, s3_endpoint: str
) -> World:
    world = World(transport, stack, keys, s3_endpoint)
    with _admin(world) as admin:
        # Who reviews comes from the memberships below, which review keeps a view of.
        policy = {
            "stages": [{"name": "peer", "role": "reviewer", "coverage": "REVIEW_COVERAGE_ALL"}]
        }
        created = admin.post(
            world.url("annotation", "/v1/projects"),
            json={
                "name": f"matrix {transport}",
                "data_type": "TEXT",
                "classes": ["sports", "politics"],
                "auto_accept_threshold": 1.0,
                "review_policy": policy,
            },
        )
        assert created.status_code == 201, created.text
        world.project_id = created.json()["project"]["project_id"]
        other = admin.post(
            world.url("annotation", "/v1/projects"),
            json={"name": "elsewhere", "data_type": "TEXT", "classes": ["a"]},
        ).json()["project"]["project_id"]

        for role in ROLES:
            _member(admin, world, world.project_id, world.subject(role), role)
            world.credentials[role] = _key(admin, world, world.subject(role))["secret"]
        _member(admin, world, other, world.subject(OUTSIDER), "manager")
        world.credentials[OUTSIDER] = _key(admin, world, world.subject(OUTSIDER))["secret"]
        world.credentials[ORG_ADMIN] = keys.admin_key
        soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
        expiring = _key(admin, world, world.subject("annotator"), expires_at=soon)
        world.credentials["expired"] = expiring["secret"]
        revoked = _key(admin, world, world.subject("admin"))
        admin.post(world.url("access", f"/v1/api-keys/{revoked['key']['key_id']}/revoke"))
        world.credentials["revoked"] = revoked["secret"]
        world.spare_key = _key(admin, world, "mx-spare")["key"]["key_id"]
        models = admin.get(world.url("inference", "/v1/models")).json()["models"]
        world.model_id = models[0]["model"]["id"]

        upload = world.url("ingest", f"/v1/projects/{world.project_id}/items")
        body = {"items": [{"text": f"{transport} match report {n}"} for n in range(2)]}
        wait_for(lambda: admin.post(upload, json=body).status_code == 200, "ingest to know it")
        world.bucket_id = _register_bucket(admin, world)

    annotator = httpx.Client(timeout=60, headers=_bearer(world.credentials["annotator"]))
    reviewer = httpx.Client(timeout=60, headers=_bearer(world.credentials["reviewer"]))
    with annotator, reviewer:
        next_url = world.url("annotation", f"/v1/projects/{world.project_id}/tasks/next")

        def next_task() -> dict[str, Any] | None:
            response = annotator.post(next_url, json={})
            task: dict[str, Any] | None = (
                response.json()["task"] if response.status_code == 200 else None
            )
            return task

        first = wait_for(next_task, "the annotator's first task")
        submitted = annotator.post(
            world.url("annotation", f"/v1/tasks/{first['task_id']}/annotations"),
            json={"labels": [{"classification": {"label": "sports"}}]},
        )
        assert submitted.status_code == 201, submitted.text
        world.submitted_item = first["item_id"]
        held = wait_for(next_task, "the annotator's second task")
        world.held_task = held["task_id"]
        world.suggestion_id = held["suggestion"][0]["source"]["suggestion_id"]

        review_next = world.url("review", f"/v1/projects/{world.project_id}/review-tasks/next")
        world.review_task = wait_for(
            lambda: (
                r.json()["task"]["review_task_id"]
                if (r := reviewer.post(review_next, json={})).status_code == 200
                else None
            ),
            "the reviewer's task",
        )
    with _admin(world) as admin:
        trail = world.url("audit", f"/v1/items/{world.submitted_item}/trail")
        wait_for(lambda: admin.get(trail).status_code == 200, "the item's audit trail")
        versions = world.url("dataset", f"/v1/projects/{world.project_id}/dataset-versions")
        made = wait_for(
            lambda: (
                r
                if (r := admin.post(versions, json={"name": "matrix"})).status_code in (200, 201)
                else None
            ),
            "the dataset service to know the project",
        )
        world.version_id = made.json()["version"]["version_id"]
        exports = world.url("dataset", f"/v1/dataset-versions/{world.version_id}/exports")
        asked = admin.post(exports, json={"format": "EXPORT_FORMAT_JSONL"})
        assert asked.status_code in (200, 202), asked.text
        world.export_job = asked.json()["job"]["job_id"]
        job = world.url("dataset", f"/v1/exports/{world.export_job}")
        wait_for(
            lambda: admin.get(job).json()["job"]["state"] == "EXPORT_STATE_SUCCEEDED",
            "the export to finish",
        )
    time.sleep(max(0.0, datetime.fromisoformat(soon).timestamp() - time.time() + 0.5))
    return world


def _bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


# REST: (method, path with the world's ids, JSON body or files) by route.
RestCall = Callable[[World], tuple[str, str, dict[str, Any]]]


def _rest(method: str, path: str, **kwargs: Any) -> RestCall:
    return lambda w: (
        method,
        path.format(
            p=w.project_id,
            i=w.submitted_item,
            t=w.held_task,
            s=w.suggestion_id,
            r=w.review_task,
            k=w.spare_key,
            m=w.model_id,
            v=w.version_id,
            e=w.export_job,
            b=w.bucket_id,
        ),
        {key: value(w) if callable(value) else value for key, value in kwargs.items()},
    )


REST: dict[str, tuple[Rule, RestCall]] = {
    "access GET /v1/whoami": (ANYONE, _rest("GET", "/v1/whoami")),
    "access POST /v1/api-keys": (
        ORGANIZATION,
        _rest("POST", "/v1/api-keys", json={"subject": "mx-new", "name": "matrix"}),
    ),
    "access GET /v1/api-keys": (ORGANIZATION, _rest("GET", "/v1/api-keys")),
    "access POST /v1/api-keys/{key_id}/revoke": (
        ORGANIZATION,
        _rest("POST", "/v1/api-keys/{k}/revoke"),
    ),
    "access PUT /v1/memberships": (
        project("admin"),
        _rest(
            "PUT",
            "/v1/memberships",
            json=lambda w: {
                "project_id": w.project_id,
                "subject": "mx-guest",
                "roles": ["ROLE_ANNOTATOR"],
            },
        ),
    ),
    "access GET /v1/memberships": (
        project(CONFIGURERS),
        _rest("GET", "/v1/memberships?project_id={p}"),
    ),
    "ingest POST /v1/projects/{project_id}/items": (
        project(IMPORTERS),
        _rest(
            "POST",
            "/v1/projects/{p}/items",
            json=lambda w: {"items": [{"text": f"matrix {uuid.uuid4()}"}]},
        ),
    ),
    "ingest POST /v1/projects/{project_id}/files": (
        project(IMPORTERS),
        _rest(
            "POST",
            "/v1/projects/{p}/files",
            files=lambda w: {"files": ("note.txt", str(uuid.uuid4()).encode(), "text/plain")},
        ),
    ),
    # Nothing listens at this URL: the request is answered (200) with the
    # item's error, so only access decides the outcome.
    "ingest POST /v1/projects/{project_id}/imports/urls": (
        project(IMPORTERS),
        _rest(
            "POST",
            "/v1/projects/{p}/imports/urls",
            json=lambda w: {"items": [{"url": "http://127.0.0.1:9/matrix"}]},
        ),
    ),
    "ingest POST /v1/projects/{project_id}/imports/manifest": (
        project(IMPORTERS),
        _rest(
            "POST",
            "/v1/projects/{p}/imports/manifest",
            files=lambda w: {"file": ("rows.csv", f"text\r\nmatrix {uuid.uuid4()}\r\n".encode())},
            data={"mapping": '{"text": "text"}'},
        ),
    ),
    "ingest GET /v1/items/{item_id}": (project(EVERY_ROLE), _rest("GET", "/v1/items/{i}")),
    "ingest GET /v1/items/{item_id}/media": (
        project(EVERY_ROLE),
        _rest("GET", "/v1/items/{i}/media"),
    ),
    # Registered again with the same settings: 200, so only access decides the outcome.
    "ingest POST /v1/projects/{project_id}/buckets": (
        project(IMPORTERS),
        _rest("POST", "/v1/projects/{p}/buckets", json=_registration),
    ),
    "ingest GET /v1/projects/{project_id}/buckets": (
        project(EVERY_ROLE),
        _rest("GET", "/v1/projects/{p}/buckets"),
    ),
    "ingest GET /v1/buckets/{bucket_id}": (project(EVERY_ROLE), _rest("GET", "/v1/buckets/{b}")),
    "ingest POST /v1/buckets/{bucket_id}/syncs": (
        project(IMPORTERS),
        _rest("POST", "/v1/buckets/{b}/syncs", json={}),
    ),
    "ingest POST /v1/buckets/{bucket_id}/events": (
        project(IMPORTERS),
        _rest(
            "POST",
            "/v1/buckets/{b}/events",
            json={"events": [{"kind": "BUCKET_EVENT_KIND_CREATED", "key": "note.txt"}]},
        ),
    ),
    "inference GET /v1/models": (ANYONE, _rest("GET", "/v1/models")),
    "inference GET /v1/models/{model_id}": (ANYONE, _rest("GET", "/v1/models/{m}")),
    "inference POST /v1/models": (
        ORGANIZATION,
        _rest(
            "POST",
            "/v1/models",
            json={
                "id": "mx-remote",
                "version": "1",
                "task": "classification",
                "data_type": "TEXT",
                "labels": ["a"],
                "remote": {
                    "url": "http://127.0.0.1:9",
                    "name": "nothing-there",
                    "preprocess": "text",
                    "postprocess": "class_probabilities",
                    "timeout_seconds": 1,
                },
            },
        ),
    ),
    "inference POST /v1/predict/text": (
        project(ASSISTED),
        _rest(
            "POST", "/v1/predict/text", json=lambda w: {"project_id": w.project_id, "texts": ["x"]}
        ),
    ),
    "inference POST /v1/assist": (
        project(ASSISTED),
        _rest(
            "POST",
            "/v1/assist",
            json=lambda w: {"project_id": w.project_id, "item_ids": [w.submitted_item]},
        ),
    ),
    "inference GET /v1/items/{item_id}/prediction": (
        project(LABEL_READERS),
        _rest("GET", "/v1/items/{i}/prediction"),
    ),
    "inference GET /v1/projects/{project_id}/auto-annotation": (
        project(EVERY_ROLE),
        _rest("GET", "/v1/projects/{p}/auto-annotation"),
    ),
    "inference PUT /v1/projects/{project_id}/auto-annotation": (
        project(CONFIGURERS),
        _rest(
            "PUT",
            "/v1/projects/{p}/auto-annotation",
            json={"rules": {"default_min_confidence": 1.0}},
        ),
    ),
    "annotation POST /v1/projects": (
        ORGANIZATION,
        _rest("POST", "/v1/projects", json={"name": "n", "data_type": "TEXT", "classes": ["a"]}),
    ),
    # Everyone may list; what each caller sees is test_projects_are_listed_to_their_readers's.
    "annotation GET /v1/projects": (ANYONE, _rest("GET", "/v1/projects")),
    "annotation GET /v1/projects/{project_id}": (
        project(EVERY_ROLE),
        _rest("GET", "/v1/projects/{p}"),
    ),
    "annotation GET /v1/projects/{project_id}/queue": (
        project(EVERY_ROLE),
        _rest("GET", "/v1/projects/{p}/queue"),
    ),
    "annotation POST /v1/projects/{project_id}/tasks/next": (
        project(ANNOTATORS),
        _rest("POST", "/v1/projects/{p}/tasks/next", json={}),
    ),
    "annotation GET /v1/tasks/{task_id}": (project(EVERY_ROLE), _rest("GET", "/v1/tasks/{t}")),
    "annotation POST /v1/tasks/{task_id}/annotations": (
        project(ANNOTATORS),
        _rest("POST", "/v1/tasks/{t}/annotations", json={"labels": NOT_A_CLASS}),
    ),
    "annotation POST /v1/tasks/{task_id}/suggestions/accept": (
        project(ANNOTATORS),
        _rest("POST", "/v1/tasks/{t}/suggestions/accept", json={"suggestion_ids": ["none"]}),
    ),
    "annotation POST /v1/tasks/{task_id}/suggestions/{suggestion_id}/reject": (
        project(ANNOTATORS),
        _rest("POST", "/v1/tasks/{t}/suggestions/{s}/reject", json={"reason": "matrix"}),
    ),
    "annotation GET /v1/items/{item_id}/annotations": (
        project(LABEL_READERS),
        _rest("GET", "/v1/items/{i}/annotations"),
    ),
    "review GET /v1/items/{item_id}/reviews": (
        project(LABEL_READERS),
        _rest("GET", "/v1/items/{i}/reviews"),
    ),
    "review GET /v1/projects/{project_id}/review-policy": (
        project(EVERY_ROLE),
        _rest("GET", "/v1/projects/{p}/review-policy"),
    ),
    "review PUT /v1/projects/{project_id}/review-policy": (
        project(CONFIGURERS),
        _rest("PUT", "/v1/projects/{p}/review-policy", json={"overlap": 99}),
    ),
    "review POST /v1/projects/{project_id}/gold": (
        project(CONFIGURERS),
        _rest(
            "POST",
            "/v1/projects/{p}/gold",
            json={"items": [{"item_id": "mx-unknown", "labels": NOT_A_CLASS}]},
        ),
    ),
    "review POST /v1/projects/{project_id}/review-tasks/next": (
        project(REVIEWERS),
        _rest("POST", "/v1/projects/{p}/review-tasks/next", json={}),
    ),
    "review GET /v1/review-tasks/{task_id}": (
        project(LABEL_READERS, hidden_from=frozenset({"annotator"})),
        _rest("GET", "/v1/review-tasks/{r}"),
    ),
    "review POST /v1/review-tasks/{task_id}/decision": (
        project(REVIEWERS),
        _rest(
            "POST",
            "/v1/review-tasks/{r}/decision",
            json={"decision": "APPROVED", "reason": "matrix"},
        ),
    ),
    "review POST /v1/items/{item_id}/flag": (
        project(FLAGGERS),
        _rest("POST", "/v1/items/{i}/flag", json={"reason": ""}),
    ),
    **{
        f"review GET /v1/projects/{{project_id}}/reports/{report}": (
            project(REPORT_READERS),
            _rest("GET", f"/v1/projects/{{p}}/reports/{report}"),
        )
        for report in ("annotations", "annotators", "reviewers", "agreement")
    },
    "audit GET /v1/items/{item_id}/trail": (
        project(AUDIT_READERS),
        _rest("GET", "/v1/items/{i}/trail"),
    ),
    "audit GET /v1/items/{item_id}/trail/verify": (
        project(AUDIT_READERS),
        _rest("GET", "/v1/items/{i}/trail/verify"),
    ),
    "audit GET /v1/audit/entries": (
        project(AUDIT_READERS),
        _rest("GET", "/v1/audit/entries?project_id={p}&page_size=10"),
    ),
    "audit GET /v1/audit/export": (
        project(AUDIT_READERS),
        _rest("GET", "/v1/audit/export?project_id={p}&format=csv"),
    ),
    "audit GET /v1/items/{item_id}/annotations/history": (
        project(AUDIT_READERS),
        _rest("GET", "/v1/items/{i}/annotations/history"),
    ),
    "audit GET /v1/projects/{project_id}/audit/verify": (
        project(AUDIT_READERS),
        _rest("GET", "/v1/projects/{p}/audit/verify"),
    ),
    "dataset POST /v1/projects/{project_id}/dataset-versions": (
        project(DATASET_MAKERS),
        _rest("POST", "/v1/projects/{p}/dataset-versions", json={"name": "matrix"}),
    ),
    "dataset GET /v1/projects/{project_id}/dataset-versions": (
        project(LABEL_READERS),
        _rest("GET", "/v1/projects/{p}/dataset-versions"),
    ),
    # Every role reads items; the classes and annotators only label readers see.
    "dataset GET /v1/projects/{project_id}/items": (
        project(EVERY_ROLE),
        _rest("GET", "/v1/projects/{p}/items?status=annotated&q=match"),
    ),
    "dataset GET /v1/dataset-versions/{version_id}": (
        project(LABEL_READERS),
        _rest("GET", "/v1/dataset-versions/{v}"),
    ),
    "dataset GET /v1/dataset-versions/{version_id}/balance.png": (
        project(LABEL_READERS),
        _rest("GET", "/v1/dataset-versions/{v}/balance.png"),
    ),
    "dataset GET /v1/dataset-versions/{version_id}/export.jsonl": (
        project(LABEL_READERS),
        _rest("GET", "/v1/dataset-versions/{v}/export.jsonl"),
    ),
    "dataset GET /v1/dataset-versions/{version_id}/items": (
        project(LABEL_READERS),
        _rest("GET", "/v1/dataset-versions/{v}/items"),
    ),
    "dataset GET /v1/dataset-versions/{version_id}/diff/{other_id}": (
        project(LABEL_READERS),
        _rest("GET", "/v1/dataset-versions/{v}/diff/{v}"),
    ),
    "dataset POST /v1/dataset-versions/{version_id}/exports": (
        project(LABEL_READERS),
        _rest("POST", "/v1/dataset-versions/{v}/exports", json={"format": "EXPORT_FORMAT_JSONL"}),
    ),
    "dataset GET /v1/exports/{job_id}": (project(LABEL_READERS), _rest("GET", "/v1/exports/{e}")),
    "dataset GET /v1/exports/{job_id}/download": (
        project(LABEL_READERS),
        _rest("GET", "/v1/exports/{e}/download"),
    ),
}

# gRPC: the service it belongs to, its stub, and the request, by full method name.
GrpcCall = Callable[[World], Message]
STUBS: dict[str, tuple[str, Callable[[grpc.Channel], Any]]] = {
    "labelmesh.v1.AccessService": ("access", access_grpc.AccessServiceStub),
    "labelmesh.v1.IngestService": ("ingest", ingest_grpc.IngestServiceStub),
    "labelmesh.v1.InferenceService": ("inference", inference_grpc.InferenceServiceStub),
    "labelmesh.v1.AnnotationService": ("annotation", annotation_grpc.AnnotationServiceStub),
    "labelmesh.v1.ReviewService": ("review", review_grpc.ReviewServiceStub),
    "labelmesh.v1.AuditService": ("audit", audit_grpc.AuditServiceStub),
    "labelmesh.v1.DatasetService": ("dataset", dataset_grpc.DatasetServiceStub),
}


def _scope(w: World) -> review_pb.ReportScope:
    return review_pb.ReportScope(project_id=w.project_id)


def _stream(w: World) -> Iterator[ingest_pb.UploadItemStreamRequest]:
    item = ingest_pb.ItemUpload(text=f"matrix {uuid.uuid4()}")
    yield ingest_pb.UploadItemStreamRequest(project_id=w.project_id, item=item)


def _manifest(w: World) -> Iterator[ingest_pb.ImportManifestRequest]:
    yield ingest_pb.ImportManifestRequest(
        project_id=w.project_id,
        format=ingest_pb.MANIFEST_FORMAT_JSONL,
        mapping=ingest_pb.ManifestMapping(text="text"),
        content=f'{{"text": "matrix {uuid.uuid4()}"}}\n'.encode(),
    )


WRONG_LABEL = [Label(classification=Classification(label="not a class"))]
GRPC: dict[str, tuple[Rule, Callable[[World], Any]]] = {
    "labelmesh.v1.AccessService/WhoAmI": (ANYONE, lambda w: access_pb.WhoAmIRequest()),
    "labelmesh.v1.AccessService/CreateApiKey": (
        ORGANIZATION,
        lambda w: access_pb.CreateApiKeyRequest(subject="mx-new", name="matrix"),
    ),
    "labelmesh.v1.AccessService/ListApiKeys": (
        ORGANIZATION,
        lambda w: access_pb.ListApiKeysRequest(),
    ),
    "labelmesh.v1.AccessService/RevokeApiKey": (
        ORGANIZATION,
        lambda w: access_pb.RevokeApiKeyRequest(key_id=w.spare_key),
    ),
    "labelmesh.v1.AccessService/SetMembership": (
        project("admin"),
        lambda w: access_pb.SetMembershipRequest(
            project_id=w.project_id, subject="mx-guest", roles=[Role.ROLE_ANNOTATOR]
        ),
    ),
    "labelmesh.v1.AccessService/ListMemberships": (
        project(CONFIGURERS),
        lambda w: access_pb.ListMembershipsRequest(project_id=w.project_id),
    ),
    "labelmesh.v1.IngestService/UploadItems": (
        project(IMPORTERS),
        lambda w: ingest_pb.UploadItemsRequest(
            project_id=w.project_id, items=[ingest_pb.ItemUpload(text=f"matrix {uuid.uuid4()}")]
        ),
    ),
    "labelmesh.v1.IngestService/UploadItemStream": (project(IMPORTERS), _stream),
    "labelmesh.v1.IngestService/ImportUrls": (
        project(IMPORTERS),
        lambda w: ingest_pb.ImportUrlsRequest(
            project_id=w.project_id,
            items=[ingest_pb.UrlImportItem(url="http://127.0.0.1:9/matrix")],
        ),
    ),
    "labelmesh.v1.IngestService/ImportManifest": (project(IMPORTERS), _manifest),
    "labelmesh.v1.IngestService/GetItem": (
        project(EVERY_ROLE),
        lambda w: ingest_pb.GetItemRequest(item_id=w.submitted_item),
    ),
    "labelmesh.v1.IngestService/RegisterBucket": (
        project(IMPORTERS),
        lambda w: ingest_pb.RegisterBucketRequest(
            project_id=w.project_id,
            endpoint=w.s3_endpoint,
            bucket=f"matrix-{w.transport}",
            mode=ingest_pb.BUCKET_MODE_REFERENCE,
            access_key_id="matrix",
            secret_access_key="matrix-secret",
        ),
    ),
    "labelmesh.v1.IngestService/GetBucket": (
        project(EVERY_ROLE),
        lambda w: ingest_pb.GetBucketRequest(bucket_id=w.bucket_id),
    ),
    "labelmesh.v1.IngestService/ListBuckets": (
        project(EVERY_ROLE),
        lambda w: ingest_pb.ListBucketsRequest(project_id=w.project_id),
    ),
    "labelmesh.v1.IngestService/SyncBucket": (
        project(IMPORTERS),
        lambda w: ingest_pb.SyncBucketRequest(bucket_id=w.bucket_id),
    ),
    "labelmesh.v1.IngestService/NotifyBucketEvents": (
        project(IMPORTERS),
        lambda w: ingest_pb.NotifyBucketEventsRequest(
            bucket_id=w.bucket_id,
            events=[
                ingest_pb.BucketEvent(kind=ingest_pb.BUCKET_EVENT_KIND_CREATED, key="note.txt")
            ],
        ),
    ),
    "labelmesh.v1.InferenceService/ListModels": (
        ANYONE,
        lambda w: inference_pb.ListModelsRequest(),
    ),
    "labelmesh.v1.InferenceService/GetModel": (
        ANYONE,
        lambda w: inference_pb.GetModelRequest(model_id=w.model_id),
    ),
    "labelmesh.v1.InferenceService/RegisterModel": (
        ORGANIZATION,
        lambda w: inference_pb.RegisterModelRequest(
            model=ModelRef(id="mx-remote", version="1"),
            data_type=DataType.DATA_TYPE_TEXT,
            labels=["a"],
            remote=inference_pb.RemoteModel(url="http://127.0.0.1:9", name="nothing-there"),
        ),
    ),
    "labelmesh.v1.InferenceService/PredictText": (
        project(ASSISTED),
        lambda w: inference_pb.PredictTextRequest(project_id=w.project_id, texts=["x"]),
    ),
    "labelmesh.v1.InferenceService/Assist": (
        project(ASSISTED),
        lambda w: inference_pb.AssistRequest(project_id=w.project_id, item_ids=[w.submitted_item]),
    ),
    "labelmesh.v1.InferenceService/GetPrediction": (
        project(LABEL_READERS),
        lambda w: inference_pb.GetPredictionRequest(item_id=w.submitted_item),
    ),
    "labelmesh.v1.InferenceService/GetAutoAnnotation": (
        project(EVERY_ROLE),
        lambda w: inference_pb.GetAutoAnnotationRequest(project_id=w.project_id),
    ),
    "labelmesh.v1.InferenceService/ConfigureAutoAnnotation": (
        project(CONFIGURERS),
        lambda w: inference_pb.ConfigureAutoAnnotationRequest(
            project_id=w.project_id, rules=AutoAnnotationRules(default_min_confidence=1.0)
        ),
    ),
    "labelmesh.v1.AnnotationService/CreateProject": (
        ORGANIZATION,
        lambda w: annotation_pb.CreateProjectRequest(
            name="n", data_type=DataType.DATA_TYPE_TEXT, classes=["a"]
        ),
    ),
    "labelmesh.v1.AnnotationService/GetProject": (
        project(EVERY_ROLE),
        lambda w: annotation_pb.GetProjectRequest(project_id=w.project_id),
    ),
    "labelmesh.v1.AnnotationService/ListProjects": (
        ANYONE,
        lambda w: annotation_pb.ListProjectsRequest(),
    ),
    "labelmesh.v1.AnnotationService/GetQueueStats": (
        project(EVERY_ROLE),
        lambda w: annotation_pb.GetQueueStatsRequest(project_id=w.project_id),
    ),
    "labelmesh.v1.AnnotationService/NextTask": (
        project(ANNOTATORS),
        lambda w: annotation_pb.NextTaskRequest(project_id=w.project_id),
    ),
    "labelmesh.v1.AnnotationService/SubmitAnnotation": (
        project(ANNOTATORS),
        lambda w: annotation_pb.SubmitAnnotationRequest(task_id=w.held_task, labels=WRONG_LABEL),
    ),
    "labelmesh.v1.AnnotationService/AcceptSuggestions": (
        project(ANNOTATORS),
        lambda w: annotation_pb.AcceptSuggestionsRequest(
            task_id=w.held_task, suggestion_ids=["none"]
        ),
    ),
    "labelmesh.v1.AnnotationService/RejectSuggestion": (
        project(ANNOTATORS),
        lambda w: annotation_pb.RejectSuggestionRequest(
            task_id=w.held_task, suggestion_id=w.suggestion_id, reason="matrix"
        ),
    ),
    "labelmesh.v1.ReviewService/GetItemReviews": (
        project(LABEL_READERS),
        lambda w: review_pb.GetItemReviewsRequest(item_id=w.submitted_item),
    ),
    "labelmesh.v1.ReviewService/GetReviewPolicy": (
        project(EVERY_ROLE),
        lambda w: review_pb.GetReviewPolicyRequest(project_id=w.project_id),
    ),
    "labelmesh.v1.ReviewService/ConfigureReviewPolicy": (
        project(CONFIGURERS),
        lambda w: review_pb.ConfigureReviewPolicyRequest(
            project_id=w.project_id, policy=ReviewPolicy(overlap=99)
        ),
    ),
    "labelmesh.v1.ReviewService/SetGoldStandards": (
        project(CONFIGURERS),
        lambda w: review_pb.SetGoldStandardsRequest(
            project_id=w.project_id,
            items=[review_pb.GoldStandard(item_id="mx-unknown", labels=WRONG_LABEL)],
        ),
    ),
    "labelmesh.v1.ReviewService/NextReviewTask": (
        project(REVIEWERS),
        lambda w: review_pb.NextReviewTaskRequest(project_id=w.project_id),
    ),
    "labelmesh.v1.ReviewService/DecideReviewTask": (
        project(REVIEWERS),
        lambda w: review_pb.DecideReviewTaskRequest(
            review_task_id=w.review_task,
            decision=ReviewDecision.REVIEW_DECISION_APPROVED,
            reason="matrix",
        ),
    ),
    "labelmesh.v1.ReviewService/FlagItem": (
        project(FLAGGERS),
        lambda w: review_pb.FlagItemRequest(item_id=w.submitted_item, reason=""),
    ),
    "labelmesh.v1.ReviewService/GetAnnotationScores": (
        project(REPORT_READERS),
        lambda w: review_pb.GetAnnotationScoresRequest(scope=_scope(w)),
    ),
    "labelmesh.v1.ReviewService/GetAnnotatorReport": (
        project(REPORT_READERS),
        lambda w: review_pb.GetAnnotatorReportRequest(scope=_scope(w)),
    ),
    "labelmesh.v1.ReviewService/GetReviewerReport": (
        project(REPORT_READERS),
        lambda w: review_pb.GetReviewerReportRequest(scope=_scope(w)),
    ),
    "labelmesh.v1.ReviewService/GetAgreementReport": (
        project(REPORT_READERS),
        lambda w: review_pb.GetAgreementReportRequest(scope=_scope(w)),
    ),
    "labelmesh.v1.AuditService/GetItemTrail": (
        project(AUDIT_READERS),
        lambda w: audit_pb.GetItemTrailRequest(item_id=w.submitted_item),
    ),
    "labelmesh.v1.AuditService/VerifyItemTrail": (
        project(AUDIT_READERS),
        lambda w: audit_pb.VerifyItemTrailRequest(item_id=w.submitted_item),
    ),
    "labelmesh.v1.AuditService/QueryAuditLog": (
        project(AUDIT_READERS),
        lambda w: audit_pb.QueryAuditLogRequest(
            filter=audit_pb.AuditFilter(project_id=w.project_id), page_size=10
        ),
    ),
    "labelmesh.v1.AuditService/StreamAuditLog": (
        project(AUDIT_READERS),
        lambda w: audit_pb.StreamAuditLogRequest(
            filter=audit_pb.AuditFilter(project_id=w.project_id)
        ),
    ),
    "labelmesh.v1.AuditService/GetAnnotationHistory": (
        project(AUDIT_READERS),
        lambda w: audit_pb.GetAnnotationHistoryRequest(item_id=w.submitted_item),
    ),
    "labelmesh.v1.AuditService/VerifyProject": (
        project(AUDIT_READERS),
        lambda w: audit_pb.VerifyProjectRequest(project_id=w.project_id),
    ),
    "labelmesh.v1.DatasetService/CreateDatasetVersion": (
        project(DATASET_MAKERS),
        lambda w: dataset_pb.CreateDatasetVersionRequest(project_id=w.project_id, name="matrix"),
    ),
    "labelmesh.v1.DatasetService/ListItems": (
        project(EVERY_ROLE),
        lambda w: dataset_pb.ListItemsRequest(project_id=w.project_id, status="annotated"),
    ),
    "labelmesh.v1.DatasetService/GetDatasetVersion": (
        project(LABEL_READERS),
        lambda w: dataset_pb.GetDatasetVersionRequest(version_id=w.version_id),
    ),
    "labelmesh.v1.DatasetService/ListDatasetVersions": (
        project(LABEL_READERS),
        lambda w: dataset_pb.ListDatasetVersionsRequest(project_id=w.project_id),
    ),
    "labelmesh.v1.DatasetService/GetBalanceChart": (
        project(LABEL_READERS),
        lambda w: dataset_pb.GetBalanceChartRequest(version_id=w.version_id),
    ),
    "labelmesh.v1.DatasetService/StreamDatasetVersion": (
        project(LABEL_READERS),
        lambda w: dataset_pb.StreamDatasetVersionRequest(version_id=w.version_id),
    ),
    "labelmesh.v1.DatasetService/ListDatasetVersionItems": (
        project(LABEL_READERS),
        lambda w: dataset_pb.ListDatasetVersionItemsRequest(version_id=w.version_id),
    ),
    "labelmesh.v1.DatasetService/DiffDatasetVersions": (
        project(LABEL_READERS),
        lambda w: dataset_pb.DiffDatasetVersionsRequest(
            from_version_id=w.version_id, to_version_id=w.version_id
        ),
    ),
    "labelmesh.v1.DatasetService/StartExport": (
        project(LABEL_READERS),
        lambda w: dataset_pb.StartExportRequest(
            version_id=w.version_id, format=dataset_pb.EXPORT_FORMAT_JSONL
        ),
    ),
    "labelmesh.v1.DatasetService/GetExport": (
        project(LABEL_READERS),
        lambda w: dataset_pb.GetExportRequest(job_id=w.export_job),
    ),
    "labelmesh.v1.DatasetService/DownloadExport": (
        project(LABEL_READERS),
        lambda w: dataset_pb.DownloadExportRequest(job_id=w.export_job),
    ),
}
SERVICE_FILES = (access_pb, ingest_pb, inference_pb, annotation_pb, review_pb, audit_pb, dataset_pb)
PROBES = {"/healthz", "/readyz", "/metrics", "/docs", "/openapi.json", "/docs/oauth2-redirect"}


def rest_outcome(status: int) -> str:
    return {401: "unauthenticated", 403: "forbidden", 404: "hidden"}.get(status, "allowed")


def grpc_outcome(code: grpc.StatusCode) -> str:
    return {
        grpc.StatusCode.UNAUTHENTICATED: "unauthenticated",
        grpc.StatusCode.PERMISSION_DENIED: "forbidden",
        grpc.StatusCode.NOT_FOUND: "hidden",
    }.get(code, "allowed")


@pytest.fixture(scope="module")
def rest_world(stack: dict[str, ServiceAddress], keys: StackKeys, moto_endpoint: str) -> World:
    return build_world("rest", stack, keys, moto_endpoint)


@pytest.fixture(scope="module")
def grpc_world(stack: dict[str, ServiceAddress], keys: StackKeys, moto_endpoint: str) -> World:
    return build_world("grpc", stack, keys, moto_endpoint)


def test_every_endpoint_has_an_entry(stack: dict[str, ServiceAddress]) -> None:
    routes = set()
    for name, address in stack.items():
        document = httpx.get(f"{address.rest}/openapi.json", timeout=30).json()
        for path, operations in document["paths"].items():
            if path not in PROBES:
                routes |= {f"{name} {method.upper()} {path}" for method in operations}
    assert routes == set(REST), "REST routes without an entry, or entries without a route"
    methods = {
        f"{service.full_name}/{method.name}"
        for file in SERVICE_FILES
        for service in file.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }
    assert methods == set(GRPC), "gRPC methods without an entry, or entries without a method"


def test_every_rest_route_answers_each_caller_as_the_matrix_says(rest_world: World) -> None:
    wrong = []
    with httpx.Client(timeout=60) as client:
        for route, (rule, call) in REST.items():
            service = route.split(" ", 1)[0]
            for caller in CALLERS:
                method, path, kwargs = call(rest_world)
                credential = rest_world.credentials.get(caller)
                headers = _bearer(credential) if credential else {}
                response = client.request(
                    method, rest_world.url(service, path), headers=headers, **kwargs
                )
                got, expected = rest_outcome(response.status_code), rule.expected(caller)
                if got != expected:
                    wrong.append(
                        f"{route} as {caller}: {response.status_code} {response.text[:120]}"
                    )
    assert not wrong, "\n".join(wrong)

    # Refusals reach the audit log, one record per caller and operation a minute.
    with _admin(rest_world) as admin:
        url = rest_world.url("audit", "/v1/audit/entries")
        params = {"project_id": rest_world.project_id, "event_type": "AccessDenied"}

        def denials() -> set[str] | None:
            found = admin.get(url, params=params).json()["entries"]
            actors = {entry["actor"] for entry in found}
            return actors if f"KIND_USER:{rest_world.subject('annotator')}" in actors else None

        actors = wait_for(denials, "the refusals in the audit log")
    assert f"KIND_USER:{rest_world.subject('auditor')}" in actors


def test_every_grpc_method_answers_each_caller_as_the_matrix_says(grpc_world: World) -> None:
    wrong = []
    channels = {name: grpc.insecure_channel(a.grpc) for name, a in grpc_world.stack.items()}
    try:
        for method, (rule, request) in GRPC.items():
            service, name = method.split("/")
            target, stub_of = STUBS[service]
            call = getattr(stub_of(channels[target]), name)
            for caller in CALLERS:
                credential = grpc_world.credentials.get(caller)
                metadata = [("authorization", f"Bearer {credential}")] if credential else []
                try:
                    answer = call(request(grpc_world), metadata=metadata, timeout=60)
                    if not isinstance(answer, Message):
                        list(answer)  # a server stream fails as it is read
                    got = "allowed"
                except grpc.RpcError as error:
                    got = grpc_outcome(error.code())
                    detail = f"{error.code().name} {error.details()}"
                else:
                    detail = "OK"
                if got != rule.expected(caller):
                    wrong.append(f"{method} as {caller}: {detail}")
    finally:
        for channel in channels.values():
            channel.close()
    assert not wrong, "\n".join(wrong)


def _listed_over_rest(world: World, caller: str) -> list[str] | int:
    """Every project id the caller lists, page by page; the status if refused."""
    credential = world.credentials.get(caller)
    headers = _bearer(credential) if credential else {}
    ids: list[str] = []
    token = ""
    with httpx.Client(timeout=60, headers=headers) as client:
        while True:
            params = {"page_size": "2", "page_token": token}
            response = client.get(world.url("annotation", "/v1/projects"), params=params)
            if response.status_code != 200:
                return response.status_code
            body = response.json()
            ids += [p["project_id"] for p in body["projects"]]
            token = body["next_page_token"]
            if not token:
                return ids


def _listed_over_grpc(world: World, caller: str) -> list[str]:
    metadata = [("authorization", f"Bearer {world.credentials[caller]}")]
    with grpc.insecure_channel(world.stack["annotation"].grpc) as channel:
        stub = annotation_grpc.AnnotationServiceStub(channel)
        answer = stub.ListProjects(annotation_pb.ListProjectsRequest(), metadata=metadata)
    return [p.project_id for p in answer.projects]


def test_projects_are_listed_to_their_readers(rest_world: World, grpc_world: World) -> None:
    """Each role of the project lists it (and only it, holding no other role); a
    member of another project lists that one, not this; the organisation admin
    lists both; no credential is 401."""
    for role in ROLES:
        assert _listed_over_rest(rest_world, role) == [rest_world.project_id], role
        assert _listed_over_grpc(grpc_world, role) == [grpc_world.project_id], role
    for world, listed in ((rest_world, _listed_over_rest), (grpc_world, _listed_over_grpc)):
        elsewhere = listed(world, OUTSIDER)
        assert isinstance(elsewhere, list) and len(elsewhere) == 1
        assert world.project_id not in elsewhere
        everything = listed(world, ORG_ADMIN)
        assert isinstance(everything, list)
        assert {world.project_id, *elsewhere} <= set(everything)
        assert len(everything) == len(set(everything))
    assert _listed_over_rest(rest_world, "anonymous") == 401
    with grpc.insecure_channel(grpc_world.stack["annotation"].grpc) as channel:
        stub = annotation_grpc.AnnotationServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.ListProjects(annotation_pb.ListProjectsRequest())
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_no_credential_reaches_a_log(
    rest_world: World, grpc_world: World, keys: StackKeys, stack_root: Path
) -> None:
    """After every caller has called every endpoint, refused or not, no service
    has logged a credential or its secret part (keys are logged by id only)."""
    credentials = {
        c for world in (rest_world, grpc_world) for c in world.credentials.values() if c
    } | {keys.admin_key}
    # lm_<key id>_<secret>: the secret may itself hold "_".
    secrets = credentials | {c.split("_", 2)[2] for c in credentials}
    logs = sorted((stack_root / "logs").glob("*.log"))
    assert {log.stem for log in logs} >= set(rest_world.stack)
    leaked = [
        f"{log.name}: {secret[:6]}…"
        for log in logs
        for secret in secrets
        if secret in log.read_text(errors="replace")
    ]
    assert not leaked, "credentials in the services' logs:\n" + "\n".join(leaked)
