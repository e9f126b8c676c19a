"""What the audit APIs call: each use case behind its caller's authorisation.

The log is read by auditors, managers and admins of the project an entry
belongs to. A project's organisation comes from its own ProjectCreated
entry, so the audit service needs no copy of the projects. A query by item
is authorised on the item's project; an item with no entries has nothing to
hide. Exports and streams are recorded in the log as they end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from labelmesh.audit.domain import History, ProjectVerification, Verification
from labelmesh.audit.exports import counted, export_event
from labelmesh.audit.metrics import AuditMetrics
from labelmesh.audit.records import AuditEntry, AuditQuery
from labelmesh.audit.usecases import Audit, Page, trail_history
from labelmesh.core.access import DEFAULT_ORGANIZATION, Permission, Principal, ProjectGate
from labelmesh.core.envelopes import decode
from labelmesh.core.side_events import SideEvents


@dataclass
class SecuredAudit:
    audit: Audit
    side_events: SideEvents
    gate: ProjectGate = field(init=False)

    def __post_init__(self) -> None:
        self.gate = ProjectGate(self._organization_of)

    @property
    def metrics(self) -> AuditMetrics:
        return self.audit.metrics

    async def _organization_of(self, project_id: str) -> str | None:
        entries = await self.audit.repository.trail(f"project:{project_id}")
        for entry in entries:
            envelope = decode(entry.envelope)
            if envelope.WhichOneof("payload") == "project_created":
                return envelope.project_created.project.organization_id or DEFAULT_ORGANIZATION
        return None

    async def _check_entries(self, caller: Principal, entries: Sequence[AuditEntry]) -> str:
        """The project of `entries`, once the caller may read it ("" for none)."""
        if not entries:
            return ""
        project_id = entries[0].project_id or decode(entries[0].envelope).project_id
        await self.gate.check(caller, Permission.READ_AUDIT, project_id)
        return project_id

    async def _check_query(self, caller: Principal, query: AuditQuery) -> str:
        """The project `query` reads, once the caller may read it."""
        if query.project_id:
            await self.gate.check(caller, Permission.READ_AUDIT, query.project_id)
            return query.project_id
        return await self._check_entries(caller, await self.audit.repository.trail(query.item_id))

    async def item_trail(self, caller: Principal, item_id: str) -> list[AuditEntry]:
        entries = await self.audit.item_trail(item_id)
        await self._check_entries(caller, entries)
        return entries

    async def verify_item(self, caller: Principal, item_id: str) -> Verification:
        return self.audit.verify_trail(await self.item_trail(caller, item_id))

    async def page(self, caller: Principal, query: AuditQuery, size: int, token: str) -> Page:
        await self._check_query(caller, query)
        return await self.audit.page(query, size, token)

    async def export(
        self, caller: Principal, query: AuditQuery, size: int, format: str
    ) -> AsyncIterator[list[AuditEntry]]:
        """The batches of `query`, once the caller may read them: a refusal comes
        before the first byte of an export, never in its middle. When they stop,
        the export is recorded as `format`."""
        project_id = await self._check_query(caller, query)

        def ended(entries: int, complete: bool) -> None:
            event = export_event(caller.actor, query, project_id, format, entries, complete)
            self.side_events.emit(event)

        return counted(self.audit.stream(query, size), ended)

    async def annotation_history(self, caller: Principal, item_id: str) -> list[History]:
        return trail_history(await self.item_trail(caller, item_id))

    async def verify_project(self, caller: Principal, project_id: str) -> ProjectVerification:
        await self.gate.check(caller, Permission.READ_AUDIT, project_id)
        return await self.audit.verify_project(project_id)
