from __future__ import annotations

import httpx

from labelmesh.sdk.errors import (
    FieldViolation,
    Forbidden,
    InvalidRequest,
    NotFound,
    Overloaded,
    error_of,
)


def response(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def test_a_refusal_names_every_field_and_reason() -> None:
    body = {"detail": [{"field": "items[2].text", "msg": "empty"}, {"field": "name", "msg": "x"}]}
    error = error_of(response(422, body))
    assert isinstance(error, InvalidRequest)
    assert error.violations == [
        FieldViolation("items[2].text", "empty"),
        FieldViolation("name", "x"),
    ]
    assert "items[2].text: empty" in str(error)


def test_fastapis_own_validation_errors_name_the_field_by_its_location() -> None:
    body = {"detail": [{"loc": ["body", "name"], "msg": "Field required", "type": "missing"}]}
    error = error_of(response(422, body))
    assert isinstance(error, InvalidRequest)
    assert error.violations == [FieldViolation("body.name", "Field required")]


def test_each_status_has_its_own_error() -> None:
    assert isinstance(error_of(response(404, {"detail": "no item x"})), NotFound)
    forbidden = error_of(response(403, {"detail": "needs ROLE_MANAGER"}))
    assert isinstance(forbidden, Forbidden) and forbidden.message == "needs ROLE_MANAGER"


def test_a_shed_request_carries_the_servers_advice_on_when_to_retry() -> None:
    shed = error_of(response(429, {"detail": "busy"}, {"retry-after": "2"}))
    assert isinstance(shed, Overloaded) and shed.retry_after == 2.0
    unavailable = error_of(httpx.Response(503, text="down"))
    assert isinstance(unavailable, Overloaded) and unavailable.retry_after is None
