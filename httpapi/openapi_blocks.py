"""Building blocks of an OpenAPI 3.1 document: small functions that return its JSON pieces, so that
httpapi/openapi.py reads as the list of what the HTTP side answers rather than as nested dicts."""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

INT = {"type": "integer"}
NUMBER = {"type": "number"}
BOOL = {"type": "boolean"}


def ref(kind: str, name: str) -> Json:
    return {"$ref": f"#/components/{kind}/{name}"}


def schema(name: str) -> Json:
    return ref("schemas", name)


def json_body(body: Json, example: Json | None = None) -> Json:
    return {"application/json": {"schema": body, **({"example": example} if example is not None else {})}}


def obj(required: dict[str, Json], optional: dict[str, Json] | None = None, **extra: Any) -> Json:
    """A JSON object with these required and optional properties."""
    out: Json = {"type": "object", "properties": {**required, **(optional or {})}}
    if required:
        out["required"] = list(required)
    return {**out, **extra}


def string(min_len: int | None = None, max_len: int | None = None, **extra: Any) -> Json:
    out: Json = {"type": "string", **extra}
    if min_len is not None:
        out["minLength"] = min_len
    if max_len is not None:
        out["maxLength"] = max_len
    return out


def nullable(base: Json) -> Json:
    """`base` or null: an optional field that may also be sent as null (the server reads null as absent)."""
    return {**base, "type": [base["type"], "null"]}


def between(low: float, high: float) -> Json:
    """A number in low..high (the admin API's query parameters take any number in their range)."""
    return {"type": "number", "minimum": low, "maximum": high}


def ok(description: str, body: Json | None = None, headers: Json | None = None,
       media_type: str = "application/json", links: Json | None = None) -> Json:
    """A success response; `links`: the operations its answer feeds (what a client does next with it)."""
    out: Json = {"description": description}
    if body is not None:
        out["content"] = {media_type: {"schema": body}}
    if headers:
        out["headers"] = headers
    if links:
        out["links"] = links
    return out


def link(operation_id: str, description: str, *, parameters: dict[str, str] | None = None,
         body: dict[str, str] | None = None) -> Json:
    """An OpenAPI link: `operation_id` called with values of this answer (`$response.body#/field`)."""
    out: Json = {"operationId": operation_id, "description": description}
    if parameters:
        out["parameters"] = parameters
    if body:
        out["requestBody"] = body
    return out


def field(name: str) -> str:
    return f"$response.body#/{name}"


def operation(summary: str, tag: str, responses: Json, *, description: str = "", bearer: bool = False,
              security: list[Json] | None = None, parameters: list[Json] | None = None, body: Json | None = None,
              **extra: Any) -> Json:
    """`bearer`: the access token is required; `security`: other credentials (`{}` among them: optional)."""
    op: Json = {"tags": [tag], "summary": summary}
    if description:
        op["description"] = description
    if bearer or security:
        op["security"] = security or [{"bearer": []}]
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = {"required": True, "content": body}
    return {**op, **extra, "responses": responses}


def query(name: str, description: str, param: Json, required: bool = False) -> Json:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": param}


def path_param(name: str, description: str, param: Json) -> Json:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": param}


def header(name: str, description: str, param: Json, required: bool = False) -> Json:
    return {"name": name, "in": "header", "required": required, "description": description, "schema": param}
