"""Issue 9's HTTP defects, each reproduced against ``poolkeeper serve`` on armsim's tutorial estate.

Raw ``http.client`` is used where ``requests`` would tidy the request up (dot segments in the path, chunked bodies,
bad Content-Length headers), so the host sees exactly what a hostile client sends.
"""

from __future__ import annotations

import http.client
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import RG, Poolkeeper

pytestmark = pytest.mark.slow

KEY = "fuzz-function-key"


def raw(pk: Poolkeeper, method: str, path: str, *, body: bytes | None = None,
        headers: dict[str, str] | None = None, chunked: bool = False) -> tuple[int, bytes]:
    """One request exactly as given (no normalisation); answers (status, body)."""
    conn = http.client.HTTPConnection(pk.host.host, pk.host.port, timeout=120)
    try:
        if chunked:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in {**(headers or {}), "Transfer-Encoding": "chunked"}.items():
                conn.putheader(k, v)
            conn.endheaders()
            data = body or b""
            for i in range(0, len(data), 7):  # several chunks
                part = data[i:i + 7]
                conn.send(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            conn.send(b"0\r\n\r\n")
        elif body is not None and len(body) > 64 * 1024:  # announce it, send a little: the host must answer first
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in {**(headers or {}), "Content-Length": str(len(body))}.items():
                conn.putheader(k, v)
            conn.endheaders(body[:1024])
        elif headers and "Content-Length" in headers:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.endheaders()
            if body:
                conn.send(body)
        else:
            conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def out_of_scope_vm(pk: Poolkeeper) -> str:
    return (f"/subscriptions/{pk.sim.subscription_id}/resourceGroups/elsewhere/providers/Microsoft.Compute/"
            "virtualMachines/x")


def test_operation_ids_cannot_escape_the_operation_store(poolkeeper_factory: Callable[..., Poolkeeper],
                                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 9.3: ``GET /api/operations/..`` served the operation.json one level above the store."""
    from handlers import workflows as wf_handlers

    (tmp_path / "operation.json").write_text(json.dumps({"secret": "outside the store"}))
    (tmp_path / "operations").mkdir()
    monkeypatch.setenv("POOLKEEPER_OPERATIONS_DIR", str(tmp_path / "operations"))
    wf_handlers.reset()
    pk = poolkeeper_factory(function_key=KEY)
    for path in ("/api/operations/..", "/api/operations/%2e%2e", "/api/operations/.", "/api/operations/..%2f..",
                 "/api/operations/ABCDEF012345"):
        status, body = raw(pk, "GET", path, headers={"x-functions-key": KEY})
        assert status in (400, 404), (path, status, body)
        assert b"secret" not in body
    wf_handlers.reset()


def test_a_chunked_body_is_read_not_taken_for_everything(poolkeeper_factory: Callable[..., Poolkeeper]) -> None:
    """Issue 9.4: a chunked POST with an out-of-scope resourceId ran a full real reconcile."""
    pk = poolkeeper_factory()
    body = json.dumps({"resourceId": out_of_scope_vm(pk)}).encode()
    status, answer = raw(pk, "POST", "/api/reconcile", body=body, chunked=True,
                         headers={"Content-Type": "application/json"})
    assert status == 403, answer
    assert "outside poolkeeper's scopes" in json.loads(answer)["error"]
    assert pk.writes() == []


def test_an_empty_body_is_not_everything(poolkeeper_factory: Callable[..., Poolkeeper]) -> None:
    """Issue 9.4: an empty body must not mean "reconcile everything"; ``{}`` says so explicitly."""
    pk = poolkeeper_factory()
    status, answer = raw(pk, "POST", "/api/reconcile", body=b"")
    assert status == 400, answer
    assert "{}" in json.loads(answer)["error"]
    assert pk.writes() == []


@pytest.mark.parametrize("query", ["dryrun=true", "DRYRUN=TRUE", "dryRun=True", "dryRun=1"])
def test_dry_run_flag_names_and_values_are_case_insensitive(poolkeeper_factory: Callable[..., Poolkeeper],
                                                            query: str) -> None:
    """Issue 9.5: ``?dryrun=true`` ran a real apply."""
    pk = poolkeeper_factory()
    status, answer = raw(pk, "POST", f"/api/reconcile?{query}", body=b"{}")
    assert status == 200, answer
    assert pk.writes() == []


@pytest.mark.parametrize("query", ["dryRun=yes", "dryRun=", "dryRun=on", "dryRun=true&dryRun=false", "dryRun",
                                   "dryRunn=true", "force=1"])
def test_bad_flags_and_unknown_parameters_are_refused(poolkeeper_factory: Callable[..., Poolkeeper],
                                                      query: str) -> None:
    pk = poolkeeper_factory()
    status, answer = raw(pk, "POST", f"/api/reconcile?{query}", body=b"{}")
    assert status == 400, answer
    assert json.loads(answer)["error"]
    assert pk.writes() == []


def test_the_function_key_parameter_stays_allowed(poolkeeper_factory: Callable[..., Poolkeeper]) -> None:
    pk = poolkeeper_factory(function_key=KEY)
    status, answer = raw(pk, "POST", f"/api/reconcile?code={KEY}&dryRun=true", body=b"{}")
    assert status == 200, answer


@pytest.mark.parametrize("length", ["abc", "-5", "1e3", " "])
def test_a_bad_content_length_is_a_400(poolkeeper_factory: Callable[..., Poolkeeper], length: str) -> None:
    """Issue 9.6: a non-numeric or negative Content-Length answered 500 with a traceback."""
    pk = poolkeeper_factory()
    status, answer = raw(pk, "POST", "/api/reconcile", body=b"{}", headers={"Content-Length": length})
    assert status == 400, answer
    assert b"Traceback" not in answer
    assert pk.writes() == []


def test_deeply_nested_json_is_a_400(poolkeeper_factory: Callable[..., Poolkeeper]) -> None:
    """Issue 9.6: deeply nested JSON raised RecursionError (500)."""
    pk = poolkeeper_factory()
    deep = b"[" * 5000 + b"]" * 5000
    status, answer = raw(pk, "POST", "/api/reconcile", body=deep, headers={"Content-Type": "application/json"})
    assert status == 400, answer
    assert "nest" in json.loads(answer)["error"]
    status, answer = raw(pk, "POST", "/api/natpools/remove", body=deep)
    assert status == 400, answer
    url = pk.host.eventgrid_url("on_resource_event").replace(pk.url, "")
    status, answer = raw(pk, "POST", url, body=deep, headers={"aeg-event-type": "Notification"})
    assert status == 400, answer


@pytest.mark.parametrize("data", ["not an object", 42, ["x"], None])
def test_a_validation_event_whose_data_is_not_an_object_is_a_400(poolkeeper_factory: Callable[..., Poolkeeper],
                                                                 data: Any) -> None:
    """Issue 9.6: ``data`` not an object in a SubscriptionValidation event answered 500."""
    pk = poolkeeper_factory()
    event = [{"id": "1", "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent", "subject": "",
              "data": data, "eventTime": "2026-01-01T00:00:00Z", "dataVersion": "1"}]
    resp = requests.post(pk.host.eventgrid_url("on_resource_event"), json=event,
                         headers={"aeg-event-type": "SubscriptionValidation"}, timeout=30)
    assert resp.status_code == 400, resp.text
    assert "validationCode" in resp.json()["error"]


def test_huge_inputs_are_refused_not_echoed(poolkeeper_factory: Callable[..., Poolkeeper]) -> None:
    """Issue 9.7: an 8 MB resourceId or 50,000 unknown keys were echoed back in 5-8 MB answers."""
    pk = poolkeeper_factory()
    huge = json.dumps({"resourceId": "/subscriptions/" + "x" * 8_000_000}).encode()
    status, answer = raw(pk, "POST", "/api/reconcile", body=huge)
    assert status == 413 and len(answer) < 2000, (status, answer[:200])
    many = json.dumps({f"k{i}": 1 for i in range(50_000)}).encode()
    status, answer = raw(pk, "POST", "/api/reconcile", body=many)
    assert status == 413 and len(answer) < 2000, (status, answer[:200])
    long_id = json.dumps({"resourceId": "/x" * 20_000}).encode()  # under the body cap, over the length of any id
    status, answer = raw(pk, "POST", "/api/reconcile", body=long_id)
    assert status == 400 and len(answer) < 4000, (status, answer[:200])
    assert pk.writes() == []


def test_a_workflow_listing_500_scale_sets_is_refused_before_any_arm_read(
        poolkeeper_factory: Callable[..., Poolkeeper]) -> None:
    """Issue 9.7: a request listing 500 scale sets cost 502 ARM reads."""
    pk = poolkeeper_factory()
    lb = f"/subscriptions/{pk.sim.subscription_id}/resourceGroups/{RG}/providers/Microsoft.Network/loadBalancers/" \
         "myLoadBalancer"
    body = {"loadBalancer": lb, "natPool": "MyNatPool", "scaleSets": [f"vmss{i}" for i in range(500)]}
    pk.sim.reset_log()
    resp = requests.post(f"{pk.url}/api/natpools/remove", params={"dryRun": "true"}, json=body, timeout=60)
    assert resp.status_code == 400, resp.text
    assert "scaleSets" in resp.json()["error"]
    assert pk.sim.requests_log() == []


def test_a_precondition_refusal_is_a_warning_not_an_error(poolkeeper_factory: Callable[..., Poolkeeper],
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """Issue 9.12: a 409 precondition refusal was logged at ERROR with a traceback."""
    pk = poolkeeper_factory()
    lb = f"/subscriptions/{pk.sim.subscription_id}/resourceGroups/{RG}/providers/Microsoft.Network/loadBalancers/" \
         "myLoadBalancer"
    body = {"loadBalancer": lb, "rule": "NoSuchRule", "newBackendPort": 81}
    root = logging.getLogger("poolkeeper")
    root.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="poolkeeper"):
            resp = requests.post(f"{pk.url}/api/rules/change-probed-port", json=body, timeout=60)
    finally:
        root.removeHandler(caplog.handler)
    assert resp.status_code == 409, resp.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert not [r for r in caplog.records if r.exc_info], "a refusal is an answer, not a failure: no traceback"
    refusals = [r for r in caplog.records if r.levelno == logging.WARNING and "NoSuchRule" in r.getMessage()
                + str(getattr(r, "reason", ""))]
    assert refusals, caplog.text
    assert pk.writes() == []
