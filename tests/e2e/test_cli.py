"""The `labelmesh` command against the running services, run as a user runs
it: a process of its own, its exit code and its JSON."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from labelmesh.sdk.upload_log import read_log
from labelmesh.testing.services import wait_for

from .cli_runner import LABELMESH, labelmesh, last_json
from .rest_api import RestApi

pytestmark = pytest.mark.e2e


def manifest(path: Path, texts: list[str]) -> Path:
    lines = ["key,body,lang"] + [f"row{i},{text},en" for i, text in enumerate(texts)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_login_checks_the_key_and_remembers_it_for_the_owner_only(
    env: dict[str, str], api: RestApi, tmp_path: Path
) -> None:
    project = api.new_text_project(name="cli login", classes=["a"])
    spec, key = env.pop("LABELMESH_ENDPOINTS"), env.pop("LABELMESH_API_KEY")

    refused = labelmesh(env, "login", "--endpoints", spec, "--api-key", "lm_bad_key")
    assert refused.returncode == 1
    assert "HTTP 401" in refused.stderr
    assert not (tmp_path / "config.json").exists()

    logged_in = labelmesh(env, "--json", "login", "--endpoints", spec, "--api-key", key)
    assert logged_in.returncode == 0, logged_in.stderr
    assert (tmp_path / "config.json").stat().st_mode & 0o777 == 0o600
    shown = labelmesh(env, "--json", "projects", "show", project["project_id"])
    assert shown.returncode == 0, shown.stderr
    assert last_json(shown.stdout)["project"]["classes"] == ["a"]


def test_an_import_exits_3_when_some_rows_fail_and_1_when_all_do(
    env: dict[str, str], api: RestApi, tmp_path: Path
) -> None:
    project = api.new_text_project(name="cli partial", classes=["a"])["project_id"]
    api.upload_texts(project, ["ingest knows the project"])
    rows = manifest(tmp_path / "m.csv", ["one", "", "three"])
    log = tmp_path / "import.jsonl"
    args = ["--key-column", "key", "--text-column", "body", "--metadata-column", "lang"]

    partial = labelmesh(
        env, "--json", "import", "csv", str(rows), "-p", project, *args, "--log", str(log)
    )

    assert partial.returncode == 3, partial.stderr
    summary = last_json(partial.stdout)
    assert (summary["stored"], summary["failed"]) == (2, 1)
    failed = [entry for entry in read_log(log) if entry.status == "failed"]
    assert [entry.key for entry in failed] == ["row1"]
    assert "items[1].text" in failed[0].error

    retried = labelmesh(env, "--json", "import", "retry", str(log), "-p", project)

    assert retried.returncode == 1, retried.stderr
    assert last_json(retried.stdout)["failed"] == 1


def test_an_interrupted_import_resumes_where_it_stopped(
    env: dict[str, str], api: RestApi, tmp_path: Path
) -> None:
    project = api.new_text_project(name="cli resume", classes=["a"])["project_id"]
    api.upload_texts(project, ["ingest knows the project"])
    count = 1000
    rows = manifest(tmp_path / "big.csv", [f"resumed text {i}" for i in range(count)])
    args = [
        "import",
        "csv",
        str(rows),
        "-p",
        project,
        "--key-column",
        "key",
        "--text-column",
        "body",
        "--batch-size",
        "10",
        "--concurrency",
        "1",
    ]
    log = tmp_path / "cache" / "labelmesh" / "uploads" / project

    first = subprocess.Popen(
        [LABELMESH, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )

    def logged() -> int | None:
        files = list(log.glob("*.jsonl")) if log.exists() else []
        lines = sum(1 for _ in read_log(files[0])) if files else 0
        return lines if lines >= 100 else None

    wait_for(logged, "the import to log a few batches", within=120)
    first.send_signal(signal.SIGINT)
    _, stderr = first.communicate(timeout=60)
    assert first.returncode == 130, stderr
    done_before = sum(1 for _ in read_log(next(log.glob("*.jsonl"))))
    assert done_before < count

    resumed = labelmesh(env, "--json", *args)

    assert resumed.returncode == 0, resumed.stderr
    summary = last_json(resumed.stdout)
    assert summary["skipped"] == done_before
    # A batch in flight at the interrupt may have been stored without being logged.
    assert summary["stored"] + summary["duplicates"] == count - done_before
    assert summary["duplicates"] <= 10
    assert summary["failed"] == 0


def test_the_audit_log_of_a_project_verifies_from_the_cli(
    env: dict[str, str], api: RestApi
) -> None:
    project = api.new_text_project(name="cli audit", classes=["a"])["project_id"]
    api.upload_texts(project, ["audited"])

    def recorded() -> list[Any] | None:
        query = labelmesh(env, "--json", "audit", "query", "-p", project, "--type", "ItemIngested")
        assert query.returncode == 0, query.stderr
        entries = [json.loads(line) for line in query.stdout.splitlines() if line.strip()]
        return entries or None

    entries = wait_for(recorded, "the audit log to record the upload", within=90)
    assert entries[0]["event_type"] == "labelmesh.v1.ItemIngested"
    verified = labelmesh(env, "--json", "audit", "verify", "-p", project)
    assert verified.returncode == 0, verified.stderr
    assert last_json(verified.stdout)["intact"] is True


def test_the_shell_completes_commands() -> None:
    completion = subprocess.run(
        [LABELMESH],
        env={
            **os.environ,
            "_LABELMESH_COMPLETE": "complete_bash",
            "COMP_WORDS": "labelmesh au",
            "COMP_CWORD": "1",
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert completion.stdout.split() == ["audit"]
