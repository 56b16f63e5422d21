"""ARM's request throttling: token buckets per subscription and principal, plus one subscription-wide global bucket.

Source: Microsoft Learn, "Understand how Azure Resource Manager throttles requests" (azure-resource-manager/management/
request-limits-and-throttling): since the 2024 move to regional token buckets, a subscription has per-principal
buckets (reads 250 burst / 25 per second, writes and deletes 200 / 10) and "global" subscription limits that are
15 times the individual (per-principal) limits, shared by every principal calling the subscription. ARM reports both
in the answer: ``x-ms-ratelimit-remaining-subscription-{reads|writes|deletes}`` for the caller's bucket and
``x-ms-ratelimit-remaining-subscription-global-{reads|writes|deletes}`` for the shared one (header names as listed in
that page and in monitoring integrations that read them, e.g. Coralogix's "Microsoft Azure API rate limits").
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from armsim.config import SimConfig

GLOBAL_FACTOR = 15.0  # the global subscription bucket is 15x the per-principal one (Learn, cited above)
_GLOBAL = "*"  # principal key of the subscription-wide bucket


@dataclass
class Bucket:
    tokens: float
    updated: float


@dataclass
class Taken:
    """The outcome of one request against the buckets."""

    allowed: bool
    remaining: int  # the caller's (subscription, principal) bucket
    remaining_global: int  # the subscription-wide bucket
    wait: float  # seconds until a token is available, when refused
    scope: str = "principal"  # which bucket refused: "principal" or "global"


class Throttle:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self._buckets: dict[tuple[str, str, str], Bucket] = {}

    def reset(self) -> None:
        self._buckets.clear()

    def _refill(self, key: tuple[str, str, str], burst: float, rate: float, now: float) -> Bucket:
        b = self._buckets.get(key)
        if b is None:
            b = self._buckets[key] = Bucket(burst, now)
        b.tokens = min(burst, b.tokens + (now - b.updated) * rate)
        b.updated = now
        return b

    def take(self, subscription: str, principal: str, kind: str) -> tuple[bool, int, float]:
        """Take one token (the older three-value form of :meth:`take_both`): (allowed, remaining, wait)."""
        t = self.take_both(subscription, principal, kind)
        return t.allowed, t.remaining, t.wait

    def take_both(self, subscription: str, principal: str, kind: str) -> Taken:
        """Take one token from the caller's bucket and one from the subscription's global bucket.

        A request passes only if both have a token; a refused request takes none. Refill periods are scaled by the
        time scale: at 0.01 the buckets refill a hundred times faster.
        """
        burst, rate = self.config.buckets[kind]
        rate = rate / max(self.config.time_scale, 1e-9)
        now = time.monotonic()
        sub = subscription.lower()
        mine = self._refill((sub, principal, kind), burst, rate, now)
        shared = self._refill((sub, _GLOBAL, kind), burst * GLOBAL_FACTOR, rate * GLOBAL_FACTOR, now)
        if not self.config.throttle:
            # no refusals, but the counts still move, so the headers read as ARM's would
            mine.tokens = max(0.0, mine.tokens - 1.0)
            shared.tokens = max(0.0, shared.tokens - 1.0)
            return Taken(True, int(mine.tokens), int(shared.tokens), 0.0)
        if mine.tokens < 1.0:
            return Taken(False, 0, int(shared.tokens), max((1.0 - mine.tokens) / rate, 0.001), "principal")
        if shared.tokens < 1.0:
            wait = (1.0 - shared.tokens) / (rate * GLOBAL_FACTOR)
            return Taken(False, int(mine.tokens), 0, max(wait, 0.001), "global")
        mine.tokens -= 1.0
        shared.tokens -= 1.0
        return Taken(True, int(mine.tokens), int(shared.tokens), 0.0)


def retry_after_headers(seconds: float, time_scale: float) -> dict[str, str]:
    """The retry hint ARM sends, scaled by the time scale.

    At time scale 1.0 (Azure's pace): ``Retry-After`` in whole seconds, never 0, as ARM sends it. Below 1.0 only
    ``retry-after-ms`` is sent: the SDKs deserialize ``Retry-After`` as an integer, and azure-core falls back to
    ``retry-after-ms`` when ``Retry-After`` is absent, so fast test runs wait milliseconds instead of whole seconds.
    """
    ms = str(max(1, int(seconds * 1000)))
    if time_scale >= 1.0:
        return {"Retry-After": str(max(1, math.ceil(seconds))), "retry-after-ms": ms}
    return {"retry-after-ms": ms}
