"""How much one run may change: the cut of a plan (``cut``) and the error-rate circuit breaker (``Breaker``). Pure.

A plan is cut in **units**, not single changes: a unit is the set of changes that only make sense together — a
NIC's pool join, its NAT-rule assignment and that rule's creation on the load balancer; a rule's unassignment and
its deletion; a scale set's model write, its upgrades and its record. Units are found by linking changes that touch
the same NIC, NAT rule or scale set (union-find), so a cut never leaves a rule created without its NIC assignment
(or a NIC assigned to a rule that is not created). Units are kept in plan order, which is deterministic, so the next
run does the next ones ("50 drifted VMs, ``maxChangesPerRun: 10`` → 10 now, 40 deferred, the next sweep the next 10").

Limits (configuration ``limits``): ``maxChangesPerRun`` units per run, and ``maxChangesPercent`` of the resources of
a kind (NICs, scale sets, NAT rules — the kind a unit writes; at least one unit of a kind when there is any).
A plan's findings are never cut.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from poolkeeper.changes import AssignNatRule, Change, Plan, UnassignNatRule
from poolkeeper.config import Limits
from poolkeeper.ids import id_key

KINDS = ("networkInterface", "scaleSet", "natRule")
# Failures in a row that stop a run whatever its history: the executor's default width (``executor.DEFAULT_WORKERS``,
# 64), so a stage can still write at full width while a breaker with a long record of successes stays bounded.
MAX_FAILURE_STREAK = 64


@dataclass(frozen=True)
class Deferred:
    """Changes left for a later run, and why (``maxChangesPerRun``, ``maxChangesPercent``, ``breaker``)."""

    changes: tuple[Change, ...]
    reason: str
    limit: str

    def to_dict(self) -> dict[str, Any]:
        return {"limit": self.limit, "reason": self.reason, "changes": [c.describe() for c in self.changes],
                "resources": sorted({c.target_id for c in self.changes})}


def _keys(change: Change) -> set[str]:
    """What links a change to others of its unit: the NIC/scale set it writes, the NAT rule it touches."""
    rule = getattr(change, "rule_id", None)
    keys = set()
    if change.target_kind != "loadBalancer":
        keys.add(id_key(change.target_id))
    if isinstance(rule, str) and (change.target_kind == "loadBalancer"
                                  or isinstance(change, AssignNatRule | UnassignNatRule)):
        keys.add(id_key(rule))
    if change.target_kind == "loadBalancer" and rule is None:
        keys.add(id_key(change.target_id))
    return keys


def units(changes: Sequence[Change]) -> list[tuple[Change, ...]]:
    """Group changes into units of dependent changes, in order of first appearance."""
    parent: dict[str, str] = {}

    def find(k: str) -> str:
        while parent.setdefault(k, k) != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for c in changes:
        ks = sorted(_keys(c))
        for k in ks[1:]:
            parent[find(k)] = find(ks[0])
    grouped: dict[str, list[Change]] = {}
    for c in changes:
        grouped.setdefault(find(sorted(_keys(c))[0]), []).append(c)
    return [tuple(cs) for cs in grouped.values()]


def unit_kind(unit: Iterable[Change]) -> str:
    kinds = {c.target_kind for c in unit}
    if "networkInterface" in kinds:
        return "networkInterface"
    if "scaleSet" in kinds:
        return "scaleSet"
    return "natRule"


def percent_cap(percent: float, total: int) -> int:
    """Units of a kind allowed by ``maxChangesPercent`` over ``total`` resources (at least one if any exist)."""
    return max(1, math.floor(total * percent / 100.0)) if total > 0 else 0


def cut(plan: Plan, limits: Limits, totals: Mapping[str, int]) -> tuple[Plan, list[Deferred]]:
    """(the plan within the limits, what was deferred and why). ``totals``: resources per kind in the run's scope."""
    if limits.max_changes_per_run is None and limits.max_changes_percent is None:
        return plan, []
    kept: list[Change] = []
    deferred: list[Deferred] = []
    per_kind: dict[str, int] = {}
    for unit in units(plan.changes):
        kind = unit_kind(unit)
        cap = None if limits.max_changes_percent is None else \
            percent_cap(limits.max_changes_percent, max(totals.get(kind, 0), 1))
        taken = sum(per_kind.values())
        if limits.max_changes_per_run is not None and taken >= limits.max_changes_per_run:
            deferred.append(Deferred(unit, f"maxChangesPerRun {limits.max_changes_per_run} reached; the next run "
                                           "does it", "maxChangesPerRun"))
        elif cap is not None and per_kind.get(kind, 0) >= cap:
            deferred.append(Deferred(unit, f"maxChangesPercent {limits.max_changes_percent:g}% of "
                                           f"{totals.get(kind, 0)} {kind} resources ({cap}) reached; the next run "
                                           "does it", "maxChangesPercent"))
        else:
            per_kind[kind] = per_kind.get(kind, 0) + 1
            kept += unit
    if not deferred:
        return plan, []
    return plan.with_changes(kept), deferred


@dataclass
class Breaker:
    """Stops a run's writes once more than ``error_rate`` of them failed, after at least ``min_writes`` writes, or
    once ``max_streak`` writes in a row failed, however many succeeded before.

    One breaker per run (across its re-plan rounds, and across the rounds of a coalesced chain of event runs).
    The streak bounds what a long history of successes can hide: a chain that wrote 500 NICs and then meets a policy
    refusing every write stops after ``max_streak`` refusals, not after 500. ``record`` returns True the moment it
    trips.
    """

    error_rate: float
    min_writes: int
    max_streak: int = MAX_FAILURE_STREAK
    writes: int = 0
    failures: int = 0
    streak: int = 0  # failures since the last success
    tripped: bool = False
    skipped: list[str] = field(default_factory=list)  # batches not attempted once tripped

    @classmethod
    def of(cls, limits: Limits) -> Breaker:
        return cls(limits.breaker_error_rate, limits.breaker_min_writes)

    def record(self, ok: bool) -> bool:
        self.writes += 1
        self.failures += 0 if ok else 1
        self.streak = 0 if ok else self.streak + 1
        if not self.tripped and self.would_trip(self.writes, self.failures, self.streak):
            self.tripped = True
            return True
        return False

    def would_trip(self, writes: int, failures: int, streak: int) -> bool:
        """The tripping rule, also asked by the executor before it starts a parallel write ("could the breaker trip
        were every write in flight to fail?")."""
        return (writes >= self.min_writes and writes > 0 and failures / writes > self.error_rate) \
            or streak >= self.max_streak

    def to_dict(self) -> dict[str, Any]:
        return {"tripped": self.tripped, "writes": self.writes, "failures": self.failures,
                "errorRate": self.error_rate, "minWrites": self.min_writes, "streak": self.streak,
                "maxStreak": self.max_streak, "skipped": list(self.skipped)}
