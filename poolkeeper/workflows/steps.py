"""The imperative shell of the workflows: read a snapshot, and execute one planned step against Azure.

Every write goes through :class:`~poolkeeper.gateway.ArmGateway` (retries, If-Match, correlation id). A step re-reads
its resource, applies its edits to that fresh body and writes only if something changes, under the fresh ETag; a
412 (someone wrote in between) surfaces as ``PreconditionFailed`` and the runner re-reads and re-plans.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from poolkeeper.gateway import ArmGateway
from poolkeeper.ids import ResourceId, id_key
from poolkeeper.logs import get_logger
from poolkeeper.rmw import ResourceGone, read_modify_write
from poolkeeper.workflows import armjson as aj
from poolkeeper.workflows.edits import apply_lb_edits, apply_model_edits
from poolkeeper.workflows.intents import PIP_TYPE, VMSS_TYPE, Intent
from poolkeeper.workflows.scope import ScopeGuard
from poolkeeper.workflows.state import Snapshot, Step, affected_scale_sets

log = get_logger("workflows")

BatchCallback = Callable[[Step, list[str], int, int], None]  # step, batch, done so far, total
WriteHook = Callable[[Step], None]  # called between a step's fresh read and its write (tests: concurrent edits)


class StillWaiting(Exception):
    """Azure is still applying the model (Automatic/Rolling policy) and the run's time budget is spent."""


def read_snapshot(gw: ArmGateway, intent: Intent, guard: ScopeGuard | None = None) -> Snapshot:
    """The load balancer, the scale sets that matter to the intent and their instances, and the public IP.

    Every id is checked by ``guard`` before it is read: the load balancer outside scope raises :class:`OutOfScope`
    (nothing read); a scale set or public IP outside scope is not read but listed in ``snap.out_of_scope``, which
    the preconditions and the runner turn into a refusal before any write.
    """
    guard = guard or ScopeGuard(None, intent.subscription)
    guard.check(intent.load_balancer, "load balancer")
    lb = gw.get_load_balancer(intent.load_balancer)
    snap = Snapshot(lb=lb or None)
    if not lb:
        return snap
    rid = ResourceId.parse(lb["id"])
    group = ResourceId(rid.subscription, rid.resource_group)
    guard.check(str(group), "resource group")
    listed = gw.list_scale_sets(group)
    for vmss in listed:
        snap.scale_sets[id_key(vmss["id"])] = vmss
    wanted = {id_key(s): ("scale set (scaleSets)", s) for s in intent.scale_set_ids()}
    pool_name = intent.params.get("natPool")
    if pool_name:
        for rule in aj.derived_rules(lb, pool_name):
            vmss_id = aj.scale_set_of_ip_configuration(aj.ref(aj.props(rule).get("backendIPConfiguration")) or "")
            if vmss_id:
                wanted.setdefault(id_key(vmss_id), (f"scale set using NAT pool {pool_name}", vmss_id))
    for key in sorted(wanted):
        what, vmss_id = wanted[key]
        why = guard.why_not(vmss_id, what)
        if why is not None:
            snap.out_of_scope.append(why)
            snap.scale_sets.pop(key, None)
        elif key not in snap.scale_sets:
            body = gw.get_scale_set(vmss_id)
            if body:
                snap.scale_sets[id_key(body["id"])] = body
    relevant = _relevant_scale_sets(intent, snap)
    for vmss in relevant:
        guard.check(vmss["id"], "scale set")
        snap.instances[id_key(vmss["id"])] = gw.list_scale_set_instances(vmss["id"])
    pip = intent.params.get("publicIp")
    if pip and intent.params.get("deletePublicIp"):
        pip_id = aj.expand_ref(pip, lb["id"], PIP_TYPE)
        why = guard.why_not(pip_id, "public IP (deletePublicIp)")
        if why is not None:
            snap.out_of_scope.append(why)
        else:
            snap.public_ip = gw.get_public_ip(pip_id) or None
    return snap


def _relevant_scale_sets(intent: Intent, snap: Snapshot) -> list[dict[str, Any]]:
    if intent.kind == "change-probed-port":
        assert snap.lb is not None
        rule = aj.child(snap.lb, "loadBalancingRules", intent.params["rule"])
        probe = aj.ref(aj.props(rule).get("probe")) if rule else None
        keys = {id_key(s) for s in intent.scale_set_ids()}
        return [s for s in snap.sorted_scale_sets()
                if id_key(s["id"]) in keys or (probe and aj.key(aj.health_probe(s) or "") == aj.key(probe))]
    assert snap.lb is not None
    pool_id = aj.child_id(snap.lb["id"], "inboundNatPools", intent.params["natPool"])
    return affected_scale_sets(snap, intent, pool_id)


def execute(gw: ArmGateway, step: Step, intent: Intent, *, on_batch: BatchCallback | None = None,
            deadline: float | None = None, before_write: WriteHook | None = None,
            guard: ScopeGuard | None = None) -> dict[str, Any]:
    """Do one step. Returns what happened (``{"writes": n, ...}``) for the progress record.

    The step's target is checked against ``guard`` first (raises :class:`OutOfScope`, nothing read or written): the
    planner only targets what the snapshot read, but a write is where a scope slip would do harm.
    """
    (guard or ScopeGuard(None, intent.subscription)).check(step.target, "step target")
    if step.kind == "lb-write":
        return _write_lb(gw, step, before_write)
    if step.kind == "update-model":
        return _write_model(gw, step, before_write)
    if step.kind == "upgrade-instances":
        return _upgrade(gw, step, intent, on_batch, deadline)
    if step.kind == "wait-instances":
        return _wait(gw, step, deadline)
    if step.kind == "delete-public-ip":
        gw.delete_public_ip(step.target)
        return {"writes": 1}
    raise ValueError(f"unknown step kind {step.kind!r}")  # pragma: no cover


def _write_lb(gw: ArmGateway, step: Step, before_write: WriteHook | None) -> dict[str, Any]:
    return _rmw(step, gw.get_load_balancer, lambda body: apply_lb_edits(body, step.edits),
                lambda rid, body, etag: gw.put_load_balancer(rid, _writable_lb(body), etag), before_write)


def _writable_lb(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "etag"}


def _write_model(gw: ArmGateway, step: Step, before_write: WriteHook | None) -> dict[str, Any]:
    return _rmw(step, gw.get_scale_set, lambda body: apply_model_edits(body, step.edits), gw.put_scale_set,
                before_write)


def _rmw(step: Step, read: Any, edit: Any, write: Any, before_write: WriteHook | None) -> dict[str, Any]:
    """One step's write: the shared read-modify-write, reporting a write or that the effect was already there."""
    try:
        wrote = read_modify_write(step.target, read, edit, write,
                                  before_write=(lambda: before_write(step)) if before_write else None)
    except ResourceGone as err:
        raise ValueError(f"{err} (it disappeared during the operation)") from err
    return {"writes": 1} if wrote else {"writes": 0, "skipped": "already in place"}


def _upgrade(gw: ArmGateway, step: Step, intent: Intent, on_batch: BatchCallback | None,
             deadline: float | None) -> dict[str, Any]:
    """manualUpgrade the instances that are behind the model, in batches; level-triggered (fresh list first).

    Stops between batches when the run's time budget is spent (the next run picks up the instances still behind).
    """
    pending = aj.pending_instances(gw.list_scale_set_instances(step.target))
    size = intent.batch_size
    batches = [pending[i:i + size] for i in range(0, len(pending), size)]
    done = 0
    for batch in batches:
        if deadline is not None and done and time.monotonic() > deadline:
            raise StillWaiting(f"time budget spent after {done} of {len(pending)} instances of "
                               f"{aj.name_of(step.target)}; the next run updates the rest")
        gw.manual_upgrade(step.target, batch)
        done += len(batch)
        log.info("instances updated", extra={"scale_set": step.target, "batch": batch, "done": done,
                                             "total": len(pending), "correlation_id": gw.correlation_id})
        if on_batch is not None:
            on_batch(step, batch, done, len(pending))
    return {"writes": len(batches), "instances": len(pending), "batches": batches}


def _wait(gw: ArmGateway, step: Step, deadline: float | None) -> dict[str, Any]:
    delay = 0.05
    while True:
        pending = aj.pending_instances(gw.list_scale_set_instances(step.target))
        if not pending:
            return {"writes": 0}
        if deadline is not None and time.monotonic() + delay > deadline:
            raise StillWaiting(f"{len(pending)} instance(s) of {aj.name_of(step.target)} are not on the latest model "
                               "yet; the next run continues")
        gw.sleep(delay)
        delay = min(delay * 2, 10.0)


def port_mappings_v1(lb: dict[str, Any], nat_pool: str) -> dict[str, dict[str, Any]]:
    """Per instance ipConfiguration: the NAT pool's port, from the rules Azure derived from it."""
    out: dict[str, dict[str, Any]] = {}
    for rule in aj.derived_rules(lb, nat_pool):
        rp = aj.props(rule)
        ipc = aj.ref(rp.get("backendIPConfiguration")) or ""
        out[id_key(ipc)] = {"instance": _instance_label(ipc), "ipConfiguration": ipc,
                            "inboundNatRuleName": rule["name"],
                            "protocol": rp.get("protocol"), "frontendPort": rp.get("frontendPort"),
                            "backendPort": rp.get("backendPort")}
    return out


def _instance_label(ipc: str) -> str:
    vmss = aj.scale_set_of_ip_configuration(ipc)
    return f"{aj.name_of(vmss)}_{aj.instance_of_ip_configuration(ipc)}" if vmss else ipc


def port_mappings_v2(lb: dict[str, Any], rule_name: str, backend_pool: str) -> dict[str, dict[str, Any]]:
    """Per instance ipConfiguration: the NAT rule V2's port, as Azure reports it on the backend pool
    (``loadBalancerBackendAddresses[].properties.inboundNatRulesPortMapping``); empty when Azure does not list it."""
    pool = aj.child(lb, "backendAddressPools", backend_pool) or {}
    out: dict[str, dict[str, Any]] = {}
    for address in aj.props(pool).get("loadBalancerBackendAddresses") or []:
        ap = aj.props(address)
        ipc = aj.ref(ap.get("networkInterfaceIPConfiguration")) or ""
        for m in ap.get("inboundNatRulesPortMapping") or []:
            if str(m.get("inboundNatRuleName", "")).lower() == rule_name.lower() and ipc:
                out[id_key(ipc)] = {"instance": _instance_label(ipc), "ipConfiguration": ipc,
                                    "inboundNatRuleName": m.get("inboundNatRuleName"),
                                    "protocol": m.get("protocol"), "frontendPort": m.get("frontendPort"),
                                    "backendPort": m.get("backendPort")}
    return out


def scale_set_ids_of(snap: Snapshot) -> list[str]:
    return [s["id"] for s in snap.sorted_scale_sets()]


__all__ = ["VMSS_TYPE", "StillWaiting", "execute", "port_mappings_v1", "port_mappings_v2", "read_snapshot"]
