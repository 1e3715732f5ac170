"""The OpenAPI 3.1 document of /api/v1, built from the routes themselves (router/web/api.py).

Served at /api/v1/openapi.json; request body schemas come from the msgspec
classes the API decodes with, so the document cannot drift from the code.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from router import __version__
from router.web.api import PREFIX, ROUTES, Route

_PARAM = re.compile(r"{(\w+)}")

_PATH_PARAMS = {
    "number": "the 400/800 number, e.g. 4008001234",
    "phone_id": "a phone's id",
    "name": "the group's or schedule's name within the hotline",
    "rule_id": "a plan rule's id",
    "entry_id": "a caller list entry's id",
    "call_id": "a call's id (UUID)",
    "table": "hours, days, phones or total",
    "month": "YYYY-MM",
}

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object", "required": ["status", "message"],
        "properties": {"status": {"type": "integer"},
                       "message": {"type": "string",
                                   "description": "what is wrong, in one sentence"}}}},
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _operation(route: Route, body_refs: dict[Any, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": route.summary,
        "operationId": f"{route.method.lower()}_{route.path.strip('/').replace('/', '_')}"
                       .replace("{", "").replace("}", ""),
        "tags": [route.tag],
        "parameters": [
            {"name": name, "in": "path", "required": True, "description": _PATH_PARAMS[name],
             "schema": {"type": "string"}} for name in _PARAM.findall(route.path)
        ] + [{"name": p.name, "in": "query", "required": False, "description": p.description,
              "schema": dict(p.schema)} for p in route.query],
        "responses": {
            str(route.status): {
                "description": "done" if route.method != "GET" else "found",
                "content": {kind: {} for kind in route.produces}},
            "400": _error("a malformed request: bad JSON, a wrong type, an unknown field"),
            "401": _error("no token, or an unknown or revoked one"),
            "403": _error("this token may not do this"),
            "404": _error("not found, or not this token's"),
        },
    }
    if route.method != "GET":
        operation["responses"]["422"] = _error("refused by the configuration's rules")
    if route.operator_only:
        operation["description"] = "Operator tokens only."
    if route.body is not None:
        content: dict[str, Any] = {"schema": body_refs[route.body]}
        if route.example is not None:
            content["example"] = route.example
        operation["requestBody"] = {"required": True, "content": {"application/json": content}}
    return operation


def document() -> dict[str, Any]:
    """The whole document, as a JSON-ready dict."""
    bodies = list(dict.fromkeys(r.body for r in ROUTES if r.body is not None))
    refs, components = msgspec.json.schema_components(
        bodies, ref_template="#/components/schemas/{name}")
    for schema in components.values():
        if schema.get("required") == []:
            del schema["required"]
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(PREFIX + route.path, {})[route.method.lower()] = _operation(
            route, dict(zip(bodies, refs, strict=True)))
    paths[PREFIX + "/openapi.json"] = {"get": {
        "summary": "this document", "operationId": "get_openapi", "tags": ["access"],
        "security": [], "responses": {"200": {"description": "the OpenAPI document",
                                              "content": {"application/json": {}}}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "hotline-router API", "version": __version__,
                 "description": "Hotlines, phones, plans, schedules, the call log, live calls, "
                                "reports and statements of hotline-router. Send "
                                "'Authorization: Bearer <token>'; errors are JSON "
                                "{\"error\": {\"status\", \"message\"}}. See docs/web.md."},
        "servers": [{"url": "/"}],
        "security": [{"token": []}],
        "paths": paths,
        "components": {
            "schemas": {**components, "Error": _ERROR},
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer",
                                          "description": "hr_… (hotline-router token create)"}},
        },
    }
