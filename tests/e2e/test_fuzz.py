"""Schemathesis sends requests generated from each service's OpenAPI document,
with an organisation admin's credential, and no answer may be a server error.

Changing memberships and revoking keys are left out: on the stack the other
end-to-end tests share, a generated request could take away their roles.

In `make test` the examples are derived from each test's name, so that the same
code always meets the same requests and a red run can be repeated; `make fuzz`
draws new ones, many more of them, and prints how to replay a failure."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from labelmesh.devstack.keys import StackKeys
from labelmesh.devstack.services import SERVICE_NAMES, ServiceAddress

pytestmark = pytest.mark.e2e
EXPLORING = os.environ.get("LABELMESH_FUZZ") == "explore"
# Bounded in `make test`, so that the whole run stays within a few minutes.
EXAMPLES_PER_OPERATION = 50 if EXPLORING else 4


@pytest.fixture(params=SERVICE_NAMES)
def service_schema(request: pytest.FixtureRequest, stack: dict[str, ServiceAddress]) -> Any:
    address = stack[request.param]
    loaded = schemathesis.openapi.from_url(f"{address.rest}/openapi.json")
    return loaded.exclude(path="/v1/memberships", method="PUT").exclude(path_regex="/revoke$")


schema = schemathesis.pytest.from_fixture("service_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=not EXPLORING,
    print_blob=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_makes_a_server_error(case: Any, keys: StackKeys) -> None:
    # The schema's bearer scheme makes Schemathesis generate a credential; ours replaces it.
    case.headers = {**(case.headers or {}), **keys.headers("fuzz-admin")}
    response = case.call_and_validate(checks=[not_a_server_error])
    assert response.status_code != 401, "the credential was not sent"
