"""The local Functions host: the same URLs, handshakes and key rules as the real host, on a tiny app of its own."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import azure.functions as func
import pytest
import requests

from poolkeeper_local.host import LocalHost

calls: list[str] = []
ticked = threading.Event()


def make_app() -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

    @app.route(route="items/{item_id}", methods=["GET"])
    def get_item(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(json.dumps({"id": req.route_params["item_id"]}), mimetype="application/json")

    @app.route(route="ping", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def ping(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("pong")

    @app.event_grid_trigger(arg_name="event")
    def on_event(event: func.EventGridEvent) -> None:
        calls.append(f"{event.event_type}:{event.subject}")

    @app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
    def yearly(timer: func.TimerRequest) -> None:
        ticked.set()

    return app


@pytest.fixture
def host() -> Iterator[LocalHost]:
    calls.clear()
    ticked.clear()
    h = LocalHost(make_app(), port=0, function_key="k").start()
    yield h
    h.stop()


def test_route_templates_keys_and_errors(host: LocalHost) -> None:
    base = host.base_url
    assert requests.get(f"{base}/api/items/42", timeout=10).status_code == 401
    ok = requests.get(f"{base}/api/items/42", headers={"x-functions-key": "k"}, timeout=10)
    assert ok.json() == {"id": "42"}
    assert requests.get(f"{base}/api/items/42?code=k", timeout=10).status_code == 200
    assert requests.get(f"{base}/api/ping", timeout=10).text == "pong"  # anonymous
    assert requests.post(f"{base}/api/ping", timeout=10).status_code == 405
    missing = requests.get(f"{base}/api/nope", timeout=10)
    assert missing.status_code == 404 and "error" in missing.json()


def test_event_grid_handshakes_and_delivery(host: LocalHost) -> None:
    url = host.eventgrid_url("on_event")
    validation = [{"id": "1", "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent", "subject": "",
                   "data": {"validationCode": "abc"}, "eventTime": "2026-01-01T00:00:00Z", "dataVersion": "1"}]
    resp = requests.post(url, json=validation, headers={"aeg-event-type": "SubscriptionValidation"}, timeout=10)
    assert resp.status_code == 200 and resp.json() == {"validationResponse": "abc"}
    options = requests.options(url, headers={"WebHook-Request-Origin": "eventgrid.azure.net"}, timeout=10)
    assert options.headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"
    event = {"id": "2", "eventType": "Microsoft.Resources.ResourceWriteSuccess", "subject": "/subscriptions/x",
             "data": {}, "eventTime": "2026-01-01T00:00:00Z", "dataVersion": "2"}
    assert requests.post(url, json=[event], headers={"aeg-event-type": "Notification"}, timeout=10).status_code == 200
    assert calls == ["Microsoft.Resources.ResourceWriteSuccess:/subscriptions/x"]
    no_key = url.replace("&code=k", "")
    assert requests.post(no_key, json=[event], timeout=10).status_code == 401
    assert requests.post(host.eventgrid_url("nope"), json=[event], timeout=10).status_code == 404


def test_timer_with_run_on_startup_fires(host: LocalHost) -> None:
    assert ticked.wait(10), "a run_on_startup timer should run once at start"


def test_refuses_public_bind_without_key() -> None:
    with pytest.raises(ValueError, match="function key"):
        LocalHost(make_app(), host="0.0.0.0", port=0)


def test_hostile_keys_and_methods_get_json_4xx(host: LocalHost) -> None:
    """Found by the fuzz suite: a non-ASCII key was a 500 (hmac.compare_digest refuses non-ASCII str), and TRACE
    an HTML 501 from http.server."""
    base = host.base_url
    assert requests.get(f"{base}/api/items/42?code=%C3%A9", timeout=10).status_code == 401
    assert requests.get(f"{base}/api/items/42?code=%80", timeout=10).status_code == 401
    trace = requests.request("TRACE", f"{base}/api/items/42", headers={"x-functions-key": "k"}, timeout=10)
    assert trace.status_code == 405 and trace.headers["Allow"] == "GET" and "error" in trace.json()
    assert requests.request("BREW", f"{base}/nowhere", timeout=10).status_code == 404
