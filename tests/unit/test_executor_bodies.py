"""The executor writes from the body the snapshot read (no GET first) only when that body can be written back:
it has an ETag and no operation was running on it; each body serves one write, then the write's own result."""

from __future__ import annotations

from poolkeeper.executor import Bodies, _stages
from poolkeeper.model import Snapshot

NIC = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/{}"


def nic(name: str, etag: str | None, state: str = "Succeeded") -> dict:
    body: dict = {"id": NIC.format(name), "name": name, "properties": {"provisioningState": state,
                                                                       "ipConfigurations": []}}
    if etag:
        body["etag"] = etag
    return body


def test_snapshot_bodies_serve_one_write_each() -> None:
    bodies = Bodies(Snapshot.from_arm(nics=[nic("a", 'W/"1"'), nic("b", None), nic("c", 'W/"3"', "Updating")]))
    assert bodies.take(NIC.format("A"))["etag"] == 'W/"1"'  # ids are case-insensitive
    assert bodies.take(NIC.format("a")) is None  # used once: a second batch on it reads afresh
    assert bodies.take(NIC.format("b")) is None  # no ETag: no conditional write from it
    assert bodies.take(NIC.format("c")) is None  # mid-operation: its ETag changes when the operation ends


def test_a_write_result_replaces_the_body() -> None:
    bodies = Bodies(None)
    bodies.put(NIC.format("a"), nic("a", 'W/"2"'))
    assert bodies.take(NIC.format("a"))["etag"] == 'W/"2"'
    bodies.put(NIC.format("a"), None)  # an LRO without a final body: nothing known
    assert bodies.take(NIC.format("a")) is None


def test_stages_keep_order_and_group_consecutive_batches() -> None:
    from poolkeeper.changes import WriteBatch

    def b(stage: str, rid: str) -> WriteBatch:
        return WriteBatch(stage=stage, target_kind="networkInterface", resource_id=rid, changes=())

    batches = (b("nic-release", "1"), b("load-balancer", "lb"), b("nic-join", "1"), b("nic-join", "2"))
    assert [[x.resource_id for x in s] for s in _stages(batches)] == [["1"], ["lb"], ["1", "2"]]


def test_a_stage_writes_forty_batches_at_once() -> None:
    """The pool must not be what limits a storm: 16 workers wrote at most ~8 two-second NIC writes a second, below
    ARM's write refill (issue 13). Forty batches that each wait for all forty to be in flight pass only if the
    stage runs them all at once (the barrier's timeout only stops a broken executor from hanging the test)."""
    import threading

    from poolkeeper.changes import WriteBatch
    from poolkeeper.executor import BATCH_WRITERS, Executor, writes

    barrier = threading.Barrier(40, timeout=10)

    @writes("testBarrier")
    def _wait_for_all(gw: object, batch: WriteBatch, result: object, options: object) -> None:
        barrier.wait()

    try:
        batches = [WriteBatch(stage="nic-join", target_kind="testBarrier", resource_id=str(i), changes=())
                   for i in range(40)]
        outcomes = Executor(gateway=None)._run_stage(batches)  # type: ignore[arg-type]
    finally:
        BATCH_WRITERS.pop("testBarrier", None)
    assert [err for _, err in outcomes] == [None] * 40


def test_a_breaker_with_a_long_history_stops_a_wave_of_refusals_after_its_streak() -> None:
    """Parallel writes under a breaker that has seen 1,000 successes (a coalesced chain): a stage of 200 writes Azure
    refuses attempts at most ``max_streak`` of them, not the ~1,000 the error rate alone would allow."""
    import threading
    from types import SimpleNamespace

    from poolkeeper.changes import WriteBatch
    from poolkeeper.executor import BATCH_WRITERS, Executor, writes
    from poolkeeper.gateway import ArmRefused
    from poolkeeper.limits import Breaker

    attempts: list[str] = []
    lock = threading.Lock()

    @writes("testRefused")
    def _refuse(gw: object, batch: WriteBatch, result: object, options: object) -> None:
        with lock:
            attempts.append(batch.resource_id)
        raise ArmRefused(batch.resource_id, 403, "RequestDisallowedByPolicy", "denied by policy")

    breaker = Breaker(error_rate=0.5, min_writes=5, max_streak=20)
    for _ in range(1000):
        breaker.record(True)
    try:
        batches = [WriteBatch(stage="nic-join", target_kind="testRefused", resource_id=str(i), changes=())
                   for i in range(200)]
        Executor(gateway=SimpleNamespace(correlation_id="c"), breaker=breaker)._run_stage(  # type: ignore[arg-type]
            batches)
    finally:
        BATCH_WRITERS.pop("testRefused", None)
    assert breaker.tripped
    assert len(attempts) == 20
