"""Event handlers of the audit service: every event of every family is recorded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labelmesh.audit.usecases import Audit
from labelmesh.core.bus import Handler
from labelmesh.core.topics import FAMILIES, FAMILY_OF_EVENT
from labelmesh.v1.events_pb2 import Envelope


@dataclass(frozen=True)
class Deps:
    audit: Audit


async def on_any_event(deps: Deps, envelope: Envelope, _: Any) -> None:
    await deps.audit.record([envelope])


async def on_fetch(deps: Deps, envelopes: list[Envelope]) -> None:
    """A whole fetch in one transaction: the audit log's hot path."""
    await deps.audit.record(envelopes)


CONSUMES = FAMILIES
HANDLERS: dict[str, Handler] = {f"labelmesh.v1.{name}": on_any_event for name in FAMILY_OF_EVENT}
