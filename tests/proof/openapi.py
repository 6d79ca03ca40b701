"""The API's operations as the OpenAPI schema describes them, and plausible request bodies built from
the request schemas: a new endpoint enters the proof the day it is added to the schema."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from drf_spectacular.generators import SchemaGenerator

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # /api/v1/loans/{id}/repayments/
    operation_id: str
    request_schema: dict[str, Any] | None  # JSON request body schema, resolved
    response_schemas: dict[str, dict[str, Any]]  # status -> JSON schema, resolved
    query: tuple[str, ...]  # query parameter names

    @property
    def resource(self) -> str | None:
        """The path segment naming the object behind {id} (loans, applications, ...)."""
        match = re.search(r"/api/v1/([a-z-]+)/\{id\}/", self.path)
        return match.group(1) if match else None

    def url(self, object_id: int | None = None) -> str:
        return self.path.replace("{id}", str(object_id)) if object_id is not None else self.path


def _resolve(node: Any, components: dict[str, Any], depth: int = 0) -> Any:
    if depth > 20:
        return {}
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            return _resolve(components.get(name, {}), components, depth + 1)
        return {k: _resolve(v, components, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, components, depth + 1) for v in node]
    return node


def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)  # type: ignore[no-any-return]


def operations() -> list[Operation]:
    spec = schema()
    components = spec.get("components", {}).get("schemas", {})
    ops: list[Operation] = []
    for path, item in spec["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if not op:
                continue
            content = (op.get("requestBody") or {}).get("content", {})
            body = content.get("application/json") or content.get("multipart/form-data")
            responses = {
                status: _resolve(
                    r.get("content", {}).get("application/json", {}).get("schema", {}), components
                )
                for status, r in op.get("responses", {}).items()
            }
            ops.append(
                Operation(
                    method=method,
                    path=path,
                    operation_id=op["operationId"],
                    request_schema=_resolve(body["schema"], components) if body else None,
                    response_schemas=responses,
                    query=tuple(p["name"] for p in op.get("parameters", []) if p.get("in") == "query"),
                )
            )
    return ops


def sample(node: dict[str, Any], name: str = "", ids: dict[str, int] | None = None) -> Any:
    """A plausible value for a JSON schema: dates in the programme's window, money in fen, ids of
    the caller's own objects where the field names one."""
    ids = ids or {}
    kind = node.get("type")
    if node.get("enum"):
        return next((v for v in node["enum"] if v not in (None, "")), node["enum"][0])
    if "oneOf" in node or "allOf" in node or "anyOf" in node:
        first = (node.get("oneOf") or node.get("allOf") or node.get("anyOf"))[0]
        return sample(first, name, ids)
    if kind == "object" or "properties" in node:
        return {k: sample(v, k, ids) for k, v in node.get("properties", {}).items()}
    if kind == "array":
        items = node.get("items", {})
        if name in {"patent_ids", "patents"} and not items.get("properties"):
            return [ids.get("patents", 1)]
        return [sample(items, name, ids)]
    if kind == "integer":
        plural = {"program": "programs", "loan": "loans", "patent": "patents"}.get(name)
        return ids.get(plural, 1) if plural else max(int(node.get("minimum", 1) or 1), 1)
    if kind == "number":
        return 1
    if kind == "boolean":
        return True
    fmt = node.get("format")
    if fmt == "date":
        return "2025-06-01"
    if fmt == "date-time":
        return "2025-06-01T10:00:00+08:00"
    if fmt == "binary":
        return "loan,amount,value_date,transaction_id\n"
    if fmt == "decimal" or re.search(r"amount|rate|revenue|assets|price|premium", name):
        return "0.02" if "rate" in name else "1000.00"
    if name == "period":
        return "2025Q1"
    return "x"
