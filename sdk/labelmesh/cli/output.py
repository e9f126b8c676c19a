"""How commands print: Rich tables for people, JSON for scripts (`--json`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

# Exit codes: usage errors are Click's 2.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_PARTIAL = 3


@dataclass(frozen=True)
class Output:
    json_mode: bool
    console: Console
    errors: Console

    def records(self, rows: Iterable[BaseModel], columns: Sequence[str], title: str = "") -> None:
        """Rows as a table, or as one JSON object per line."""
        if self.json_mode:
            for row in rows:
                print(row.model_dump_json())
            return
        table = Table(*columns, title=title or None)
        for row in rows:
            values = row.model_dump()
            table.add_row(*(cell(values.get(column)) for column in columns))
        self.console.print(table)

    def record(self, row: BaseModel | dict[str, Any]) -> None:
        """One result, as JSON either way: a line for scripts, highlighted for people."""
        text = row.model_dump_json() if isinstance(row, BaseModel) else json.dumps(row)
        if self.json_mode:
            print(text)
        else:
            self.console.print_json(text)

    def note(self, message: str) -> None:
        """A line for people; scripts with `--json` get stdout clean."""
        if not self.json_mode:
            self.errors.print(message)

    def error(self, message: str) -> None:
        self.errors.print(f"[red]error:[/red] {message}", highlight=False)


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)
