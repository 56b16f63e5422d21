"""Delivery chaos: the misbehaviours Event Grid is allowed (late, duplicated, out-of-order, batched events).

Event Grid promises at-least-once delivery and no ordering; a handler that only ever sees the polite path in tests
breaks in Azure. These knobs make the impolite path reproducible: every random choice comes from one seeded
``random.Random``.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

KNOWN = ("seed", "delay_ms", "duplicate_rate", "reorder", "batch_size", "concurrency")


@dataclass
class Chaos:
    seed: int | None = None
    delay_ms: list[float] = field(default_factory=lambda: [0.0, 0.0])  # extra latency per delivery, not time-scaled
    duplicate_rate: float = 0.0  # chance that a delivered event is delivered once more (same id)
    reorder: bool = False  # send ready events in random order rather than publish order
    batch_size: int = 1  # Event Grid schema: batch up to this many events for subscriptions with maxEventsPerBatch 1
    concurrency: int = 1  # requests on the wire at once per subscription (Event Grid delivers concurrently)

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Chaos:
        """Chaos from a control request; anything not given is off. Raises ValueError naming the bad knob."""
        unknown = sorted(set(raw) - set(KNOWN))
        if unknown:
            raise ValueError(f"unknown chaos knob(s) {unknown}; known: {list(KNOWN)}")
        out = cls()
        if raw.get("seed") is not None:
            out.seed = int(raw["seed"])
        delay = raw.get("delay_ms", [0, 0])
        if isinstance(delay, int | float):
            delay = [delay, delay]
        lo, hi = (float(v) for v in delay)
        if lo < 0 or hi < lo:
            raise ValueError("delay_ms must be [min, max] with 0 <= min <= max (milliseconds)")
        out.delay_ms = [lo, hi]
        out.duplicate_rate = float(raw.get("duplicate_rate", 0.0))
        if not 0.0 <= out.duplicate_rate <= 1.0:
            raise ValueError("duplicate_rate must be between 0 and 1")
        out.reorder = bool(raw.get("reorder", False))
        out.batch_size = int(raw.get("batch_size", 1))
        out.concurrency = int(raw.get("concurrency", 1))
        if not 1 <= out.concurrency <= 64:
            raise ValueError("concurrency must be from 1 to 64 (deliveries on the wire at once per subscription)")
        if not 1 <= out.batch_size <= 5000:
            raise ValueError("batch_size must be from 1 to 5000 (Event Grid's maxEventsPerBatch range)")
        return out

    def rng(self) -> random.Random:
        return random.Random(self.seed)

    def extra_delay(self, rng: random.Random) -> float:
        lo, hi = self.delay_ms
        return (rng.uniform(lo, hi) if hi > lo else lo) / 1000.0

    def describe(self) -> dict[str, Any]:
        return asdict(self)
