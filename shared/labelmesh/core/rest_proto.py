"""REST bodies as the proto-JSON of the gRPC messages, with real OpenAPI schemas.

A route returns `ProtoJSON(message)`, the same message its gRPC method
returns, and documents it with `**proto_io(response=...)`. The schemas are
derived from the message descriptors when the OpenAPI document is built
(`add_proto_schemas`), so that clients can be generated from it. A pydantic
request model can hold a message as proto-JSON in a field:
`Annotated[ReviewPolicy, ProtoField(ReviewPolicy, "review_policy")]`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar, get_origin

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from labelmesh.core.errors import InvalidField
from labelmesh.core.labels import message_from_json, message_to_json

M = TypeVar("M", bound=Message)
SCHEMA_PREFIX = "#/components/schemas/"
_F = FieldDescriptor

# Well-known types in their proto-JSON form.
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string"},
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array"},
    "google.protobuf.Empty": {"type": "object"},
}
_SCALARS: dict[int, dict[str, Any]] = {
    _F.TYPE_DOUBLE: {"type": "number"},
    _F.TYPE_FLOAT: {"type": "number"},
    _F.TYPE_INT32: {"type": "integer", "format": "int32"},
    _F.TYPE_SINT32: {"type": "integer", "format": "int32"},
    _F.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    _F.TYPE_UINT32: {"type": "integer", "minimum": 0},
    _F.TYPE_FIXED32: {"type": "integer", "minimum": 0},
    # Proto-JSON writes 64-bit integers as strings and reads either form.
    _F.TYPE_INT64: {"type": ["string", "integer"]},
    _F.TYPE_SINT64: {"type": ["string", "integer"]},
    _F.TYPE_SFIXED64: {"type": ["string", "integer"]},
    _F.TYPE_UINT64: {"type": ["string", "integer"]},
    _F.TYPE_FIXED64: {"type": ["string", "integer"]},
    _F.TYPE_BOOL: {"type": "boolean"},
    _F.TYPE_STRING: {"type": "string"},
    _F.TYPE_BYTES: {"type": "string", "format": "byte"},
}


def schema_ref(message: type[Message] | Descriptor) -> dict[str, str]:
    descriptor = message if isinstance(message, Descriptor) else message.DESCRIPTOR
    if descriptor.full_name in _WELL_KNOWN:
        return dict(_WELL_KNOWN[descriptor.full_name])
    return {"$ref": SCHEMA_PREFIX + descriptor.full_name}


def _enum_schema(enum: EnumDescriptor) -> dict[str, Any]:
    # Proto-JSON writes names; it also reads numbers.
    return {
        "oneOf": [{"type": "string", "enum": [v.name for v in enum.values]}, {"type": "integer"}]
    }


def _field_schema(field: FieldDescriptor) -> dict[str, Any]:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value = field.message_type.fields_by_name["value"]
        return {"type": "object", "additionalProperties": _value_schema(value)}
    single = _value_schema(field)
    if field.label == _F.LABEL_REPEATED:
        return {"type": "array", "items": single}
    return single


def _value_schema(field: FieldDescriptor) -> dict[str, Any]:
    if field.type == _F.TYPE_MESSAGE:
        return schema_ref(field.message_type)
    if field.type == _F.TYPE_ENUM:
        return _enum_schema(field.enum_type)
    return dict(_SCALARS[field.type])


def message_schema(descriptor: Descriptor) -> dict[str, Any]:
    """The JSON schema of a message's proto-JSON form (field names as in the proto)."""
    properties = {field.name: _field_schema(field) for field in descriptor.fields}
    schema: dict[str, Any] = {"type": "object", "title": descriptor.name, "properties": properties}
    return schema


def _referenced(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = set()
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMA_PREFIX):
            found.add(ref.removeprefix(SCHEMA_PREFIX))
        for value in node.values():
            found |= _referenced(value)
        return found
    if isinstance(node, list):
        return set().union(*(_referenced(v) for v in node)) if node else set()
    return set()


def add_proto_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """Fill `components.schemas` with every proto message the document refers to."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    pool = descriptor_pool.Default()
    todo = [name for name in _referenced(document) if name not in schemas]
    while todo:
        name = todo.pop()
        if name in schemas:
            continue
        try:
            descriptor = pool.FindMessageTypeByName(name)
        except KeyError:
            continue  # a pydantic model's schema, already there
        schemas[name] = message_schema(descriptor)
        todo.extend(n for n in _referenced(schemas[name]) if n not in schemas)
    return document


def install_proto_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` describe proto bodies with schemas from their descriptors."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_proto_schemas(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


class ProtoJSON(JSONResponse):
    """A response whose body is a message's proto-JSON."""

    def __init__(self, message: Message, status_code: int = 200) -> None:
        super().__init__(message_to_json(message), status_code=status_code)


def proto_io(
    request: type[Message] | None = None,
    response: type[Message] | None = None,
    status_code: int = 200,
) -> dict[str, Any]:
    """Route keyword arguments that document proto-JSON bodies in OpenAPI."""
    route: dict[str, Any] = {"status_code": status_code, "response_class": ProtoJSON}
    if response is not None:
        content = {"application/json": {"schema": schema_ref(response)}}
        route["responses"] = {
            status_code: {"description": response.DESCRIPTOR.name, "content": content}
        }
    if request is not None:
        content = {"application/json": {"schema": schema_ref(request)}}
        route["openapi_extra"] = {"requestBody": {"required": True, "content": content}}
    return route


def proto_body(message: type[M]) -> Callable[[Request], Coroutine[Any, Any, M]]:
    """A dependency that reads the request body as the proto-JSON of `message`."""

    async def parse(request: Request) -> M:
        try:
            raw = await request.json()
        except ValueError:
            raise InvalidField("body", "must be a JSON object") from None
        if not isinstance(raw, dict):
            raise InvalidField("body", "must be a JSON object")
        parsed: M = message_from_json(raw, message(), "body")
        return parsed

    return parse


# Set in the core schema's metadata: the JSON schema hook only sees that schema.
REPEATED = "labelmesh_proto_list"


@dataclass(frozen=True)
class ProtoField:
    """Pydantic metadata: the field is `message` (or a list of it) as proto-JSON."""

    message: type[Message]
    field: str

    def parse_one(self, raw: object, at: str | None = None) -> Message:
        where = at or self.field
        if isinstance(raw, self.message):
            return raw
        if not isinstance(raw, dict):
            raise InvalidField(where, "must be a JSON object")
        return message_from_json(raw, self.message(), where)

    def parse_list(self, raw: object) -> list[Message]:
        if not isinstance(raw, list):
            raise InvalidField(self.field, "must be a list")
        return [self.parse_one(item, f"{self.field}[{i}]") for i, item in enumerate(raw)]

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        # InvalidField is not a ValueError: pydantic lets it through to the
        # API's handler instead of turning it into a validation error.
        repeated = get_origin(source) is list
        return core_schema.no_info_plain_validator_function(
            self.parse_list if repeated else self.parse_one, metadata={REPEATED: repeated}
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        single: JsonSchemaValue = schema_ref(self.message)
        metadata = schema.get("metadata") or {}
        if metadata.get(REPEATED):
            return {"type": "array", "items": single}
        return single
