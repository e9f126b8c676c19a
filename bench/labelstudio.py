"""Label Studio (from PyPI, in its own virtualenv under .tools/label-studio) as a
child process on a free port, on its default SQLite in a throwaway data
directory, and the API calls the comparison makes.

The admin user and its API token come from `label-studio start`'s own options;
the annotators are users of the same organisation, made by one script run in
Label Studio's virtualenv, each with its own legacy API token
("Authorization: Token ...").
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

import httpx

from bench.annotators import NoTask
from labelmesh.devstack.processes import ManagedProcess, free_port

HOME = Path(__file__).resolve().parents[1] / ".tools" / "label-studio"
VERSION = "1.23.2"
ADMIN = "bench@localhost"
# The first start migrates a fresh SQLite database, which takes a while on 2 cores.
READY_DEADLINE_SECONDS = 300.0
# Label Studio reports errors to Sentry and usage to its makers by default;
# the benchmark's traffic stays on this machine.
QUIET_ENV = {
    "LABEL_STUDIO_SENTRY_DSN": "",
    "LABEL_STUDIO_FRONTEND_SENTRY_DSN": "",
    "LABEL_STUDIO_COLLECT_ANALYTICS": "false",
}
MAKE_ANNOTATORS = """
import json, sys
from label_studio.server import _setup_env
_setup_env()
from organizations.models import Organization
from users.models import User
emails, password = json.loads(sys.argv[1]), sys.argv[2]
organization = Organization.objects.first()
tokens = {}
for email in emails:
    user = User.objects.create_user(email=email, password=password)
    organization.add_user(user)
    user.active_organization = organization
    user.save(update_fields=["active_organization"])
    tokens[email] = user.auth_token.key
print("TOKENS " + json.dumps(tokens))
"""


@dataclass(frozen=True)
class LabelStudioServer:
    url: str
    admin_token: str
    # Annotator name → API token.
    tokens: Mapping[str, str]


def installed() -> bool:
    return (HOME / "bin" / "label-studio").exists()


@contextlib.contextmanager
def running_label_studio(root: Path, annotators: Sequence[str]) -> Iterator[LabelStudioServer]:
    """Label Studio with a data directory under `root`, its admin, and one user per
    name in `annotators`, until the block ends."""
    if not installed():
        raise RuntimeError(f"Label Studio is not installed in {HOME}: run `make bench-compare`")
    port, token, password = free_port(), secrets.token_hex(20), secrets.token_urlsafe(16)
    env = {**QUIET_ENV, "LABEL_STUDIO_BASE_DATA_DIR": str(root / "label-studio")}
    process = ManagedProcess(
        "label-studio",
        [
            str(HOME / "bin" / "label-studio"),
            "start",
            "--no-browser",
            "--internal-host",
            "127.0.0.1",
            "--port",
            str(port),
            "--username",
            ADMIN,
            "--password",
            password,
            "--user-token",
            token,
            "--enable-legacy-api-token",
        ],
        root / "label-studio.log",
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    process.start()
    try:
        process.wait_until(lambda: _healthy(url), READY_DEADLINE_SECONDS)
        tokens = _make_annotators(env, annotators, password)
        yield LabelStudioServer(url, token, tokens)
    finally:
        process.stop()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health/", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _make_annotators(env: Mapping[str, str], names: Sequence[str], password: str) -> dict[str, str]:
    emails = {name: f"{name}@bench.local" for name in names}
    done = subprocess.run(
        [
            str(HOME / "bin" / "python"),
            "-c",
            MAKE_ANNOTATORS,
            json.dumps(list(emails.values())),
            password,
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("TOKENS ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"making Label Studio users failed:\n{done.stdout}\n{done.stderr}")
    by_email: dict[str, str] = json.loads(lines[-1].removeprefix("TOKENS "))
    return {name: by_email[email] for name, email in emails.items()}


def choices_config(classes: Sequence[str]) -> str:
    """A text classification labelling config: one choice per class."""
    options = "".join(f"<Choice value={quoteattr(c)}/>" for c in classes)
    return (
        '<View><Text name="text" value="$text"/>'
        f'<Choices name="topic" toName="text">{options}</Choices></View>'
    )


class LabelStudioApi:
    def __init__(self, client: httpx.AsyncClient, server: LabelStudioServer) -> None:
        self.client = client
        self.server = server

    def _auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Token {token}"}

    async def create_text_project(self, title: str, classes: Sequence[str]) -> int:
        response = await self.client.post(
            f"{self.server.url}/api/projects",
            json={"title": title, "label_config": choices_config(classes)},
            headers=self._auth(self.server.admin_token),
        )
        response.raise_for_status()
        project_id: int = response.json()["id"]
        return project_id

    async def upload(self, project_id: int, texts: Sequence[str]) -> None:
        response = await self.client.post(
            f"{self.server.url}/api/projects/{project_id}/import",
            json=[{"text": t} for t in texts],
            headers=self._auth(self.server.admin_token),
        )
        response.raise_for_status()

    async def claim(self, project_id: int, annotator: str) -> str:
        """The task Label Studio's labelling stream shows the annotator next."""
        response = await self.client.get(
            f"{self.server.url}/api/projects/{project_id}/next",
            headers=self._auth(self.server.tokens[annotator]),
        )
        if response.status_code == 404:  # Label Studio's answer when no task is left
            raise NoTask(str(project_id))
        response.raise_for_status()
        return str(response.json()["id"])

    async def submit(self, task_id: str, annotator: str, label: str) -> None:
        result = {"from_name": "topic", "to_name": "text", "type": "choices"}
        response = await self.client.post(
            f"{self.server.url}/api/tasks/{task_id}/annotations/",
            json={"result": [{**result, "value": {"choices": [label]}}]},
            headers=self._auth(self.server.tokens[annotator]),
        )
        response.raise_for_status()


class LabelStudioProject:
    """One Label Studio project as its annotators see it (see `Annotating`)."""

    def __init__(self, api: LabelStudioApi, project_id: int, label: str) -> None:
        self.api = api
        self.project_id = project_id
        self.label = label

    async def claim(self, annotator: str) -> str:
        return await self.api.claim(self.project_id, annotator)

    async def submit(self, annotator: str, task_id: str) -> None:
        await self.api.submit(task_id, annotator, self.label)
