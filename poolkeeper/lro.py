"""Waiting for a long-running PUT at the pace ARM asks, without the requests the run does not need.

ARM answers a PUT that starts a long-running operation with an ``Azure-AsyncOperation`` status URL and a
``Retry-After``: "the number of seconds to wait before checking the status of the asynchronous operation"
(Microsoft Learn, "Track asynchronous Azure operations",
https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations). azure-core's ``ARMPolling``
polls once as soon as the PUT is answered, before waiting any hint, and, once the operation has succeeded, GETs the
resource for its final body: a 2-second NIC PUT cost three polls and a GET (issue 13 measured 3.0 polls per VM).

:class:`PutPolling` waits the hint before every poll, the first one included, and makes no final GET: poolkeeper
does not need the body a write produced unless the same run writes that resource again, and then
``executor.Bodies`` GETs it on demand (a body read mid-operation would carry an ETag that changes when the
operation ends). It is a public ``azure.core.polling.PollingMethod`` handed to the SDK's ``begin_create_or_update``
(``polling=``); the polls go through the client's pipeline, so they are authenticated, paced (``PacingPolicy``) and
logged like every other request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.core.polling import PollingMethod
from azure.core.rest import HttpRequest

from poolkeeper.pacing import retry_after_from_headers

TERMINAL = frozenset({"succeeded", "failed", "canceled"})
#: the wait before a poll when the server gives no hint (azure-mgmt's clients default to 30 s; ARM sends a hint with
#: every answer of a running operation, so this only bounds a server that does not)
DEFAULT_DELAY_S = 5.0


class PutPolling(PollingMethod):  # type: ignore[type-arg]
    """Poll a PUT's ``Azure-AsyncOperation`` (or ``Location``) URL, waiting ``Retry-After`` before each poll.

    ``resource()`` is the final body only when ARM answered the PUT with a finished resource (no operation to
    follow); after an operation it is None — the caller GETs the resource if it ever needs it. A failed or
    canceled operation raises ``HttpResponseError`` on the status answer (its ``error`` carries Azure's code and
    message, as azure-core's poller raises it); a poll answered with an error status raises it too, so the caller
    can tell a throttled poll (429) from a refusal.
    """

    def __init__(self, headers: dict[str, str] | None = None, *, sleep: Callable[[float], None] = time.sleep,
                 default_delay_s: float = DEFAULT_DELAY_S) -> None:
        self._headers = dict(headers or {})  # sent with every poll (the run's correlation id)
        self._sleep = sleep
        self._default_delay_s = default_delay_s
        self._client: Any = None
        self._callback: Callable[[Any], Any] | None = None
        self._status = "InProgress"
        self._url: str | None = None
        self._via_location = False
        self._hint: float | None = None
        self._final: Any = None  # the initial answer's resource, when it was already finished
        self.polls = 0

    # --- PollingMethod ---------------------------------------------------------------------------------------
    def initialize(self, client: Any, initial_response: Any, deserialization_callback: Callable[[Any], Any]) -> None:
        self._client = client
        self._callback = deserialization_callback
        self._status, self._final, self._via_location = "InProgress", None, False
        response = initial_response.http_response
        headers = response.headers  # case-insensitive
        self._hint = retry_after_from_headers(headers)
        self._url = headers.get("azure-asyncoperation")
        if self._url is None and response.status_code == 202:
            self._url = headers.get("location")
            self._via_location = self._url is not None
        if self._url is None:
            # no operation to follow: the answer is the resource (finished unless its provisioningState says not)
            state = _provisioning_state(_json(response)) or "Succeeded"
            if state.lower() in TERMINAL:
                self._status = state
                self._final = deserialization_callback(initial_response)
            else:  # no status URL although still running: follow the resource itself
                self._url = str(response.request.url)

    def run(self) -> None:
        while not self.finished():
            self._sleep(self._hint if self._hint is not None else self._default_delay_s)
            self._poll()

    def status(self) -> str:
        return self._status

    def finished(self) -> bool:
        return self._status.lower() in TERMINAL

    def resource(self) -> Any:
        return self._final

    # --- one poll ---------------------------------------------------------------------------------------------
    def _poll(self) -> None:
        assert self._url is not None
        self.polls += 1
        response = self._client.send_request(HttpRequest("GET", self._url, headers=self._headers))
        self._hint = retry_after_from_headers(response.headers)
        if response.status_code not in (200, 201, 202, 204):
            raise HttpResponseError(response=response)
        if self._via_location:
            self._status = "InProgress" if response.status_code == 202 else "Succeeded"
            return
        body = _json(response)
        status = str(body.get("status") or _provisioning_state(body) or "InProgress")
        self._status = status
        if status.lower() in ("failed", "canceled"):
            raise HttpResponseError(response=response)


def _json(response: Any) -> dict[str, Any]:
    try:
        body = json.loads(response.text() or "{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _provisioning_state(body: dict[str, Any]) -> str | None:
    state = (body.get("properties") or {}).get("provisioningState")
    return str(state) if state else None
