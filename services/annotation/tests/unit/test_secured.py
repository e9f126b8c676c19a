"""Which projects each caller lists, on the twins."""

from __future__ import annotations

from dataclasses import replace

import pytest

from labelmesh.annotation.domain import NewProject
from labelmesh.core.access import Principal
from labelmesh.core.envelopes import user_actor
from labelmesh.core.errors import InvalidField
from labelmesh.testing.access import principal
from labelmesh.testing.twins.annotation import CLASSES, AnnotationTwins
from labelmesh.v1.events_pb2 import DataType, Role


async def created(twins: AnnotationTwins, organization: str, count: int) -> list[str]:
    ids = []
    for n in range(count):
        project = await twins.annotation.create_project(
            NewProject(f"{organization} {n}", DataType.DATA_TYPE_TEXT, CLASSES, 0.9),
            user_actor("owner"),
            organization,
        )
        ids.append(project.project_id)
    return ids


async def listed(twins: AnnotationTwins, caller: Principal, page_size: int) -> list[list[str]]:
    """Every page the caller is given, in order, by project id."""
    pages, token = [], ""
    while True:
        found, token = await twins.secured.list_projects(caller, page_size, token)
        pages.append([p.project_id for p in found])
        if not token:
            return pages


async def test_an_organisation_wide_role_lists_every_project_of_its_organisation(
    twins: AnnotationTwins,
) -> None:
    acme = await created(twins, "acme", 5)
    await created(twins, "other", 2)
    auditor = principal("aud", Role.ROLE_AUDITOR, organization="acme")
    newest = list(reversed(acme))
    assert await listed(twins, auditor, 2) == [newest[:2], newest[2:4], newest[4:]]
    assert await listed(twins, auditor, 0) == [newest]


async def test_a_member_lists_only_the_projects_it_holds_a_role_in(
    twins: AnnotationTwins,
) -> None:
    acme = await created(twins, "acme", 4)
    other = await created(twins, "other", 1)
    member = Principal(
        subject="ann",
        actor=user_actor("ann"),
        organization_id="acme",
        # A role in another organisation's project shows nothing there.
        project_roles={
            acme[0]: frozenset({Role.ROLE_ANNOTATOR}),
            acme[2]: frozenset({Role.ROLE_REVIEWER}),
            acme[3]: frozenset({Role.ROLE_AUDITOR}),
            other[0]: frozenset({Role.ROLE_ADMIN}),
            "gone": frozenset({Role.ROLE_ADMIN}),
        },
    )
    assert await listed(twins, member, 2) == [[acme[3], acme[2]], [acme[0]]]
    assert await listed(twins, principal("nobody", organization="acme"), 0) == [[]]


async def test_a_scoped_key_lists_only_its_scope(twins: AnnotationTwins) -> None:
    acme = await created(twins, "acme", 3)
    wide = principal("int", Role.ROLE_INTEGRATION, organization="acme")
    scoped = replace(wide, project_scope=frozenset({acme[0], acme[1]}))
    assert await listed(twins, scoped, 0) == [[acme[1], acme[0]]]


@pytest.mark.parametrize(
    ("page_size", "token", "field"),
    [(201, "", "page_size"), (0, "x1", "page_token"), (0, "0", "page_token")],
)
async def test_a_bad_page_request_names_its_field(
    twins: AnnotationTwins, page_size: int, token: str, field: str
) -> None:
    caller = principal("aud", Role.ROLE_AUDITOR)
    with pytest.raises(InvalidField) as refused:
        await twins.secured.list_projects(caller, page_size, token)
    assert refused.value.field == field
