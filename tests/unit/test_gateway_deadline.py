"""The gateway's retries are bounded by time, not a count: a call ARM keeps throttling past the window raises
``ArmBusy`` (deferred by the reconciler), honouring each ``retry-after-ms``; a refusal is raised at once.
The call is a plain function standing in for an SDK operation (no SDK patched); clock and sleep are injected."""

from __future__ import annotations

from typing import Any

import pytest

from poolkeeper.gateway import ArmBusy, ArmGateway
from tests.unit.test_gateway_retry import error


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def gateway(clock: Clock, window: float) -> ArmGateway:
    return ArmGateway(None, max_wait=5.0, retry_window_s=window, sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]


def test_throttled_past_the_window_is_busy_not_refused() -> None:
    clock = Clock()
    gw = gateway(clock, window=10.0)

    def throttled(headers: dict[str, str]) -> Any:
        raise error(429, headers={"retry-after-ms": "3000"})

    with pytest.raises(ArmBusy) as caught:
        gw._call("write", "put NIC", "/nic", throttled)
    assert caught.value.status == 429
    assert clock.sleeps == [3.0, 3.0, 3.0]  # the server's hint each time; a 4th wait would end past 10 s
    assert gw.calls["write"] == 4


def test_a_retry_that_fits_the_window_succeeds() -> None:
    clock = Clock()
    gw = gateway(clock, window=60.0)
    answers: list[Any] = [error(409, "AnotherOperationInProgress"), error(503), "done"]

    def flaky(headers: dict[str, str]) -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert gw._call("write", "put NIC", "/nic", flaky) == "done"
    assert len(clock.sleeps) == 2 and gw.calls["write"] == 3


def test_a_refusal_is_not_retried() -> None:
    clock = Clock()
    gw = gateway(clock, window=60.0)

    def refused(headers: dict[str, str]) -> Any:
        raise error(400, "InvalidResourceReference")

    with pytest.raises(Exception) as caught:
        gw._call("write", "put NIC", "/nic", refused)
    assert not isinstance(caught.value, ArmBusy) and clock.sleeps == []
