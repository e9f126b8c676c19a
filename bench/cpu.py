"""CPU time spent while a benchmark runs: by the whole machine, and by one process.

Read from /proc (Linux), so that a figure can say where a machine's two cores
went, not only how fast the work was.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def machine_seconds() -> float:
    """CPU seconds the machine has spent busy since boot, over all cores."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    # user nice system idle iowait irq softirq steal ...: all but idle and iowait.
    busy = [int(value) for index, value in enumerate(fields[:8]) if index not in (3, 4)]
    return sum(busy) / TICKS_PER_SECOND


def process_seconds(pid: int) -> float:
    """CPU seconds (user and system) a process has used since it started."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name, in parentheses, may hold spaces: count from after it.
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


@dataclass
class CpuUsed:
    """CPU seconds used during a block: by the machine, and by one process of it."""

    machine: float = 0.0
    process: float = 0.0


@contextlib.contextmanager
def cpu_used(pid: int) -> Iterator[CpuUsed]:
    """Measures the block; the figures are filled in when it ends."""
    used = CpuUsed()
    machine, process = machine_seconds(), process_seconds(pid)
    try:
        yield used
    finally:
        used.machine = machine_seconds() - machine
        used.process = process_seconds(pid) - process
