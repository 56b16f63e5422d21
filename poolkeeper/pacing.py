"""Pacing ARM requests: a client-side mirror of ARM's throttle, and retries bounded by time rather than a count.

Why: ARM throttles each (subscription, principal, kind) with a token bucket; a burst that ignores it gets 429s, and a
retry policy that counts attempts then gives up on changes ARM would have accepted a few seconds later. Waiting for a
token before sending turns throttling into pacing.

ARM's buckets (Microsoft Learn, "Understand how Azure Resource Manager throttles requests",
https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling, "Regional
throttling and token bucket algorithm"): per subscription, per principal and per kind of operation, reads 250 tokens
refilled at 25/s, writes 200 at 10/s, deletes 200 at 10/s; a global subscription limit, 15 times a principal's, is
shared by every principal. ARM reports what is left in ``x-ms-ratelimit-remaining-subscription-reads``/``-writes``/
``-deletes`` and, for the global limit, ``x-ms-ratelimit-remaining-subscription-global-reads``/``-writes``/
``-deletes``. POST actions are counted as writes here, as armsim does (UNCONFIRMED: the page names reads, writes and
deletes but does not say which bucket a POST draws from; the issue notes ARM counts it against writes).

Nothing here sends a request: ``ArmBudget.acquire`` is called before one, ``ArmBudget.observe`` after it with the
response headers; ``RetryBudget`` decides, from the deadline and the server's hint, whether and how long to wait.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

KINDS = ("reads", "writes", "deletes")
_EPSILON = 1e-9  # refill arithmetic in floats: a token short by less than this is a whole token

# (burst, refill per second), Microsoft Learn (above)
AZURE_BUCKETS: dict[str, tuple[float, float]] = {"reads": (250.0, 25.0), "writes": (200.0, 10.0),
                                                 "deletes": (200.0, 10.0)}

_KIND_OF_METHOD = {"GET": "reads", "HEAD": "reads", "DELETE": "deletes"}


def kind_of(method_or_kind: str) -> str:
    """The bucket a request draws from: an HTTP method (``GET``, ``PUT``, ``POST``…) or a bucket name."""
    lowered = method_or_kind.lower()
    if lowered in KINDS:
        return lowered
    if lowered in ("read", "write", "delete"):
        return lowered + "s"
    if lowered == "action":
        return "writes"
    return _KIND_OF_METHOD.get(method_or_kind.upper(), "writes")


class PacingTimeout(Exception):
    """No token became available before the caller's deadline (the change should wait for the next round)."""


@dataclass
class _Bucket:
    burst: float
    refill: float  # tokens per second
    tokens: float
    updated: float
    blocked_until: float = 0.0  # a Retry-After the server gave: no token before this instant

    def refresh(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.refill)
            self.updated = now

    def wait_for_token(self, now: float) -> float:
        """Seconds until one token is available (0 if now)."""
        blocked = max(0.0, self.blocked_until - now)
        missing = 0.0 if self.tokens >= 1.0 - _EPSILON else 1.0 - self.tokens
        return max(blocked, missing / self.refill if self.refill > 0 else math.inf)


@dataclass
class ArmBudget:
    """Token buckets for one (subscription, principal), shared by every thread that calls ARM as that principal.

    ``acquire(kind)`` blocks until a token is available and takes it (pacing, not failure); ``observe(kind, headers)``
    lowers the local count to what ARM says remains (other instances of the app, or other tools running as the same
    principal, spend the same budget); ``hold(kind, seconds)`` honours a 429's Retry-After for everyone.
    The clock and the sleep are injectable so that tests run without waiting.
    """

    buckets: Mapping[str, tuple[float, float]] = field(default_factory=lambda: dict(AZURE_BUCKETS))
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _state: dict[str, _Bucket] = field(init=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        now = self.clock()
        for kind in KINDS:
            burst, refill = self.buckets.get(kind, AZURE_BUCKETS[kind])
            if burst < 1 or refill <= 0:
                raise ValueError(f"bucket '{kind}': burst must be >= 1 and refill > 0 (got {burst}, {refill})")
            self._state[kind] = _Bucket(float(burst), float(refill), float(burst), now)

    def available(self, kind: str) -> float:
        """Tokens available now for this kind (a fraction while refilling)."""
        with self._lock:
            bucket = self._state[kind_of(kind)]
            bucket.refresh(self.clock())
            return bucket.tokens

    def try_acquire(self, kind: str) -> float:
        """Take a token if one is available now: returns 0.0; else takes nothing and returns the seconds to wait."""
        with self._lock:
            bucket = self._state[kind_of(kind)]
            now = self.clock()
            bucket.refresh(now)
            wait = bucket.wait_for_token(now)
            if wait <= 0.0:
                bucket.tokens = max(0.0, bucket.tokens - 1.0)
                return 0.0
            return wait

    def acquire(self, kind: str, *, deadline: float | None = None) -> float:
        """Wait until a token of this kind is available and take it; returns the seconds waited.

        ``deadline`` (on this budget's clock): raise :class:`PacingTimeout` instead of waiting past it. Waiting
        happens outside the lock, so many threads pace themselves together; each takes exactly one token.
        """
        waited = 0.0
        while True:
            wait = self.try_acquire(kind)
            if wait <= 0.0:
                return waited
            if deadline is not None and self.clock() + wait > deadline:
                raise PacingTimeout(
                    f"no ARM {kind_of(kind)} token before the deadline (next in {wait:.2f} s); try in the next round"
                )
            self.sleep(wait)
            waited += wait

    def observe(self, kind: str, headers: Mapping[str, str]) -> None:
        """Lower the local count to what ARM says remains for this principal (and globally), never raise it.

        ``headers`` as received (any case). The principal's remaining count bounds this bucket directly; the global
        count (shared by every principal, 15 × the principal's limit) bounds it too when it is lower.
        """
        bucket_kind = kind_of(kind)
        lowered = {k.lower(): v for k, v in headers.items()}
        remaining: list[float] = []
        for name in (f"x-ms-ratelimit-remaining-subscription-{bucket_kind}",
                     f"x-ms-ratelimit-remaining-subscription-global-{bucket_kind}"):
            value = lowered.get(name)
            if value is None:
                continue
            try:
                remaining.append(max(0.0, float(value)))
            except ValueError:
                continue
        if not remaining:
            return
        with self._lock:
            bucket = self._state[bucket_kind]
            bucket.refresh(self.clock())
            bucket.tokens = min(bucket.tokens, min(remaining))

    def hold(self, kind: str, seconds: float) -> None:
        """ARM answered 429 with Retry-After: nobody sending this kind as this principal goes before it expires."""
        with self._lock:
            bucket = self._state[kind_of(kind)]
            now = self.clock()
            bucket.refresh(now)
            bucket.tokens = min(bucket.tokens, 0.0)
            bucket.blocked_until = max(bucket.blocked_until, now + max(0.0, seconds))


# ------------------------------------------------------------------------------------------------ retries by time
def retry_after_from_headers(headers: Mapping[str, str]) -> float | None:
    """The server's retry hint in seconds: ``retry-after-ms`` / ``x-ms-retry-after-ms`` (precise) first, then
    ``Retry-After`` as seconds. (An HTTP-date form of Retry-After is not sent by ARM and is ignored.)"""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, scale in (("retry-after-ms", 0.001), ("x-ms-retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = lowered.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            continue
        if math.isfinite(seconds):
            return max(0.0, seconds)
    return None


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    wait: float  # seconds to wait before the next attempt (0 when not retrying)
    reason: str


@dataclass(frozen=True)
class RetryBudget:
    """Retries bounded by a deadline, not a count (pure: the caller passes the clock's reading).

    A throttled or busy resource is retried for as long as the deadline allows, waiting what the server asks
    (``Retry-After``/``retry-after-ms``) or, without a hint, an exponential backoff capped at ``max_backoff``. When the
    next attempt could not start before the deadline, the answer is "do not retry": the caller leaves the change for
    the next round instead of reporting it refused.
    """

    deadline: float  # on the caller's clock (e.g. time.monotonic() + 120)
    base_backoff: float = 0.5
    max_backoff: float = 30.0

    def decide(self, now: float, attempt: int, retry_after: float | None) -> RetryDecision:
        """``attempt``: how many attempts have been made (1 after the first failure)."""
        if retry_after is not None:
            wait, why = retry_after, "server's retry hint"
        else:
            wait = min(self.max_backoff, self.base_backoff * (2 ** max(0, attempt - 1)))
            why = "backoff"
        if now + wait >= self.deadline:
            return RetryDecision(False, 0.0, f"next attempt in {wait:.2f} s would start past the deadline")
        return RetryDecision(True, wait, why)

    def decide_from_headers(self, now: float, attempt: int, headers: Mapping[str, str]) -> RetryDecision:
        return self.decide(now, attempt, retry_after_from_headers(headers))
