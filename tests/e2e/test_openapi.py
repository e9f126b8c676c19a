"""Every service's OpenAPI document describes each body with a real schema,
so that clients can be generated from it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from labelmesh.devstack.services import SERVICE_NAMES, ServiceAddress

pytestmark = pytest.mark.e2e
REF_PREFIX = "#/components/schemas/"


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix(REF_PREFIX)
        assert name in document["components"]["schemas"], f"{name} has no schema"
        schema = document["components"]["schemas"][name]
    return schema


def untyped(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    """A schema that says nothing: no type, no properties, no items, no choice of forms."""
    resolved = resolve(document, schema)
    if any(key in resolved for key in ("anyOf", "oneOf", "allOf", "enum")):
        return False
    if resolved.get("type") == "array":
        return untyped(document, resolved.get("items", {}))
    if resolved.get("type") == "object":
        return not resolved.get("properties") and not resolved.get("additionalProperties")
    return "type" not in resolved


def bodies(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every JSON request and success-response schema, named by operation."""
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            name = f"{method.upper()} {path}"
            request = operation.get("requestBody", {}).get("content", {})
            for media_type, content in request.items():
                if media_type == "application/json":
                    found.append((f"{name} request", content.get("schema", {})))
            for status, response in operation["responses"].items():
                # 204 No Content has no body by definition.
                if status.startswith("2") and status != "204":
                    content = response.get("content", {})
                    assert content, f"{name} {status} documents no body"
                    if "application/json" in content:
                        schema = content["application/json"].get("schema", {})
                        found.append((f"{name} {status}", schema))
    return found


def all_refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        refs = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return refs.union(*(all_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(all_refs(v) for v in node))
    return set()


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_every_body_has_a_real_schema(
    service: str, stack: dict[str, ServiceAddress], client: httpx.Client
) -> None:
    document = client.get(f"{stack[service].rest}/openapi.json").json()
    found = bodies(document)
    assert found, "the document lists no bodies"
    vague = [name for name, schema in found if untyped(document, schema)]
    assert vague == [], f"bodies without a schema: {vague}"
    schemas = document.get("components", {}).get("schemas", {})
    missing = sorted(r for r in all_refs(document) if r.removeprefix(REF_PREFIX) not in schemas)
    assert missing == [], f"references to schemas that are not in the document: {missing}"
