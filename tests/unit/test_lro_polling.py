"""A long-running PUT is polled at the pace ARM asks: the server's Retry-After before every poll (the first one
included, where azure-core's ARMPolling polls at once), and no GET of the resource once it has succeeded (issue 13:
a NIC write cost three polls and a GET). Pure: the SDK's pipeline is replaced by a recording client."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.utils import CaseInsensitiveDict

from poolkeeper.lro import PutPolling

NIC = "https://arm.example/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/n1"
STATUS = "https://arm.example/subscriptions/s/providers/Microsoft.Network/locations/westus/operations/op1"


@dataclass
class Request:
    url: str


@dataclass
class Response:
    status_code: int
    body: dict[str, Any] | None
    headers: CaseInsensitiveDict = field(default_factory=CaseInsensitiveDict)
    request: Request = field(default_factory=lambda: Request(NIC))
    reason: str = "OK"

    def text(self) -> str:
        return json.dumps(self.body) if self.body is not None else ""


@dataclass
class Initial:
    http_response: Response


class Client:
    """Answers each poll with the next scripted response and records what happened, in order."""

    def __init__(self, events: list[tuple[str, Any]], answers: list[Response]) -> None:
        self.events, self.answers = events, answers

    def send_request(self, request: Any) -> Response:
        self.events.append((request.method, request.url))
        assert request.headers.get("x-ms-correlation-request-id") == "cid"  # polls carry the run's correlation id
        return self.answers.pop(0)


def hinted(status: int, body: dict[str, Any] | None, seconds: str | None = "1") -> Response:
    headers = CaseInsensitiveDict({"Retry-After": seconds} if seconds else {})
    return Response(status, body, headers)


def run(initial: Response, answers: list[Response]) -> tuple[PutPolling, list[tuple[str, Any]]]:
    events: list[tuple[str, Any]] = []
    polling = PutPolling({"x-ms-correlation-request-id": "cid"}, sleep=lambda s: events.append(("sleep", s)))
    polling.initialize(Client(events, answers), Initial(initial), lambda r: {"deserialized": r.http_response.body})
    polling.run()
    return polling, events


def test_waits_the_hint_before_the_first_poll_and_makes_no_final_get() -> None:
    initial = hinted(201, {"properties": {"provisioningState": "Updating"}})
    initial.headers["Azure-AsyncOperation"] = STATUS
    polling, events = run(initial, [hinted(200, {"status": "InProgress"}), hinted(200, {"status": "Succeeded"}, None)])
    assert events == [("sleep", 1.0), ("GET", STATUS), ("sleep", 1.0), ("GET", STATUS)]
    assert polling.status() == "Succeeded" and polling.polls == 2
    assert polling.resource() is None  # no GET of the NIC: the caller reads it again only if it writes it again


def test_a_put_answered_finished_needs_no_poll_and_returns_the_body() -> None:
    polling, events = run(hinted(200, {"etag": 'W/"2"', "properties": {"provisioningState": "Succeeded"}}), [])
    assert events == [] and polling.finished()
    assert polling.resource() == {"deserialized": {"etag": 'W/"2"', "properties": {"provisioningState": "Succeeded"}}}


def test_a_failed_operation_raises_with_azures_error() -> None:
    initial = hinted(201, {"properties": {"provisioningState": "Updating"}})
    initial.headers["Azure-AsyncOperation"] = STATUS
    failed = {"status": "Failed", "error": {"code": "InvalidResourceReference", "message": "no such pool"}}
    with pytest.raises(HttpResponseError) as err:
        run(initial, [hinted(200, failed, None)])
    assert err.value.error is not None and err.value.error.code == "InvalidResourceReference"


def test_a_throttled_poll_is_raised_for_the_gateway_to_settle() -> None:
    initial = hinted(201, {"properties": {"provisioningState": "Updating"}})
    initial.headers["Azure-AsyncOperation"] = STATUS
    with pytest.raises(HttpResponseError) as err:
        run(initial, [hinted(429, {"error": {"code": "TooManyRequests", "message": "slow down"}}, "3")])
    assert err.value.status_code == 429


def test_a_location_only_operation_is_done_when_the_location_stops_answering_202() -> None:
    initial = hinted(202, None, "2")
    initial.headers["Location"] = STATUS
    polling, events = run(initial, [hinted(202, None, "2"), hinted(204, None, None)])
    assert events == [("sleep", 2.0), ("GET", STATUS), ("sleep", 2.0), ("GET", STATUS)]
    assert polling.status() == "Succeeded"
