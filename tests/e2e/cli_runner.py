"""The `labelmesh` command run as a user runs it: a process of its own, its
exit code and its JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

LABELMESH = str(Path(sys.executable).with_name("labelmesh"))


def labelmesh(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LABELMESH, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def last_json(output: str) -> Any:
    return json.loads(output.strip().splitlines()[-1])
