"""The REST surface of the review policy and of tasks, in-process over ASGI."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


def body(**fields: Any) -> dict[str, Any]:
    return {"name": "news", "data_type": "TEXT", "classes": ["sports", "politics"], **fields}


async def test_a_project_shows_its_review_policy(rest: httpx.AsyncClient) -> None:
    created = await rest.post(
        "/v1/projects", json=body(review_policy={"overlap": 3, "gold_ratio": 0.1})
    )
    assert created.status_code == 201, created.text
    project = created.json()["project"]
    assert project["data_type"] == "DATA_TYPE_TEXT"
    policy = project["review_policy"]
    assert (policy["version"], policy["overlap"], policy["gold_ratio"]) == (1, 3, 0.1)
    fetched = await rest.get(f"/v1/projects/{project['project_id']}")
    assert fetched.json() == {"project": project}

    plain = await rest.post("/v1/projects", json=body())
    assert plain.status_code == 201 and "review_policy" not in plain.json()["project"]


@pytest.mark.parametrize(
    ("policy", "field", "reason"),
    [
        ({"overlapp": 2}, "review_policy", "overlapp"),
        ({"overlap": 21}, "review_policy.overlap", "at most 20"),
        ({"gold_ratio": 1.0}, "review_policy.gold_ratio", "[0, 1)"),
        ({"stages": [{"name": "qa"}]}, "review_policy.stages[0].role", "exactly one"),
    ],
)
async def test_a_bad_review_policy_names_the_field(
    rest: httpx.AsyncClient, policy: dict[str, Any], field: str, reason: str
) -> None:
    response = await rest.post("/v1/projects", json=body(review_policy=policy))
    assert response.status_code == 422
    [detail] = response.json()["detail"]
    assert detail["field"] == field
    assert reason in detail["msg"]
