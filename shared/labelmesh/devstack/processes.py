"""Child processes with a readiness deadline: on failure the error carries the
tail of the process's log, so a broken start explains itself."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

PR_SET_PDEATHSIG = 1
# SIGKILL cannot be refused; this only guards against a process stuck in the kernel.
KILLED_EXIT_SECONDS = 2.0


class StartupFailed(RuntimeError):
    pass


def _die_with_parent() -> None:
    """Ask Linux to kill the child when its parent dies, so a killed test run or
    launcher leaves no broker or database behind. SIGKILL, because SecantusDB
    was seen to outlive a SIGTERM once orphaned; WiredTiger's journal covers it."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class ManagedProcess:
    """A child process whose output goes to a log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        # Own process group: Ctrl-C in the terminal reaches the launcher only,
        # which then stops children in order.
        self.process = subprocess.Popen(
            self.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        log.close()

    def wait_until(self, ready: Callable[[], bool], deadline_seconds: float) -> None:
        """Poll `ready` until it holds; raise with the log tail on exit or timeout."""
        deadline = time.monotonic() + deadline_seconds
        while not ready():
            if self.process is not None and self.process.poll() is not None:
                raise StartupFailed(
                    f"{self.name} exited with {self.process.returncode}\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise StartupFailed(
                    f"{self.name} not ready after {deadline_seconds:.0f}s\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return f"(no log at {self.log_path})"
        return f"--- last lines of {self.log_path} ---\n" + "\n".join(text.splitlines()[-lines:])

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def terminate(self) -> None:
        """Ask the process to stop (SIGTERM); it shuts down within its own grace."""
        if self.running():
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.running():
            assert self.process is not None
            self.process.kill()

    def stop(self, grace: float = 10.0) -> None:
        stop_all([self], grace)


def stop_all(processes: Sequence[ManagedProcess], grace: float) -> list[ManagedProcess]:
    """SIGTERM every process at once, SIGKILL whichever is still running after
    `grace` seconds; returns those that had to be killed. Interrupted (a second
    Ctrl-C), it kills them all at once."""
    try:
        for process in processes:
            process.terminate()
        deadline = time.monotonic() + grace
        while any(p.running() for p in processes) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        killed = [p for p in processes if p.running()]
        for process in killed:
            process.kill()
        for process in processes:
            if process.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.process.wait(KILLED_EXIT_SECONDS)
    return killed
