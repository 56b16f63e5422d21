"""Automatic and Rolling upgrade policies: applying a changed model to instances without being asked.

Azure does this on its own some time after the model changes; armsim waits ``compute.vmss.automatic_upgrade_delay``
and then applies the model to every out-of-date instance (Automatic) or to batches of ``maxBatchInstancePercent``
of the instances, one batch per ``compute.vmss.upgrade`` (Rolling). A newer model change supersedes a pending
upgrade (it schedules its own). A load balancer busy with another write only postpones the step.

The steps run from the engine's operation timer, which must never see an exception: failures are retried a few
times and then recorded on the scale set's record (``meta["upgrade_error"]``).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from armsim.compute.common import NAMESPACE, nic_configs, props
from armsim.compute.instances import applied_configs, apply_model, instances_of, natpool_demand
from armsim.compute.lbwiring import check_natpool_capacity, check_not_busy, natpool_keys
from armsim.engine import SYSTEM_PRINCIPAL, Engine
from armsim.errors import ArmError
from armsim.provider import Ctx
from armsim.store import Record

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 30


def schedule(ctx: Ctx, vmss: Record) -> None:
    """Plan the automatic application of the scale set's current model."""
    _later(ctx.engine, vmss.id, int(vmss.meta.get("model_version", 1)),
           ctx.duration("compute.vmss.automatic_upgrade_delay"), 0)


def _later(engine: Engine, vmss_id: str, version: int, delay: float, attempt: int) -> None:
    rec = engine.store.get(vmss_id)
    location = str(rec.body.get("location", "westus")) if rec else "westus"

    def run() -> None:
        try:
            _step(engine, vmss_id, version, attempt)
        except Exception:
            log.exception("automatic upgrade of %s failed", vmss_id)

    engine.start_operation(namespace=NAMESPACE, location=location, kind="action", resource_id=None,
                           duration=max(delay, 0.0), on_complete=run)


def _batch_size(vmss: Record, total: int) -> int:
    policy = (vmss.body.get("properties") or {}).get("upgradePolicy") or {}
    if str(policy.get("mode")) != "Rolling":
        return total
    pct = int((policy.get("rollingUpgradePolicy") or {}).get("maxBatchInstancePercent") or 20)
    return max(1, math.ceil(total * pct / 100))


def _step(engine: Engine, vmss_id: str, version: int, attempt: int) -> None:
    vmss = engine.store.get(vmss_id)
    if vmss is None or int(vmss.meta.get("model_version", 1)) != version:
        return  # deleted, or superseded by a newer model change
    if str(((vmss.body.get("properties") or {}).get("upgradePolicy") or {}).get("mode")) == "Manual":
        return
    ctx = Ctx(engine, SYSTEM_PRINCIPAL, method="POST")
    insts = instances_of(ctx, vmss_id)
    stale = [r for r in insts if props(r.body).get("latestModelApplied") is False]
    if not stale:
        return
    batch = stale[: _batch_size(vmss, len(insts))]
    try:
        model_cfgs = _model_cfgs(vmss)
        chosen = {r.id for r in batch}
        check_natpool_capacity(ctx, natpool_demand(
            ctx, [model_cfgs if r.id in chosen else applied_configs(r) or [] for r in insts]))
        touched = {k[0] for k in natpool_keys(model_cfgs)}
        for r in batch:
            touched |= {k[0] for k in natpool_keys(applied_configs(r) or [])}
        check_not_busy(ctx, touched, vmss_id)
        apply_model(ctx, vmss, batch)
    except ArmError as err:
        if err.status == 429 and attempt < MAX_ATTEMPTS:
            _later(engine, vmss_id, version, engine.config.duration("compute.vmss.upgrade") / 5, attempt + 1)
        else:
            vmss.meta["upgrade_error"] = err.body()["error"]
        return
    engine.on_change()
    if len(stale) > len(batch):
        _later(engine, vmss_id, version, engine.config.duration("compute.vmss.upgrade"), 0)


def _model_cfgs(vmss: Record) -> list[dict[str, Any]]:
    return nic_configs((vmss.body.get("properties") or {}).get("virtualMachineProfile"))
