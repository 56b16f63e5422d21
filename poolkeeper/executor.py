"""The executor: applies a plan to Azure, one read-modify-write per resource, under ETags.

For each write batch (all NAT rules of one load balancer, all pool/rule memberships of one NIC, the model of one
scale set) it takes the resource's body — as the snapshot read it, or as the previous write of this run returned it,
else a fresh GET — applies the batch's changes (``mutations``), skips the write if nothing changed, and PUTs with
``If-Match`` on that body's ETag. A lost ETag race (412) or a change that no longer fits raises ``Replan``; the
reconciler then reads a new snapshot and plans again. So a NIC costs one read (the snapshot's) and one write.

Stages run in order (an LB write before the NIC writes that reference its rules); the batches of one stage touch
distinct resources and run in parallel on a bounded thread pool, paced by the clients' ``ArmBudget``. A batch ARM
keeps throttling (``ArmBusy``) is deferred, never reported refused: the stage finishes, later stages wait, and the
reconciler takes it to its next round (``Throttled``).

Both wings write through it: the reconciler applies a whole :class:`Plan` (:meth:`Executor.apply`); a NAT-pool
workflow does one step at a time (:meth:`Executor.write`, one batch, errors raised to its runner), including the
actions only workflows take: instance upgrades to the latest model, waiting for Azure to apply a model, deleting a
public IP. :class:`WriteOptions` carries what a step adds: a deadline, a progress callback, a test hook.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from poolkeeper import armjson as aj
from poolkeeper import flexrecord
from poolkeeper.changes import (
    Change,
    DeletePublicIp,
    Plan,
    SetScaleSetModelPool,
    UpgradeBehindInstances,
    UpgradeInstances,
    WaitForLatestModel,
    WriteBatch,
)
from poolkeeper.gateway import ArmBusy, ArmGateway, ArmRefused, PreconditionFailed
from poolkeeper.ids import id_key
from poolkeeper.limits import Breaker
from poolkeeper.logs import get_logger
from poolkeeper.model import LoadBalancer, Nic, ScaleSet, Snapshot
from poolkeeper.mutations import StaleChange, edit_resource
from poolkeeper.rmw import ResourceGone, read_modify_write

log = get_logger("executor")

Raw = dict[str, Any]


class Replan(Exception):
    """The world moved under the plan (ETag race or stale change): read again and plan again."""


class Throttled(Exception):
    """ARM kept throttling (or was busy) for some batches: they wait for the next round; nothing was refused."""


#: batches of one stage written at once; ARM's write bucket (mirrored client-side by ``ArmBudget``) paces them. Enough
#: that the bucket, not the pool, is the limit: a NIC write holds its worker for the operation (~2 s at Azure's pace
#: in armsim), so 16 workers wrote at most ~8 NICs/s, below the bucket's 10/s refill and far below its 200 burst
#: (issue 13, N=500 storm); 64 keep ~30 writes/s in flight while the burst lasts.
DEFAULT_WORKERS = 64


class StillWaiting(Exception):
    """Azure is still applying a model (or instances are left to upgrade) and the run's time budget is spent."""


@dataclass(frozen=True)
class WriteOptions:
    """What a caller adds to its writes.

    ``before_write`` runs between a batch's fresh read and its write (tests use it to make a concurrent edit that
    costs a 412); ``deadline`` (``time.monotonic()`` seconds) stops instance upgrades between calls and waits, with
    :class:`StillWaiting`; ``on_progress(batch, instance_ids, done, total)`` follows each upgrade call.
    """

    before_write: Callable[[WriteBatch], None] | None = None
    deadline: float | None = None
    on_progress: Callable[[WriteBatch, list[str], int, int], None] | None = None


@dataclass
class ApplyResult:
    applied: list[Change] = field(default_factory=list)
    writes: int = 0
    skipped: int = 0  # batches whose fresh resource already had the changes (nothing to write)
    failed: list[dict[str, Any]] = field(default_factory=list)
    throttled: list[dict[str, Any]] = field(default_factory=list)  # ARM throttling/busy: left for the next round

    def to_dict(self) -> dict[str, Any]:
        return {
            "applied": [c.to_dict() for c in self.applied],
            "writes": self.writes,
            "skipped": self.skipped,
            "failed": self.failed,
            "throttled": self.throttled,
        }

    def merge(self, other: ApplyResult) -> None:
        self.applied.extend(other.applied)
        self.writes += other.writes
        self.skipped += other.skipped
        self.failed.extend(other.failed)
        self.throttled.extend(other.throttled)


class Bodies:
    """The latest known body (with its ETag) of each resource this run may write: the snapshot's, then what each
    write returned. A body is used once per write; one without an ETag is not used (the writer GETs instead)."""

    def __init__(self, snapshot: Snapshot | None) -> None:
        self._lock = threading.Lock()
        self._bodies: dict[str, Raw] = {}
        if snapshot is not None:
            views: list[Nic | LoadBalancer | ScaleSet] = [*snapshot.nics.values(), *snapshot.load_balancers.values(),
                                                          *snapshot.scale_sets.values()]
            for view in views:
                self._bodies[id_key(view.id)] = dict(view.raw)

    def take(self, resource_id: str) -> Raw | None:
        """The known body, if it can be written back as is: it has an ETag and no operation was running on it (a
        body read mid-operation gets a new ETag when the operation ends, so its PUT would only lose a 412)."""
        with self._lock:
            body = self._bodies.pop(id_key(resource_id), None)
        if body is None or not body.get("etag"):
            return None
        state = str((body.get("properties") or {}).get("provisioningState") or "Succeeded").lower()
        return body if state == "succeeded" else None

    def put(self, resource_id: str, body: Raw | None) -> None:
        with self._lock:
            if body and body.get("etag"):
                self._bodies[id_key(resource_id)] = body
            else:
                self._bodies.pop(id_key(resource_id), None)


class Executor:
    def __init__(self, gateway: ArmGateway, breaker: Breaker | None = None,
                 options: WriteOptions | None = None, *, snapshot: Snapshot | None = None,
                 workers: int = DEFAULT_WORKERS) -> None:
        self.gateway = gateway
        self.breaker = breaker  # issue 12: stops writing once too many of the run's writes failed
        self.options = options or WriteOptions()
        self._breaker_lock = threading.Condition()  # batches of a stage record from several threads
        self._in_flight = 0  # batches started and not yet judged by the breaker
        self.bodies = Bodies(snapshot)
        self.workers = max(1, workers)

    def write(self, batch: WriteBatch) -> ApplyResult:
        """Carry out one batch; ETag races, stale changes and refusals are raised to the caller (a workflow runner
        re-reads and decides again)."""
        result = ApplyResult()
        self._apply_batch(batch, result)
        return result

    def apply(self, plan: Plan, *, result: ApplyResult | None = None) -> ApplyResult:
        """Apply every write batch, stage by stage; the batches of a stage in parallel.

        A batch Azure refuses is recorded with Azure's code and message and the other batches still run: they
        touch other resources, and one refused NIC must not leave every other new VM unwired. After a stage, a lost
        ETag race raises ``Replan`` and a throttled batch ``Throttled`` (later stages may depend on it).
        """
        result = result or ApplyResult()
        failed_upgrades: set[str] = set()  # scale sets whose upgrade was refused: their record must stay
        for stage_batches in _stages(plan.group_by_resource()):
            runnable = []
            for batch in stage_batches:
                if batch.stage == "scale-set-record" and batch.resource_id.lower() in failed_upgrades:
                    log.warning("upgrade record kept: an upgrade of this scale set was refused",
                                extra={"resource": batch.resource_id, "correlation_id": self.gateway.correlation_id})
                    continue
                runnable.append(batch)
            outcomes = self._run_stage(runnable)
            replan: BaseException | None = None
            for batch, (local, err) in zip(runnable, outcomes, strict=True):
                result.merge(local)
                if isinstance(err, PreconditionFailed | StaleChange):
                    replan = replan or err
                elif isinstance(err, ArmRefused):  # recorded in ``failed``; the other batches went on
                    if batch.stage == "scale-set-upgrade":
                        failed_upgrades.add(batch.resource_id.lower())
                elif err is not None:
                    raise err
            if replan is not None:
                log.info("replanning", extra={"reason": str(replan), "correlation_id": self.gateway.correlation_id})
                raise Replan(str(replan)) from replan
            if any(local.throttled for local, _ in outcomes):
                raise Throttled(f"{sum(len(local.throttled) for local, _ in outcomes)} change(s) left for the next "
                               "round: ARM is throttling or busy")
        return result

    def _run_stage(self, batches: list[WriteBatch]) -> list[tuple[ApplyResult, BaseException | None]]:
        if len(batches) <= 1 or self.workers == 1:
            return [self._run_batch(b) for b in batches]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(batches)),
                                thread_name_prefix="poolkeeper-write") as pool:
            futures = [pool.submit(contextvars.copy_context().run, self._run_batch, b) for b in batches]
            return [f.result() for f in futures]

    def _run_batch(self, batch: WriteBatch) -> tuple[ApplyResult, BaseException | None]:
        """One batch into its own result; the error that should stop the run (if any) is returned, not raised."""
        local = ApplyResult()
        if not self._admit(batch):
            return local, None
        try:
            return self._judged_batch(batch, local)
        finally:
            if self.breaker is not None:
                with self._breaker_lock:
                    self._in_flight -= 1
                    self._breaker_lock.notify_all()

    def _admit(self, batch: WriteBatch) -> bool:
        """With a breaker: start a batch only while the breaker could not have tripped even if every batch in flight
        fails, so parallel writes stop where one-by-one writes would (no write once it has tripped)."""
        if self.breaker is None:
            return True
        b = self.breaker
        with self._breaker_lock:
            while True:
                if b.tripped:
                    b.skipped += [c.describe() for c in batch.changes]
                    return False
                pending = self._in_flight
                if not b.would_trip(b.writes + pending, b.failures + pending, b.streak + pending):
                    self._in_flight += 1
                    return True
                self._breaker_lock.wait()

    def _judged_batch(self, batch: WriteBatch, local: ApplyResult) -> tuple[ApplyResult, BaseException | None]:
        try:
            self._apply_batch(batch, local)
            self._record(True)
        except (PreconditionFailed, StaleChange) as err:
            return local, err
        except ArmBusy as err:
            log.warning("change deferred: ARM still throttling or busy",
                        extra={"resource": err.resource_id, "status": err.status, "code": err.code,
                               "correlation_id": self.gateway.correlation_id})
            local.throttled.append({"resource": err.resource_id, "status": err.status, "code": err.code,
                                   "changes": [c.describe() for c in batch.changes]})
        except ArmRefused as err:
            log.warning(
                "azure refused a change",
                extra={"resource": err.resource_id, "code": err.code, "azure_message": err.azure_message,
                       "correlation_id": self.gateway.correlation_id},
            )
            local.failed.append(
                {"resource": err.resource_id, "code": err.code, "message": err.azure_message,
                 "changes": [c.describe() for c in batch.changes]}
            )
            self._record(False)
            return local, err
        except Exception as err:
            return local, err
        return local, None

    def _record(self, ok: bool) -> None:
        if self.breaker is None:
            return
        with self._breaker_lock:
            tripped = self.breaker.record(ok)
        if tripped:
            b = self.breaker
            log.error("circuit breaker tripped: no more writes this run",
                      extra={"failures": b.failures, "writes": b.writes, "breaker_error_rate": b.error_rate,
                             "correlation_id": self.gateway.correlation_id})

    def _apply_batch(self, batch: WriteBatch, result: ApplyResult) -> None:
        write = BATCH_WRITERS.get(batch.target_kind)
        if write is None:
            raise TypeError(f"no executor for {batch.target_kind}")
        token = _KNOWN_BODIES.set(self.bodies)
        try:
            write(self.gateway, batch, result, self.options)
        finally:
            _KNOWN_BODIES.reset(token)


def _stages(batches: tuple[WriteBatch, ...]) -> list[list[WriteBatch]]:
    """Consecutive batches of one stage (``group_by_resource`` sorts by stage; one batch per resource a stage)."""
    out: list[list[WriteBatch]] = []
    for batch in batches:
        if out and out[-1][0].stage == batch.stage:
            out[-1].append(batch)
        else:
            out.append([batch])
    return out


#: the bodies known to the run whose batch this thread is writing (set per batch by ``Executor``); a context
#: variable rather than a writer argument, so the ``BATCH_WRITERS`` signature stays (gateway, batch, result)
_KNOWN_BODIES: contextvars.ContextVar[Bodies | None] = contextvars.ContextVar("poolkeeper_known_bodies", default=None)


BatchWriter = Callable[[ArmGateway, WriteBatch, ApplyResult, WriteOptions], None]

#: target kind of a batch → how the executor carries it out (read-modify-write of one resource, or an action)
BATCH_WRITERS: dict[str, BatchWriter] = {}


def writes(*target_kinds: str) -> Callable[[BatchWriter], BatchWriter]:
    """Register how batches of these target kinds reach Azure."""
    def register(fn: BatchWriter) -> BatchWriter:
        for kind in target_kinds:
            BATCH_WRITERS[kind] = fn
        return fn
    return register


#: target kind → the gateway's (read, write) methods: the doors of one read-modify-write
RMW_DOORS: dict[str, tuple[str, str]] = {
    "loadBalancer": ("get_load_balancer", "put_load_balancer"),
    "networkInterface": ("get_nic", "put_nic"),
    "scaleSet": ("get_scale_set", "put_scale_set"),
}


@writes(*RMW_DOORS)
def _read_modify_write(gw: ArmGateway, batch: WriteBatch, result: ApplyResult, options: WriteOptions) -> None:
    """One PUT under If-Match of the resource as last seen (snapshot or previous write; else a GET), with the
    batch's edits (``mutations``). A stale body costs a 412, which re-plans from a fresh snapshot."""
    bodies = _KNOWN_BODIES.get() or Bodies(None)
    rid, kind = batch.resource_id, batch.target_kind
    _check_write_by(batch, datetime.now(UTC))
    get, put = (getattr(gw, name) for name in RMW_DOORS[kind])

    def read(resource_id: str) -> Raw | None:
        return bodies.take(resource_id) or get(resource_id)

    def write(resource_id: str, body: Raw, etag: str | None) -> Raw | None:
        written = put(resource_id, body, etag)
        bodies.put(resource_id, written)  # the LRO's final body: the next batch on it needs no GET
        return written  # type: ignore[no-any-return]

    hook = options.before_write
    try:
        wrote = read_modify_write(rid, read, lambda body: edit_resource(body, batch.changes, kind), write,
                                  before_write=(lambda: hook(batch)) if hook is not None else None)
    except ResourceGone as err:
        raise StaleChange(str(err)) from err
    result.applied.extend(batch.changes)
    if not wrote:
        result.skipped += 1
        return
    result.writes += 1
    log.info(
        "applied",
        extra={"resource": rid, "changes": [c.describe() for c in batch.changes], "correlation_id": gw.correlation_id},
    )


def _check_write_by(batch: WriteBatch, now: datetime) -> None:
    """A Flexible model write planned too long ago is re-planned: its ``poolkeeper.flexwired`` record (read time plus
    grace) would otherwise count members created from the old model meanwhile as wired (``flexrecord.write_by``)."""
    for c in batch.changes:
        if isinstance(c, SetScaleSetModelPool) and flexrecord.too_late(c.write_by, now):
            raise StaleChange(f"the model write of {c.scale_set_id} was planned to start by {c.write_by}; "
                              "re-planning it with a fresh record")


@writes("scaleSetInstances")
def _upgrade_instances(gw: ArmGateway, batch: WriteBatch, result: ApplyResult, options: WriteOptions) -> None:
    """``manualUpgrade`` calls, at most ``batch_size`` instances each."""
    for change in batch.changes:
        assert isinstance(change, UpgradeInstances)
        ids = list(change.instance_ids)
        size = max(1, change.batch_size)
        for start in range(0, len(ids), size):
            gw.manual_upgrade(change.scale_set_id, ids[start : start + size])
            result.writes += 1
        result.applied.append(change)


@writes("scaleSetLatestModel")
def _upgrade_behind(gw: ArmGateway, batch: WriteBatch, result: ApplyResult, options: WriteOptions) -> None:
    """``manualUpgrade`` the instances behind the model, listed fresh (level-triggered), ``batch_size`` per call.

    Stops between calls once the deadline has passed (:class:`StillWaiting`); the next run upgrades the rest.
    """
    for change in batch.changes:
        assert isinstance(change, UpgradeBehindInstances)
        vid = change.scale_set_id
        pending = aj.pending_instances(gw.list_scale_set_instances(vid))
        size = max(1, change.batch_size)
        done = 0
        for start in range(0, len(pending), size):
            if options.deadline is not None and done and time.monotonic() > options.deadline:
                raise StillWaiting(f"time budget spent after {done} of {len(pending)} instances of "
                                   f"{aj.name_of(vid)}; the next run updates the rest")
            ids = pending[start:start + size]
            gw.manual_upgrade(vid, ids)
            done += len(ids)
            result.writes += 1
            log.info("instances updated", extra={"scale_set": vid, "batch": ids, "done": done, "total": len(pending),
                                                 "correlation_id": gw.correlation_id})
            if options.on_progress is not None:
                options.on_progress(batch, ids, done, len(pending))
        result.applied.append(change)


@writes("scaleSetWait")
def _wait_for_model(gw: ArmGateway, batch: WriteBatch, result: ApplyResult, options: WriteOptions) -> None:
    """Poll the instances until every one has the latest model (Azure applies it: Automatic/Rolling policy)."""
    for change in batch.changes:
        assert isinstance(change, WaitForLatestModel)
        delay = 0.05
        while True:
            pending = aj.pending_instances(gw.list_scale_set_instances(change.scale_set_id))
            if not pending:
                break
            if options.deadline is not None and time.monotonic() + delay > options.deadline:
                raise StillWaiting(f"{len(pending)} instance(s) of {aj.name_of(change.scale_set_id)} are not on the "
                                   "latest model yet; the next run continues")
            gw.sleep(delay)
            delay = min(delay * 2, 10.0)
        result.applied.append(change)


@writes("publicIpDelete")
def _delete_public_ip(gw: ArmGateway, batch: WriteBatch, result: ApplyResult, options: WriteOptions) -> None:
    for change in batch.changes:
        assert isinstance(change, DeletePublicIp)
        gw.delete_public_ip(change.public_ip_id)
        result.writes += 1
        result.applied.append(change)
