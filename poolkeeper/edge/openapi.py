"""The OpenAPI 3.1 document of every HTTP route, generated from :data:`poolkeeper.edge.routes.ROUTES`.

Served anonymously at ``GET /api/openapi.json``. The schemas are the ones :func:`poolkeeper.edge.routes.dispatch`
enforces, so the document cannot drift from what is served. Function keys: Azure Functions accepts the key in the
``x-functions-key`` header or the ``code`` query parameter
(https://learn.microsoft.com/azure/azure-functions/function-keys-how-to#use-access-keys).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from poolkeeper.edge import schemas as s
from poolkeeper.edge.limits import MAX_BODY_BYTES

COMMON_ANSWERS = {
    400: "bad input: the message names the field, parameter or rule, and what to send",
    401: "missing or wrong function key",
    413: f"the body is over {MAX_BODY_BYTES} bytes",
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
SECURITY: list[dict[str, list[str]]] = [{"functionKeyHeader": []}, {"functionKeyQuery": []}]


def _operation(route: Any) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": route.name, "summary": route.summary}
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": spec} for name, spec in route.path_params.items()
    ]
    params += [{"name": flag, "in": "query", "required": False,
                "description": "true/false/1/0 (name and value case-insensitive); anything else is a 400",
                "schema": {"type": "string", "enum": ["true", "false", "1", "0"],
                           "default": "true" if route.flag_defaults.get(flag) else "false"}} for flag in route.flags]
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {"required": True, "description": route.description,
                             "content": {"application/json": {"schema": route.body}}}
    answers: dict[str, Any] = {}
    for status, (text, schema) in sorted(route.responses.items()):
        kind = route.content_type if 200 <= status < 300 else "application/json"
        answers[str(status)] = {"description": text, "content": {kind: {"schema": schema}}}
    for status, text in COMMON_ANSWERS.items():
        if status == 401 and route.auth == "anonymous":
            continue
        if status == 413 and route.body is None:
            continue
        answers.setdefault(str(status), {"description": text, "content": {"application/json": {"schema": ERROR_REF}}})
    op["responses"] = answers
    op["security"] = [] if route.auth == "anonymous" else SECURITY
    return op


@cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (computed once; the route table is constant)."""
    from poolkeeper.edge.routes import ROUTES

    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        path = re.sub(r"\{([^}:?]+)[^}]*\}", r"{\1}", route.path)
        paths.setdefault(path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "poolkeeper", "version": "1",
                 "description": "Keeps Azure Load Balancer wiring in step with VMs and scale sets; NAT-pool "
                                "workflows. Every error answers {\"error\": \"...\"} naming what to send instead."},
        "paths": paths,
        "components": {
            "schemas": {"Error": s.ERROR},
            "securitySchemes": {
                "functionKeyHeader": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code"},
            },
        },
    }
