"""poolkeeper.pacing: the client-side mirror of ARM's token buckets and the time-bounded retry policy (no Azure,
an injected clock: nothing here sleeps for real)."""

from __future__ import annotations

import threading

import pytest

from poolkeeper.pacing import (
    ArmBudget,
    PacingTimeout,
    RetryBudget,
    kind_of,
    retry_after_from_headers,
)


class FakeClock:
    """A clock whose sleep advances time (thread-safe, so several threads can pace against it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


def budget(clock: FakeClock, **buckets: tuple[float, float]) -> ArmBudget:
    return ArmBudget(buckets={"reads": (250, 25), "writes": (200, 10), "deletes": (200, 10), **buckets},
                     clock=clock, sleep=clock.sleep)


def test_defaults_are_azures_buckets() -> None:
    clock = FakeClock()
    b = ArmBudget(clock=clock, sleep=clock.sleep)
    assert b.available("reads") == 250
    assert b.available("writes") == 200
    assert b.available("deletes") == 200


def test_burst_is_free_then_writes_are_paced_at_the_refill_rate() -> None:
    clock = FakeClock()
    b = budget(clock, writes=(5, 10))
    for _ in range(5):
        assert b.acquire("writes") == 0.0
    assert clock.sleeps == []
    waited = b.acquire("PUT")
    assert waited == pytest.approx(0.1)  # one token at 10 per second
    for _ in range(9):
        b.acquire("write")
    assert clock.now - 1000.0 == pytest.approx(1.0)  # 10 writes after the burst took one second


def test_kinds_have_separate_buckets() -> None:
    clock = FakeClock()
    b = budget(clock, writes=(1, 10), reads=(3, 25))
    b.acquire("PUT")
    assert b.try_acquire("GET") == 0.0
    assert b.try_acquire("POST") == pytest.approx(0.1)  # an action draws from writes, which is empty
    assert b.try_acquire("DELETE") == 0.0


def test_bucket_never_refills_above_its_burst() -> None:
    clock = FakeClock()
    b = budget(clock, reads=(3, 25))
    clock.now += 3600
    assert b.available("reads") == 3


def test_deadline_raises_instead_of_waiting_past_it() -> None:
    clock = FakeClock()
    b = budget(clock, writes=(1, 1))
    b.acquire("writes")
    with pytest.raises(PacingTimeout):
        b.acquire("writes", deadline=clock.now + 0.5)
    assert clock.sleeps == []
    assert b.acquire("writes", deadline=clock.now + 2) == pytest.approx(1.0)


def test_observed_headers_lower_the_local_count_and_never_raise_it() -> None:
    clock = FakeClock()
    b = budget(clock, writes=(200, 10))
    b.observe("PUT", {"x-ms-ratelimit-remaining-subscription-writes": "3"})
    assert b.available("writes") == 3
    b.observe("PUT", {"X-MS-RateLimit-Remaining-Subscription-Writes": "150"})
    assert b.available("writes") == 3
    for _ in range(3):
        assert b.try_acquire("writes") == 0.0
    assert b.try_acquire("writes") == pytest.approx(0.1)


@pytest.mark.parametrize(("headers", "available"), [
    pytest.param({"x-ms-ratelimit-remaining-subscription-reads": "240",
                  "x-ms-ratelimit-remaining-subscription-global-reads": "7"}, {"reads": 7},
                 id="global-remaining-bounds-the-bucket-when-lower"),
    pytest.param({"x-ms-ratelimit-remaining-subscription-reads": "lots",
                  "x-ms-ratelimit-remaining-subscription-writes": "0"}, {"reads": 250, "writes": 200},
                 id="malformed-or-other-kind-headers-are-ignored"),
])
def test_observed_read_headers_set_the_buckets(headers: dict[str, str], available: dict[str, int]) -> None:
    clock = FakeClock()
    b = budget(clock)
    b.observe("GET", headers)
    assert {kind: b.available(kind) for kind in available} == available


def test_hold_honours_retry_after_for_every_caller() -> None:
    clock = FakeClock()
    b = budget(clock)
    b.hold("writes", 4.0)
    assert b.try_acquire("writes") == pytest.approx(4.0)
    assert b.acquire("writes") == pytest.approx(4.0)
    assert b.try_acquire("reads") == 0.0  # reads are not held


def test_threads_share_the_budget_and_take_one_token_each() -> None:
    clock = FakeClock()
    b = budget(clock, writes=(20, 10))
    taken: list[float] = []

    def worker() -> None:
        for _ in range(10):
            taken.append(b.acquire("writes"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == 80
    # 20 free, then 60 at 10 per second: at least 6 s of (fake) time passed, and no token was taken twice
    assert clock.now - 1000.0 >= 6.0 - 1e-9
    assert b.available("writes") < 1.0


def test_invalid_bucket_is_refused() -> None:
    with pytest.raises(ValueError, match="writes"):
        ArmBudget(buckets={"writes": (0, 10)})


@pytest.mark.parametrize(
    ("given", "kind"),
    [("GET", "reads"), ("HEAD", "reads"), ("PUT", "writes"), ("PATCH", "writes"), ("POST", "writes"),
     ("DELETE", "deletes"), ("read", "reads"), ("action", "writes"), ("deletes", "deletes")],
)
def test_kind_of(given: str, kind: str) -> None:
    assert kind_of(given) == kind


# ------------------------------------------------------------------------------------------------ retry by time
def test_retry_after_ms_is_preferred_to_retry_after() -> None:
    assert retry_after_from_headers({"Retry-After": "3", "retry-after-ms": "250"}) == pytest.approx(0.25)
    assert retry_after_from_headers({"x-ms-retry-after-ms": "1500"}) == pytest.approx(1.5)
    assert retry_after_from_headers({"Retry-After": "7"}) == 7.0
    assert retry_after_from_headers({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
    assert retry_after_from_headers({}) is None


def test_retries_continue_while_the_deadline_allows_whatever_the_count() -> None:
    policy = RetryBudget(deadline=1000.0 + 60)
    decision = policy.decide(now=1000.0, attempt=25, retry_after=2.0)
    assert decision.retry and decision.wait == 2.0


def test_the_servers_hint_is_waited_exactly() -> None:
    policy = RetryBudget(deadline=100.0)
    decision = policy.decide_from_headers(now=0.0, attempt=1, headers={"Retry-After": "17"})
    assert decision.retry and decision.wait == 17.0


def test_no_retry_when_the_next_attempt_would_start_past_the_deadline() -> None:
    policy = RetryBudget(deadline=10.0)
    decision = policy.decide(now=5.0, attempt=1, retry_after=6.0)
    assert not decision.retry and decision.wait == 0.0
    assert "deadline" in decision.reason


def test_backoff_without_a_hint_doubles_and_is_capped() -> None:
    policy = RetryBudget(deadline=1e9, base_backoff=0.5, max_backoff=4.0)
    waits = [policy.decide(now=0.0, attempt=n, retry_after=None).wait for n in range(1, 7)]
    assert waits == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
