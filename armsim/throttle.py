"""ARM's request throttling: token buckets per subscription, principal and request kind."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from armsim.config import SimConfig


@dataclass
class Bucket:
    tokens: float
    updated: float


class Throttle:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self._buckets: dict[tuple[str, str, str], Bucket] = {}

    def reset(self) -> None:
        self._buckets.clear()

    def take(self, subscription: str, principal: str, kind: str) -> tuple[bool, int, float]:
        """Take one token. Returns (allowed, remaining, seconds until a token is available if refused).

        Refill periods are scaled by the time scale: at 0.01 the buckets refill a hundred times faster.
        """
        burst, rate = self.config.buckets[kind]
        rate = rate / max(self.config.time_scale, 1e-9)
        now = time.monotonic()
        k = (subscription.lower(), principal, kind)
        b = self._buckets.get(k)
        if b is None:
            b = self._buckets[k] = Bucket(burst, now)
        b.tokens = min(burst, b.tokens + (now - b.updated) * rate)
        b.updated = now
        if not self.config.throttle:
            return True, int(b.tokens), 0.0
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return True, int(b.tokens), 0.0
        wait = (1.0 - b.tokens) / rate
        return False, 0, max(wait, 0.001)


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
