"""The gateway's retry decisions: what is transient, and how long the server asked us to wait."""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import HttpResponseError, ServiceResponseError

from poolkeeper.gateway import is_transient, retry_after_seconds


class FakeResponse:
    def __init__(self, status: int, headers: dict[str, str] | None = None, body: dict[str, Any] | None = None) -> None:
        self.status_code = status
        self.headers = headers or {}
        self.reason = "x"
        self._body = body or {}

    def text(self, encoding: str | None = None) -> str:
        import json

        return json.dumps(self._body)


def error(status: int, code: str = "", headers: dict[str, str] | None = None) -> HttpResponseError:
    err = HttpResponseError(response=FakeResponse(status, headers, {"error": {"code": code, "message": "m"}}))
    err.status_code = status

    class E:
        pass

    e = E()
    e.code = code  # type: ignore[attr-defined]
    err.error = e  # type: ignore[assignment]
    return err


def test_transient_statuses() -> None:
    assert is_transient(error(429))
    assert is_transient(error(503))
    assert is_transient(error(409, "AnotherOperationInProgress"))
    assert not is_transient(error(409, "InvalidResourceReference"))
    assert not is_transient(error(400, "RulesUseSameBackendPortProtocolAndPool"))
    assert not is_transient(error(412, "PreconditionFailed"))
    assert is_transient(ServiceResponseError("connection dropped"))


def test_retry_after_prefers_milliseconds() -> None:
    assert retry_after_seconds(error(429, headers={"retry-after-ms": "250", "retry-after": "3"})) == 0.25
    assert retry_after_seconds(error(429, headers={"retry-after": "3"})) == 3.0
    assert retry_after_seconds(error(500)) is None
