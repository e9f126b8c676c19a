"""`labelmesh import s3` and `labelmesh buckets` against the stand-in for ingest."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner, Result

from labelmesh.cli import buckets
from labelmesh.cli.main import app

from .fake_ingest import FakeIngest, counts_of

SECRETS = {"LABELMESH_S3_ACCESS_KEY_ID": "AKIA1", "LABELMESH_S3_SECRET_ACCESS_KEY": "s3cret"}


@pytest.fixture(autouse=True)
def no_pause_between_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(buckets, "POLL_SECONDS", 0.0)


def labelmesh(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200", **(env or {})})


def import_s3(*extra: str, env: dict[str, str] | None = None) -> Result:
    return labelmesh(
        "import", "s3", "p1", "s3://photos/2024/", "--endpoint", "minio:9000", *extra, env=env
    )


def ends(ingest: FakeIngest, failed: int = 0, stored: int = 3, **more: object) -> None:
    ingest.progress = [
        {"state": "SYNC_STATE_RUNNING", "counts": counts_of(listed=2)},
        {
            "state": "SYNC_STATE_SUCCEEDED",
            "counts": counts_of(listed=5, read=5, stored=stored, duplicates=1, failed=failed),
            **more,
        },
    ]


def test_an_import_registers_syncs_and_follows_the_sync_to_its_counts(ingest: FakeIngest) -> None:
    ends(ingest)
    result = import_s3("--insecure", "--region", "eu-1", "--mode", "copy", "--full", env=SECRETS)
    assert result.exit_code == 0, result.output
    [bucket_id] = ingest.buckets
    registered = ingest.sent("POST", "/v1/projects/p1/buckets")[0]
    assert registered["access_key_id"] == "AKIA1" and registered["secret_access_key"] == "s3cret"
    assert (registered["secure"], registered["region"], registered["mode"]) == (
        False,
        "eu-1",
        "BUCKET_MODE_COPY",
    )
    assert ingest.sent("POST", f"/v1/buckets/{bucket_id}/syncs") == [{"full": True}]
    assert len(ingest.sent("GET", f"/v1/buckets/{bucket_id}")) == 2
    assert "5 listed, 5 read, 3 stored, 1 duplicates, 0 failed, 0 deleted" in result.stderr
    assert "s3cret" not in result.output


def test_some_objects_failing_exit_3_with_their_keys_and_reasons(ingest: FakeIngest) -> None:
    ends(ingest, failed=2, failures=[{"key": "a.bin", "reason": "not a supported type"}])
    result = import_s3()
    assert result.exit_code == 3, result.output
    assert "a.bin" in result.stdout and "not a supported type" in result.stdout
    assert "the first 1 of 2 failures are kept" in result.stderr


def test_every_object_failing_or_the_sync_failing_exits_1(ingest: FakeIngest) -> None:
    ends(ingest, failed=4, stored=0)
    ingest.progress[-1]["counts"] = counts_of(listed=4, read=4, failed=4)
    assert import_s3().exit_code == 1
    ingest.progress = [{"state": "SYNC_STATE_FAILED", "error": "AccessDenied listing photos"}]
    result = import_s3()
    assert result.exit_code == 1
    assert "AccessDenied listing photos" in result.stderr


def test_json_prints_the_final_bucket_alone(ingest: FakeIngest) -> None:
    ends(ingest)
    result = import_s3("--json")
    assert result.exit_code == 0, result.output
    bucket = json.loads(result.stdout)
    assert [bucket["bucket_id"]] == list(ingest.buckets) and bucket["counts"]["stored"] == 3


def test_no_wait_queues_the_sync_and_returns(ingest: FakeIngest) -> None:
    result = import_s3("--no-wait", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["state"] == "SYNC_STATE_QUEUED"
    assert [r.method for r in ingest.requests] == ["POST", "POST"]


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["s3://photos", "--endpoint", "http://minio:9000"], {}, "--endpoint"),
        (["photos/2024", "--endpoint", "minio:9000"], {}, "S3_URI"),
        (["s3://photos", "--endpoint", "minio:9000", "--mode", "move"], {}, "--mode"),
        (
            ["s3://photos", "--endpoint", "minio:9000", "--access-key-id", "AKIA1"],
            {},
            "--secret-access-key",
        ),
        (
            ["s3://photos", "--endpoint", "minio:9000"],
            {"LABELMESH_S3_SECRET_ACCESS_KEY": "s3cret"},
            "--access-key-id",
        ),
    ],
)
def test_bad_arguments_exit_2_naming_the_option_and_send_nothing(
    ingest: FakeIngest, args: list[str], env: dict[str, str], named: str
) -> None:
    result = labelmesh("import", "s3", "p1", *args, env=env)
    assert result.exit_code == 2
    assert named in result.stderr
    assert "s3cret" not in result.output
    assert ingest.requests == []


def test_buckets_lists_each_with_its_latest_sync(ingest: FakeIngest) -> None:
    ends(ingest)
    assert import_s3().exit_code == 0
    labelmesh("import", "s3", "p1", "s3://raw", "--endpoint", "s3.example", "--no-wait")
    table = labelmesh("buckets", "p1")
    assert table.exit_code == 0, table.output
    assert "s3://photos/2024/" in table.stdout and "succeeded" in table.stdout
    assert "s3://raw/" in table.stdout and "queued" in table.stdout
    lines = labelmesh("buckets", "p1", "--json").stdout.splitlines()
    assert [json.loads(line)["bucket"] for line in lines] == ["photos", "raw"]
