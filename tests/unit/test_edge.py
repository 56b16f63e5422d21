"""The HTTP edge, pure: flags, the JSON reader, the schema subset, body framing, the exception table, dispatch."""

from __future__ import annotations

import email.message
import io
from typing import Any

import pytest

from poolkeeper.edge.answer import HttpAnswer, shorten
from poolkeeper.edge.errors import answer_for
from poolkeeper.edge.limits import MAX_BODY_BYTES, BodyError, nesting_depth, parse_json
from poolkeeper.edge.query import QueryError, parse_flags
from poolkeeper.edge.routes import ROUTES, EdgeRequest, dispatch
from poolkeeper.edge.schema import problems
from poolkeeper.edge.schemas import REMOVE_NATPOOL
from poolkeeper.edge.transport import read_body
from poolkeeper.gateway import ArmRefused
from poolkeeper.workflows.intents import BadRequest, parse_request


@pytest.mark.parametrize(("pairs", "expected"), [
    ([], False), ([("dryRun", "true")], True), ([("DRYRUN", "TRUE")], True), ([("dryrun", "1")], True),
    ([("dryRun", "False")], False), ([("dryRun", "0")], False), ([("code", "k"), ("dryRun", "1")], True),
])
def test_flags_parse_case_insensitively(pairs: list[tuple[str, str]], expected: bool) -> None:
    assert parse_flags(pairs, ("dryRun",)) == {"dryRun": expected}


@pytest.mark.parametrize("pairs", [[("dryRun", "yes")], [("dryRun", "")], [("dryRun", "on")], [("force", "1")],
                                   [("dryRun", "1"), ("DRYRUN", "1")], [("dry_run", "true")]])
def test_bad_flags_and_unknown_parameters_raise(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(QueryError):
        parse_flags(pairs, ("dryRun",))


def test_the_json_reader_refuses_what_would_hurt() -> None:
    assert parse_json(b'{"a": [1, {"b": "]"}]}') == {"a": [1, {"b": "]"}]}
    assert nesting_depth(b'["[[[[", {"x": "\\"[["}]') == 2
    for raw, status in [(b"", 400), (b"[" * 40 + b"]" * 40, 400), (b'{"a": 1, "a": 2}', 400), (b"NaN", 400),
                        (b'{"a": "\\ud800"}', 400), (b"\xff", 400), (b"1" * 5000, 400),
                        (b" " * (MAX_BODY_BYTES + 1), 413)]:
        with pytest.raises(BodyError) as err:
            parse_json(raw)
        assert err.value.status == status, raw[:40]


def test_the_schema_subset_names_every_field() -> None:
    body: dict[str, Any] = {"loadBalancer": "x" * 2000, "natPol": 1, "scaleSets": ["a"] * 51, "batchSize": 0}
    found = problems(body, REMOVE_NATPOOL)
    assert any("unknown field 'natPol'" in p for p in found)
    assert any("missing required field 'natPool'" in p for p in found)
    assert any("loadBalancer is 2000 characters long" in p for p in found)
    assert any("scaleSets lists 51 items" in p for p in found)
    assert any("batchSize must be between 1 and 1000" in p for p in found)
    assert problems({"loadBalancer": "/x", "natPool": "p", "allowRolling": 1}, REMOVE_NATPOOL) == [
        "allowRolling must be a boolean, got int 1"]


def test_the_workflow_schemas_accept_exactly_the_fields_parse_request_accepts() -> None:
    """The documented fields are the ones the workflows parse (no drift between document and parser)."""
    kinds = {"natpool_remove": "remove-natpool", "natpool_migrate": "migrate-natpool",
             "rule_change_probed_port": "change-probed-port"}
    for route in ROUTES:
        if route.name not in kinds:
            continue
        assert route.body is not None
        fields = set(route.body["properties"])
        try:
            parse_request(kinds[route.name], {f: None for f in fields})
        except BadRequest as err:
            assert "unknown field" not in str(err), (route.name, err)
        with pytest.raises(BadRequest, match="unknown field 'surplus'"):
            parse_request(kinds[route.name], {"surplus": 1})


def _headers(**values: str) -> email.message.Message:
    msg = email.message.Message()
    for k, v in values.items():
        msg[k.replace("_", "-")] = v
    return msg


def test_bodies_are_read_by_length_or_chunks() -> None:
    assert read_body(_headers(Content_Length="2"), io.BytesIO(b"{}rest"), 100) == b"{}"
    chunked = io.BytesIO(b"3;ext=1\r\n{\"a\r\n4\r\n\": 1\r\n1\r\n}\r\n0\r\nTrailer: x\r\n\r\n")
    assert read_body(_headers(Transfer_Encoding="chunked"), chunked, 100) == b'{"a": 1}'
    assert read_body(_headers(), io.BytesIO(b""), 100) == b""


@pytest.mark.parametrize(("headers", "data", "status"), [
    ({"Content_Length": "abc"}, b"{}", 400), ({"Content_Length": "-5"}, b"{}", 400),
    ({"Content_Length": "10"}, b"{}", 400), ({"Content_Length": "101"}, b"", 413),
    ({"Transfer_Encoding": "gzip"}, b"", 400), ({"Transfer_Encoding": "chunked", "Content_Length": "2"}, b"", 400),
    ({"Transfer_Encoding": "chunked"}, b"zz\r\n", 400), ({"Transfer_Encoding": "chunked"}, b"65\r\n" + b"x" * 101, 413),
    ({"Transfer_Encoding": "chunked"}, b"5\r\nab", 400),
])
def test_unreadable_bodies_are_refused(headers: dict[str, str], data: bytes, status: int) -> None:
    with pytest.raises(BodyError) as err:
        read_body(_headers(**headers), io.BytesIO(data), 100)
    assert err.value.status == status


def test_the_exception_table() -> None:
    refused = answer_for(ArmRefused("/x", 400, "SomeCode", "no"))
    assert refused.status == 409 and refused.body["code"] == "SomeCode"
    assert answer_for(BadRequest("bad")).status == 400
    assert answer_for(BodyError(413, "big")).status == 413
    unknown = answer_for(RuntimeError("bug"))
    assert unknown.status == 500 and "error id" in unknown.body["error"]


def test_echoes_are_short() -> None:
    assert len(shorten("x" * 1_000_000)) < 200
    huge = answer_for(BadRequest("y" * 1_000_000))
    assert len(huge.body["error"]) < 4100


class NoServices:
    def reconciler(self) -> Any:
        raise AssertionError("a refused request must not reach a handler")

    def workflows(self) -> Any:
        raise AssertionError("a refused request must not reach a handler")


def _route(name: str) -> Any:
    return next(r for r in ROUTES if r.name == name)


@pytest.mark.parametrize(("name", "url", "body", "route_params", "status"), [
    ("reconcile", "/api/reconcile", b"", {}, 400),
    ("reconcile", "/api/reconcile?dryrun=yes", b"{}", {}, 400),
    ("reconcile", "/api/reconcile", b'{"resourceId": "a", "binding": "b"}', {}, 400),
    ("reconcile", "/api/reconcile", b'{"binding": "no spaces allowed"}', {}, 400),
    ("natpool_remove", "/api/natpools/remove", b'{"loadBalancer": "/x", "natPool": "p", "scaleSets": ['
     + b",".join(b'"s%d"' % i for i in range(500)) + b"]}", {}, 400),
    ("operation_status", "/api/operations/..", b"", {"id": ".."}, 404),
    ("operation_status", "/api/operations/x", b"", {"id": "0123456789ab\n"}, 404),
    ("health", "/api/health?x=1", b"", {}, 400),
    ("health", "/api/health", b"{}", {}, 400),
])
def test_dispatch_refuses_before_any_handler(name: str, url: str, body: bytes, route_params: dict[str, str],
                                             status: int) -> None:
    route = _route(name)
    request = EdgeRequest.from_parts(route.method, f"http://h{url}", {}, route_params, body)
    answer = dispatch(route, request, NoServices())
    assert isinstance(answer, HttpAnswer) and answer.status == status, answer.body
    assert len(answer.json_bytes()) < 4500
