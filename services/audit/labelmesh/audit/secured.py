"""What the audit APIs call: each use case behind its caller's authorisation.

The log is read by auditors, managers and admins of the project an entry
belongs to. A project's organisation comes from its own ProjectCreated
entry, so the audit service needs no copy of the projects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from labelmesh.audit.domain import Verification
from labelmesh.audit.records import AuditEntry
from labelmesh.audit.usecases import Audit
from labelmesh.core.access import DEFAULT_ORGANIZATION, Permission, Principal, ProjectGate
from labelmesh.core.envelopes import decode


@dataclass
class SecuredAudit:
    audit: Audit
    gate: ProjectGate = field(init=False)

    def __post_init__(self) -> None:
        self.gate = ProjectGate(self._organization_of)

    async def _organization_of(self, project_id: str) -> str | None:
        entries = await self.audit.repository.trail(f"project:{project_id}")
        for entry in entries:
            envelope = decode(entry.envelope)
            if envelope.WhichOneof("payload") == "project_created":
                return envelope.project_created.project.organization_id or DEFAULT_ORGANIZATION
        return None

    async def _check_item(self, caller: Principal, entries: list[AuditEntry]) -> None:
        await self.gate.check(caller, Permission.READ_AUDIT, decode(entries[0].envelope).project_id)

    async def item_trail(self, caller: Principal, item_id: str) -> list[AuditEntry]:
        entries = await self.audit.item_trail(item_id)
        await self._check_item(caller, entries)
        return entries

    async def verify_item(self, caller: Principal, item_id: str) -> Verification:
        await self._check_item(caller, await self.audit.item_trail(item_id))
        return await self.audit.verify_item(item_id)
