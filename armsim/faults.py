"""Fault injection: make chosen ARM requests fail with 429, 5xx or a dropped connection, repeatably (seeded)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

NO_HINT = -1.0  # the retry hint a rule with "retryHint": false hands the engine: send no retry header at all


@dataclass
class FaultRule:
    """Matches requests by kind / method / path substring; fails them at ``rate`` or by a scripted ``sequence``.

    ``sequence`` lists outcomes for successive matching requests: a status (429, 500, 503, 409, 412), "drop", or
    "ok"/200 to let one through; when exhausted the rule stops firing. ``times`` caps how often a rate rule fires.
    """

    kind: str | None = None  # read | write | delete | action
    method: str | None = None
    path_contains: str | None = None
    rate: float = 0.0
    status: int | str = 503
    sequence: list[int | str] = field(default_factory=list)
    times: int | None = None
    retry_after: float | None = None  # seconds, for 429
    # False: answer without any retry hint (no Retry-After, no retry-after-ms), as some 429s from resource
    # providers come; clients must then fall back on their own back-off. Rule syntax:
    # {"kind": "write", "rate": 1.0, "status": 429, "retryHint": false}
    retryHint: bool = True
    fired: int = 0

    def matches(self, kind: str, method: str, path: str) -> bool:
        if self.kind and self.kind != kind:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        return not (self.path_contains and self.path_contains.lower() not in path.lower())


class Faults:
    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self.rng = random.Random(0)

    def configure(self, spec: dict[str, Any]) -> None:
        """Replace the fault rules: ``{"seed": 1, "rules": [{...FaultRule fields...}]}``; ``{}`` clears them."""
        rules = []
        for i, r in enumerate(spec.get("rules", [])):
            unknown = set(r) - set(FaultRule.__dataclass_fields__)
            if unknown:
                raise ValueError(f"rules[{i}]: unknown keys {sorted(unknown)}")
            rules.append(FaultRule(**{k: v for k, v in r.items() if k != "fired"}))
        self.rules = rules
        self.rng = random.Random(spec.get("seed", 0))

    def pick(self, kind: str, method: str, path: str) -> tuple[int | str, float | None] | None:
        """The fault to inject for this request, or None. The retry hint is ``NO_HINT`` when the rule wants none."""
        for rule in self.rules:
            if not rule.matches(kind, method, path):
                continue
            if rule.sequence:
                if rule.fired >= len(rule.sequence):
                    continue
                outcome = rule.sequence[rule.fired]
                rule.fired += 1
                if outcome in ("ok", 200):
                    return None
                return outcome, rule.retry_after if rule.retryHint else NO_HINT
            if rule.times is not None and rule.fired >= rule.times:
                continue
            if self.rng.random() < rule.rate:
                rule.fired += 1
                return rule.status, rule.retry_after if rule.retryHint else NO_HINT
        return None

    def describe(self) -> list[dict[str, Any]]:
        return [dict(r.__dict__) for r in self.rules]
