"""The OpenAPI document is served anonymously, is the generated one, covers every route of the Functions app, and
the key is enforced on every non-anonymous route."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator

from poolkeeper.edge.openapi import document
from poolkeeper.edge.routes import ROUTES
from tests.fuzz.conftest import Target


def test_the_document_is_served_anonymously_and_is_the_generated_one(target: Target) -> None:
    status, body = target.send("GET", "/api/openapi.json")
    assert status == 200
    served = json.loads(body)
    assert served == json.loads(json.dumps(document()))
    assert served["openapi"].startswith("3.1")


def test_every_route_is_documented_with_its_security_and_schemas() -> None:
    doc = document()
    for route in ROUTES:
        op = doc["paths"][route.path][route.method.lower()]
        assert op["operationId"] == route.name
        assert (op["security"] == []) == (route.auth == "anonymous")
        if route.body is not None:
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            Draft202012Validator.check_schema(schema)
            assert schema is route.body
        assert "400" in op["responses"] and all(  # JSON, except a page route's 2xx (GET /api/report/latest.html)
            "schema" in answer["content"][route.content_type if status.startswith("2") else "application/json"]
            for status, answer in op["responses"].items())
    schemes = doc["components"]["securitySchemes"]
    assert {s["name"] for s in schemes.values()} == {"x-functions-key", "code"}


def test_the_functions_app_registers_exactly_the_route_table() -> None:
    import function_app
    from poolkeeper_local.host import indexed_functions

    http = {}
    for fn in indexed_functions(function_app.app):
        spec = fn.get_trigger().get_dict_repr()
        if spec["type"] == "httpTrigger":
            methods = [str(getattr(m, "value", m)) for m in spec["methods"]]
            http[fn.get_function_name()] = (methods, spec["route"], str(getattr(spec["authLevel"], "value",
                                                                                    spec["authLevel"])).lower())
    assert http == {r.name: ([r.method], r.route, r.auth) for r in ROUTES}


def test_the_key_is_enforced_on_every_non_anonymous_route(target: Target) -> None:
    for route in ROUTES:
        path = route.path.replace("{id}", "0123456789ab")
        body = b"{}" if route.body is not None else None
        for headers in ({}, {"x-functions-key": "wrong"}):
            status, answer = target.send(route.method, path, body=body, headers=headers)
            expected = 200 if route.auth == "anonymous" else 401
            assert status == expected, (route.name, headers, answer[:200])
