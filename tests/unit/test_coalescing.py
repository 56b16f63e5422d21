"""Event-driven runs coalesce per resource group: a burst costs a few runs, and nothing queued is dropped."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from poolkeeper.config import parse_config
from poolkeeper.reconciler import Reconciler

RG = "/subscriptions/s/resourceGroups/rg"


class RecordingReconciler(Reconciler):
    """The real coalescing logic around a fake ``reconcile`` that records its targets and can be held open."""

    def __init__(self) -> None:
        super().__init__(parse_config({"scopes": [RG]}), credential=object())  # type: ignore[arg-type]
        self.runs: list[set[str] | None] = []
        self.release = threading.Event()
        self.started = threading.Event()

    def reconcile(self, subscription_id: str, **kwargs: Any) -> Any:  # type: ignore[override]
        self.runs.append(None if kwargs["only"] is None else set(kwargs["only"]))
        self.started.set()
        self.release.wait(5)
        return f"run {len(self.runs)}"


def test_events_during_a_run_fold_into_one_more_round() -> None:
    rec = RecordingReconciler()
    first = threading.Thread(target=rec.reconcile_coalesced, args=("s", "rg", {"vm1"}))
    first.start()
    assert rec.started.wait(5)
    assert rec.reconcile_coalesced("s", "rg", {"vm2"}) is None  # coalesced
    assert rec.reconcile_coalesced("s", "rg", {"vm3"}) is None
    rec.release.set()
    first.join(5)
    assert rec.runs == [{"vm1"}, {"vm2", "vm3"}]


def test_a_delete_during_a_run_widens_the_next_round_to_the_group() -> None:
    rec = RecordingReconciler()
    first = threading.Thread(target=rec.reconcile_coalesced, args=("s", "rg", {"vm1"}))
    first.start()
    assert rec.started.wait(5)
    rec.reconcile_coalesced("s", "rg", {"vm2"})
    rec.reconcile_coalesced("s", "rg", None)
    rec.release.set()
    first.join(5)
    assert rec.runs == [{"vm1"}, None]


def test_other_resource_groups_are_not_held_back_and_state_is_cleared() -> None:
    rec = RecordingReconciler()
    rec.release.set()
    assert rec.reconcile_coalesced("s", "rg1", {"a"}) == "run 1"
    assert rec.reconcile_coalesced("s", "rg2", {"b"}) == "run 2"
    assert rec.reconcile_coalesced("s", "rg1", {"c"}) == "run 3"  # nothing left pending from the first run
    assert rec._pending == {}


def test_a_failed_run_does_not_wedge_the_group() -> None:
    rec = RecordingReconciler()

    def boom(subscription_id: str, **kwargs: Any) -> Any:
        raise RuntimeError("ARM is down")

    rec.reconcile = boom  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        rec.reconcile_coalesced("s", "rg", {"a"})
    assert rec._pending == {}


class BreakerRecordingReconciler(Reconciler):
    """A fake ``reconcile`` that records the breaker each round gets, records the round's writes on it as told, and
    queues the next event while it runs (as Event Grid would, mid-round)."""

    def __init__(self, rounds: list[tuple[list[bool], str | None]]) -> None:
        super().__init__(parse_config({"scopes": [RG]}), credential=object())  # type: ignore[arg-type]
        self.rounds = rounds
        self.breakers: list[Any] = []
        self.runs: list[set[str] | None] = []

    def reconcile(self, subscription_id: str, **kwargs: Any) -> Any:  # type: ignore[override]
        self.runs.append(set(kwargs["only"]))
        breaker = kwargs["breaker"]
        self.breakers.append(breaker)
        writes, next_event = self.rounds.pop(0)
        for ok in writes:
            breaker.record(ok)
        if next_event is not None:
            assert self.reconcile_coalesced(subscription_id, "rg", {next_event}) is None  # folded into this chain
        return f"run {len(self.runs)}"


def test_rounds_share_the_breaker_until_it_trips() -> None:
    """A round's parallel writes are admitted from the breaker's history (issue 13: a fresh breaker per round made
    every round of a storm ramp up from 4 writes in flight); after a trip the next round starts afresh."""
    rec = BreakerRecordingReconciler([([True] * 3, "vm2"), ([False] * 5, "vm3"), ([True], None)])
    assert rec.reconcile_coalesced("s", "rg", {"vm1"}) == "run 3"
    assert rec.runs == [{"vm1"}, {"vm2"}, {"vm3"}]
    one, two, three = rec.breakers
    assert one is two and two.writes == 8 and two.tripped  # round 2 saw round 1's three successes
    assert three is not two and not three.tripped and three.writes == 1
