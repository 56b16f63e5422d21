"""The imperative shell of the workflows: read a snapshot, and do one step through the executor.

Every write goes through :class:`~poolkeeper.executor.Executor` (the reconciler's write path) and the gateway
(retries, If-Match, correlation id). A step's batch re-reads its resource, applies its changes (registered edits,
:mod:`poolkeeper.mutations`) to that fresh body and writes only if something changes, under the fresh ETag; a 412
(someone wrote in between) surfaces as ``PreconditionFailed`` and the runner re-reads and decides again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from poolkeeper import armjson as aj
from poolkeeper.executor import Executor, StillWaiting, WriteOptions
from poolkeeper.gateway import ArmGateway
from poolkeeper.ids import id_key
from poolkeeper.logs import get_logger
from poolkeeper.model import Snapshot
from poolkeeper.reader import AroundLoadBalancer, read_around_load_balancer
from poolkeeper.workflows.intents import PIP_TYPE, VMSS_TYPE, Intent
from poolkeeper.workflows.scope import ScopeGuard
from poolkeeper.workflows.step import Step, affected_scale_sets

log = get_logger("workflows")

BatchCallback = Callable[[Step, list[str], int, int], None]  # step, batch, done so far, total
WriteHook = Callable[[Step], None]  # called between a step's fresh read and its write (tests: concurrent edits)


def read_snapshot(gw: ArmGateway, intent: Intent, guard: ScopeGuard | None = None) -> Snapshot:
    """The load balancer, the scale sets that matter to the intent and their instances, and the public IP
    (:func:`poolkeeper.reader.read_around_load_balancer`, told what this intent reaches).

    Every id is checked by ``guard`` before it is read: the load balancer outside scope raises :class:`OutOfScope`
    (nothing read); a scale set or public IP outside scope is not read but listed in ``snap.out_of_scope``, which
    the preconditions and the runner turn into a refusal before any write.
    """
    return read_around_load_balancer(gw, AroundLoadBalancer(
        load_balancer=intent.load_balancer,
        guard=guard or ScopeGuard(None, intent.subscription),
        scale_sets=lambda lb: _wanted_scale_sets(intent, lb),
        instances_of=lambda snap: _relevant_scale_sets(intent, snap),
        public_ip=lambda lb: (aj.expand_ref(intent.params["publicIp"], lb["id"], PIP_TYPE)
                              if intent.params.get("publicIp") and intent.params.get("deletePublicIp") else None),
    ))


def _wanted_scale_sets(intent: Intent, lb: dict[str, Any]) -> list[tuple[str, str]]:
    """Scale sets named in the request, then those whose instances use the NAT pool (Azure's derived rules)."""
    wanted = [("scale set (scaleSets)", s) for s in intent.scale_set_ids()]
    pool_name = intent.params.get("natPool")
    if pool_name:
        for rule in aj.derived_rules(lb, pool_name):
            vmss_id = aj.scale_set_of_ip_configuration(aj.ref(aj.props(rule).get("backendIPConfiguration")) or "")
            if vmss_id:
                wanted.append((f"scale set using NAT pool {pool_name}", vmss_id))
    return wanted


def _relevant_scale_sets(intent: Intent, snap: Snapshot) -> list[dict[str, Any]]:
    if intent.kind == "change-probed-port":
        assert snap.focus_lb is not None
        rule = aj.child(snap.focus_lb, "loadBalancingRules", intent.params["rule"])
        probe = aj.ref(aj.props(rule).get("probe")) if rule else None
        keys = {id_key(s) for s in intent.scale_set_ids()}
        return [s for s in snap.scale_set_bodies()
                if id_key(s["id"]) in keys or (probe and aj.key(aj.health_probe(s) or "") == aj.key(probe))]
    assert snap.focus_lb is not None
    pool_id = aj.child_id(snap.focus_lb["id"], "inboundNatPools", intent.params["natPool"])
    return affected_scale_sets(snap, intent, pool_id)


def execute(gw: ArmGateway, step: Step, intent: Intent, *, on_batch: BatchCallback | None = None,
            deadline: float | None = None, before_write: WriteHook | None = None,
            guard: ScopeGuard | None = None) -> dict[str, Any]:
    """Do one step through the executor (the one write path). Returns what happened (``{"writes": n, ...}``).

    The step's target is checked against ``guard`` first (raises :class:`OutOfScope`, nothing read or written): the
    workflow only targets what the snapshot read, but a write is where a scope slip would do harm.
    """
    (guard or ScopeGuard(None, intent.subscription)).check(step.target, "step target")
    options = WriteOptions(
        before_write=(lambda _batch: before_write(step)) if before_write is not None else None,
        deadline=deadline,
        on_progress=(lambda _batch, ids, done, total: on_batch(step, ids, done, total)) if on_batch else None,
    )
    result = Executor(gw, options=options).write(step.batch())
    if step.kind in ("lb-write", "update-model") and not result.writes:
        return {"writes": 0, "skipped": "already in place"}
    return {"writes": result.writes}


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
    return [s["id"] for s in snap.scale_set_bodies()]


__all__ = ["VMSS_TYPE", "StillWaiting", "execute", "port_mappings_v1", "port_mappings_v2", "read_snapshot"]
