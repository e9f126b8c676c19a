"""Who may do what: roles, the permissions each grants, and the authorisation
check every service makes before its use cases run.

An authenticated caller is a `Principal`. In a project of its organisation,
it holds the roles of its memberships there plus those of its
organisation-wide memberships, limited to the key's project scope; in any
other project, none.
A caller holding no role in a project is told the project does not exist
(404), so that its existence is not revealed; one holding roles that do not
grant the permission is refused (403).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import cast

from labelmesh.core.errors import Forbidden, NotFound
from labelmesh.v1.events_pb2 import Actor, ProjectSpec, Role

# Projects created before organisations existed belong to the first one.
DEFAULT_ORGANIZATION = "default"


class Permission(enum.Enum):
    """Something a caller may do; each role grants a set of them."""

    READ_PROJECT = "read the project"
    CREATE_PROJECT = "create projects"
    CONFIGURE_PROJECT = "configure the project"
    IMPORT_ITEMS = "import items"
    READ_ITEMS = "read items"
    ANNOTATE = "annotate"
    ASSIST = "ask models for suggestions"
    READ_LABELS = "read every annotator's labels"
    REVIEW = "review"
    ADJUDICATE = "adjudicate"
    FLAG = "flag items"
    READ_REPORTS = "read quality reports"
    READ_GOLD = "read gold answers"
    READ_AUDIT = "read the audit log"
    MANAGE_MODELS = "register models"
    MANAGE_DATASETS = "make dataset versions and exports"
    MANAGE_ACCESS = "manage keys and memberships"


P = Permission
GRANTS: Mapping[int, frozenset[Permission]] = {
    Role.ROLE_ADMIN: frozenset(Permission),
    Role.ROLE_MANAGER: frozenset(
        {
            P.READ_PROJECT,
            P.CREATE_PROJECT,
            P.CONFIGURE_PROJECT,
            P.IMPORT_ITEMS,
            P.READ_ITEMS,
            P.ASSIST,
            P.READ_LABELS,
            P.FLAG,
            P.READ_REPORTS,
            P.READ_GOLD,
            P.READ_AUDIT,
            P.MANAGE_DATASETS,
        }
    ),
    Role.ROLE_ANNOTATOR: frozenset({P.READ_PROJECT, P.READ_ITEMS, P.ANNOTATE, P.ASSIST}),
    Role.ROLE_REVIEWER: frozenset(
        {P.READ_PROJECT, P.READ_ITEMS, P.ASSIST, P.READ_LABELS, P.REVIEW, P.FLAG}
    ),
    Role.ROLE_EXPERT: frozenset(
        {
            P.READ_PROJECT,
            P.READ_ITEMS,
            P.ASSIST,
            P.READ_LABELS,
            P.REVIEW,
            P.ADJUDICATE,
            P.FLAG,
            P.READ_REPORTS,
        }
    ),
    Role.ROLE_AUDITOR: frozenset(
        {P.READ_PROJECT, P.READ_ITEMS, P.READ_LABELS, P.READ_REPORTS, P.READ_AUDIT}
    ),
    Role.ROLE_INTEGRATION: frozenset(
        {P.READ_PROJECT, P.IMPORT_ITEMS, P.READ_ITEMS, P.ASSIST, P.READ_LABELS, P.MANAGE_DATASETS}
    ),
}


def role_name(role: int) -> str:
    """The role's name, for example ROLE_ANNOTATOR."""
    return str(Role.Name(cast(Role, role)))


def short_role_name(role: int) -> str:
    """The role as review stages and policy members name it, for example "expert"."""
    return role_name(role).removeprefix("ROLE_").lower()


SHORT_ROLE_NAMES = frozenset(short_role_name(role) for role in GRANTS)


def role_values(roles: Iterable[int]) -> list[Role]:
    """Roles, sorted, as the generated messages' repeated Role fields type them."""
    return cast(list[Role], sorted(roles))


@dataclass(frozen=True)
class ProjectRef:
    """What authorising a request on a project needs to know of it."""

    project_id: str
    organization_id: str = ""

    @property
    def organization(self) -> str:
        return self.organization_id or DEFAULT_ORGANIZATION


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    subject: str
    actor: Actor
    organization_id: str
    organization_roles: frozenset[int] = frozenset()
    project_roles: Mapping[str, frozenset[int]] = field(default_factory=dict)
    # Not empty: the credential works in these projects only.
    project_scope: frozenset[str] = frozenset()
    key_id: str = ""

    def roles_in(self, project: ProjectRef) -> frozenset[int]:
        """The roles the caller holds in `project`."""
        if project.organization != self.organization_id:
            return frozenset()
        if self.project_scope and project.project_id not in self.project_scope:
            return frozenset()
        return self.project_roles.get(project.project_id, frozenset()) | self.organization_roles

    def organization_wide(self) -> frozenset[int]:
        """The roles that hold across the organisation; a project-scoped key has none."""
        return frozenset() if self.project_scope else self.organization_roles

    @property
    def label(self) -> str:
        """The caller as audit entries name actors, for example "KIND_USER:alice"."""
        return f"{Actor.Kind.Name(self.actor.kind)}:{self.actor.id}"


def acting_as(caller: Principal, named: str, field_name: str) -> Actor:
    """Who a request works as: the caller, whom its `field_name` may name or leave
    empty. Naming anyone else is refused: identity comes from the credential."""
    if named and named != caller.subject:
        raise Forbidden(f"{field_name}: {caller.subject!r} may not act as {named!r}", caller.actor)
    return caller.actor


def grants(roles: Iterable[int], permission: Permission) -> bool:
    """Whether any of `roles` grants `permission`."""
    return any(permission in GRANTS.get(role, frozenset()) for role in roles)


def authorize(principal: Principal, permission: Permission, project: ProjectRef) -> None:
    """Raise NotFound if the caller holds no role in `project`, Forbidden if
    none of its roles there grants `permission`."""
    roles = principal.roles_in(project)
    if not roles:
        raise NotFound("project", project.project_id)
    if not grants(roles, permission):
        raise Forbidden(
            f"{_roles_text(roles)} may not {permission.value} here",
            principal.actor,
            project.project_id,
        )


# A check made where the project is known only once a resource is read.
ProjectCheck = Callable[[ProjectRef], None]


def check_of(principal: Principal, permission: Permission) -> ProjectCheck:
    """The check that `principal` may do `permission` in a project."""
    return lambda project: authorize(principal, permission, project)


def ref_of(project: ProjectSpec) -> ProjectRef:
    return ProjectRef(project.project_id, project.organization_id)


def authorize_organization(principal: Principal, permission: Permission) -> None:
    """Raise Forbidden unless an organisation-wide role grants `permission`."""
    roles = principal.organization_wide()
    if not grants(roles, permission):
        held = _roles_text(roles) if roles else "a caller without organisation-wide roles"
        raise Forbidden(f"{held} may not {permission.value}", principal.actor)


def _roles_text(roles: Iterable[int]) -> str:
    return " / ".join(sorted(role_name(r) for r in roles))


OrganizationOf = Callable[[str], Awaitable[str | None]]


class ProjectGate:
    """Authorises callers on projects by id, knowing each project's organisation
    from `organization_of` (None for a project the service has not heard of).
    A project never changes organisation, so each is asked once."""

    def __init__(self, organization_of: OrganizationOf) -> None:
        self._organization_of = organization_of
        self._known: dict[str, str] = {}

    async def project(self, project_id: str) -> ProjectRef:
        """The project, or NotFound."""
        if project_id not in self._known:
            organization = await self._organization_of(project_id)
            if organization is None:
                raise NotFound("project", project_id)
            self._known[project_id] = organization
        return ProjectRef(project_id, self._known[project_id])

    async def check(self, caller: Principal, permission: Permission, project_id: str) -> None:
        """Raise NotFound or Forbidden unless `caller` may do `permission` in the project."""
        authorize(caller, permission, await self.project(project_id))

    async def allows(self, caller: Principal, permission: Permission, project_id: str) -> bool:
        """Whether `caller` may do `permission` in the project (False if it is unknown)."""
        try:
            await self.check(caller, permission, project_id)
        except (NotFound, Forbidden):
            return False
        return True


def directory_organizations(get: Callable[[str], Awaitable[ProjectSpec | None]]) -> OrganizationOf:
    """`organization_of` over a service's own store of project specs."""

    async def organization_of(project_id: str) -> str | None:
        spec = await get(project_id)
        return None if spec is None else spec.organization_id or DEFAULT_ORGANIZATION

    return organization_of
