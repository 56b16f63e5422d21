"""The executor: applies a plan to Azure, one read-modify-write per resource, under ETags.

For each write batch (all NAT rules of one load balancer, all pool/rule memberships of one NIC, the model of one
scale set) it reads the resource, applies the batch's changes to the fresh body (``mutations``), skips the write if
nothing changed, and PUTs with ``If-Match``. A lost ETag race (412) or a change that no longer fits raises
``Replan``; the reconciler then reads a new snapshot and plans again.

Both wings write through it: the reconciler applies a whole :class:`Plan` (:meth:`Executor.apply`); a NAT-pool
workflow does one step at a time (:meth:`Executor.write`, one batch, errors raised to its runner), including the
actions only workflows take: instance upgrades to the latest model, waiting for Azure to apply a model, deleting a
public IP. :class:`WriteOptions` carries what a step adds: a deadline, a progress callback, a test hook.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from poolkeeper import armjson as aj
from poolkeeper.changes import (
    Change,
    DeletePublicIp,
    Plan,
    UpgradeBehindInstances,
    UpgradeInstances,
    WaitForLatestModel,
    WriteBatch,
)
from poolkeeper.gateway import ArmGateway, ArmRefused, PreconditionFailed
from poolkeeper.limits import Breaker
from poolkeeper.logs import get_logger
from poolkeeper.mutations import StaleChange, edit_resource
from poolkeeper.rmw import ResourceGone, read_modify_write

log = get_logger("executor")

Raw = dict[str, Any]


class Replan(Exception):
    """The world moved under the plan (ETag race or stale change): read again and plan again."""


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "applied": [c.to_dict() for c in self.applied],
            "writes": self.writes,
            "skipped": self.skipped,
            "failed": self.failed,
        }


class Executor:
    def __init__(self, gateway: ArmGateway, breaker: Breaker | None = None,
                 options: WriteOptions | None = None) -> None:
        self.gateway = gateway
        self.breaker = breaker  # issue 12: stops writing once too many of the run's writes failed
        self.options = options or WriteOptions()

    def write(self, batch: WriteBatch) -> ApplyResult:
        """Carry out one batch; ETag races, stale changes and refusals are raised to the caller (a workflow runner
        re-reads and decides again)."""
        result = ApplyResult()
        self._apply_batch(batch, result)
        return result

    def apply(self, plan: Plan, *, result: ApplyResult | None = None) -> ApplyResult:
        """Apply every write batch in stage order.

        A batch Azure refuses is recorded with Azure's code and message and the other batches still run: they
        touch other resources, and one refused NIC must not leave every other new VM unwired.
        """
        result = result or ApplyResult()
        failed_upgrades: set[str] = set()  # scale sets whose upgrade was refused: their record must stay
        for batch in plan.group_by_resource():
            if batch.stage == "scale-set-record" and batch.resource_id.lower() in failed_upgrades:
                log.warning("upgrade record kept: an upgrade of this scale set was refused",
                            extra={"resource": batch.resource_id, "correlation_id": self.gateway.correlation_id})
                continue
            if self.breaker is not None and self.breaker.tripped:
                self.breaker.skipped += [c.describe() for c in batch.changes]
                continue
            try:
                self._apply_batch(batch, result)
                self._record(True)
            except (PreconditionFailed, StaleChange) as err:
                log.info("replanning", extra={"reason": str(err), "correlation_id": self.gateway.correlation_id})
                raise Replan(str(err)) from err
            except ArmRefused as err:
                if batch.stage == "scale-set-upgrade":
                    failed_upgrades.add(batch.resource_id.lower())
                log.warning(
                    "azure refused a change",
                    extra={"resource": err.resource_id, "code": err.code, "azure_message": err.azure_message,
                           "correlation_id": self.gateway.correlation_id},
                )
                result.failed.append(
                    {"resource": err.resource_id, "code": err.code, "message": err.azure_message,
                     "changes": [c.describe() for c in batch.changes]}
                )
                self._record(False)
        return result

    def _record(self, ok: bool) -> None:
        if self.breaker is not None and self.breaker.record(ok):
            b = self.breaker
            log.error("circuit breaker tripped: no more writes this run",
                      extra={"failures": b.failures, "writes": b.writes, "breaker_error_rate": b.error_rate,
                             "correlation_id": self.gateway.correlation_id})

    def _apply_batch(self, batch: WriteBatch, result: ApplyResult) -> None:
        write = BATCH_WRITERS.get(batch.target_kind)
        if write is None:
            raise TypeError(f"no executor for {batch.target_kind}")
        write(self.gateway, batch, result, self.options)


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
    """One PUT under If-Match of the resource as freshly read, with the batch's edits (``mutations``)."""
    rid, kind = batch.resource_id, batch.target_kind
    read, write = (getattr(gw, name) for name in RMW_DOORS[kind])
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
