"""Where the CLI finds the deployment and its credential: the environment
(`LABELMESH_ENDPOINTS`, `LABELMESH_API_KEY`) first, then the file `login`
wrote (`~/.config/labelmesh/config.json`, or `LABELMESH_CONFIG`)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from labelmesh.sdk import Endpoints


class NotLoggedIn(Exception):
    """Neither the environment nor a config file names a deployment and a key."""


@dataclass(frozen=True)
class Login:
    endpoints: Endpoints
    credential: str


def config_path() -> Path:
    configured = os.environ.get("LABELMESH_CONFIG")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "labelmesh" / "config.json"


def load() -> Login:
    stored: dict[str, str] = {}
    path = config_path()
    if path.exists():
        stored = json.loads(path.read_text())
    spec = os.environ.get("LABELMESH_ENDPOINTS") or stored.get("endpoints", "")
    credential = os.environ.get("LABELMESH_API_KEY") or stored.get("credential", "")
    if not spec or not credential:
        raise NotLoggedIn(
            "not logged in: run `labelmesh login`, or set LABELMESH_ENDPOINTS and LABELMESH_API_KEY"
        )
    return Login(Endpoints.parse(spec), credential)


def save(login: Login) -> Path:
    """Write the login where `load` finds it, readable by its owner only."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"endpoints": login.endpoints.spec(), "credential": login.credential})
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(body)
    path.chmod(0o600)
    return path
