"""remove-natpool: take a NAT pool out of the scale-set models, update the instances, delete the pool.

Optionally also the pool's frontend IP configuration and its public IP. The steps (:func:`remove_steps`) are also the
tail of migrate-natpool (:mod:`poolkeeper.workflows.migrate_natpool`).
"""

from __future__ import annotations

from typing import Any

from poolkeeper import armjson as aj
from poolkeeper.changes import (
    AddBackendPool,
    AddModelRef,
    AddNatRuleV2,
    Change,
    DeleteLbChild,
    DeleteNatPool,
    DropModelRef,
)
from poolkeeper.edge.schemas import REMOVE_NATPOOL
from poolkeeper.findings import Finding
from poolkeeper.ids import id_key
from poolkeeper.model import Snapshot
from poolkeeper.workflows.intents import PIP_TYPE, Intent
from poolkeeper.workflows.preconditions import check_policies, nat_pool, note, refusal
from poolkeeper.workflows.registry import workflow
from poolkeeper.workflows.step import (
    Step,
    affected_scale_sets,
    delete_public_ip_step,
    finish,
    instance_steps,
    lb_step,
    model_step,
    pending_after_model_change,
)


def remove_steps(intent: Intent, snap: Snapshot, *, add_rule: AddNatRuleV2 | None = None,
                 add_pool: str | None = None, create_pool: str | None = None) -> list[Step]:
    """The steps of remove-natpool; also the tail of migrate-natpool, which adds a backend pool reference to the
    models and the NAT rule V2 to the load-balancer write that deletes the NAT pool."""
    assert snap.focus_lb is not None
    lb, lb_id = snap.focus_lb, snap.focus_lb["id"]
    p = intent.params
    pool_name = p["natPool"]
    pool = aj.child(lb, "inboundNatPools", pool_name)
    pool_id = aj.child_id(lb_id, "inboundNatPools", pool_name)
    work: list[Step] = []
    if pool is not None:
        if create_pool is not None:
            work.append(lb_step(lb_id, "create-backend-pool", f"create backend pool {create_pool}",
                                [AddBackendPool(lb_id=lb_id, pool_name=create_pool)], "prepare"))
        sets = affected_scale_sets(snap, intent, pool_id)
        changing: dict[str, bool] = {}
        for vmss in sets:
            changes: list[Change] = []
            if aj.model_references(vmss, "loadBalancerInboundNatPools", pool_id):
                changes.append(DropModelRef(scale_set_id=vmss["id"], key="loadBalancerInboundNatPools",
                                            ref_id=pool_id))
            if add_pool is not None and not aj.model_references(vmss, "loadBalancerBackendAddressPools", add_pool):
                changes.append(AddModelRef(scale_set_id=vmss["id"], key="loadBalancerBackendAddressPools",
                                           ref_id=add_pool, beside=pool_id))
            changing[id_key(vmss["id"])] = bool(changes)
            if changes:
                title = f"remove NAT pool {pool_name} from the scale-set model"
                if any(isinstance(c, AddModelRef) for c in changes):
                    title = f"swap NAT pool {pool_name} for backend pool {aj.name_of(add_pool or '')} in the model"
                work.append(model_step(vmss, "update-model", title, changes, "model"))
        for vmss in sets:
            pending = pending_after_model_change(snap, vmss, changing[id_key(vmss["id"])])
            work += instance_steps(vmss, pending, intent.batch_size, "instances", intent.allow_rolling)
        title = f"delete NAT pool {pool_name}"
        lb_changes: list[Change] = [DeleteNatPool(lb_id=lb_id, pool_name=pool_name)]
        if add_rule is not None:
            title += f" and create NAT rule V2 {add_rule.rule_name} (one load-balancer write)"
            lb_changes.append(add_rule)
        work.append(lb_step(lb_id, "delete-natpool", title, lb_changes, "load-balancer"))
    elif add_rule is not None and aj.child(lb, "inboundNatRules", add_rule.rule_name) is None:
        work.append(lb_step(lb_id, "create-nat-rule", f"create NAT rule V2 {add_rule.rule_name}", [add_rule],
                            "load-balancer"))
    frontend = p.get("frontend")
    if p.get("deleteFrontend") and frontend and aj.child(lb, "frontendIPConfigurations", frontend) is not None:
        work.append(lb_step(lb_id, "delete-frontend", f"delete frontend IP configuration {frontend}",
                            [DeleteLbChild(lb_id=lb_id, collection="frontendIPConfigurations", name=frontend)],
                            "frontend"))
    pip = snap.public_ip(aj.expand_ref(p["publicIp"], lb_id, PIP_TYPE)) if p.get("publicIp") else None
    if p.get("deletePublicIp") and pip is not None:
        work.append(delete_public_ip_step(pip.id, "frontend"))
    return finish(intent, snap, work)


@workflow("remove-natpool", schema=REMOVE_NATPOOL, next_steps=remove_steps)
def resolve(intent: Intent, p: dict[str, Any], snap: Snapshot, found: list[Finding]) -> None:
    """Refusals and notes; resolves ``frontend`` (the pool's) and ``publicIp`` (the frontend's, to delete)."""
    assert snap.focus_lb is not None
    lb = snap.focus_lb
    pool = nat_pool(p["natPool"], snap, found)
    if pool is None:
        return
    pool_id = aj.child_id(lb["id"], "inboundNatPools", pool["name"])
    check_policies(affected_scale_sets(snap, intent, pool_id), intent, found, probe_change=False)
    frontend_id = aj.ref(aj.props(pool).get("frontendIPConfiguration")) or ""
    p["frontend"] = aj.name_of(frontend_id) if frontend_id else None
    if p.get("deleteFrontend") and frontend_id:
        users = [u for u in aj.references_to(lb, frontend_id)
                 if u.lower() != f"inboundnatpools/{pool['name']}".lower()
                 and not aj.derived_rule_pattern(pool["name"]).match(u.split("/", 1)[1])]
        if users:
            outbound = [u for u in users if u.startswith("outboundRules/")]
            found.append(refusal(
                "InvalidResourceReference",
                f"frontend IP configuration {aj.name_of(frontend_id)} is still used by {', '.join(users)}"
                + (" (outbound rules keep SNAT on it)" if outbound else "")
                + "; Azure refuses to delete a referenced frontend. Drop deleteFrontend or move those first",
                frontend_id,
            ))
        frontend = aj.child(lb, "frontendIPConfigurations", aj.name_of(frontend_id)) or {}
        pip = aj.ref(aj.props(frontend).get("publicIPAddress"))
        if p.get("deletePublicIp"):
            if pip:
                p["publicIp"] = aj.short_ref(pip, lb["id"])
            else:
                found.append(note("NoPublicIp", f"frontend {aj.name_of(frontend_id)} has no public IP; "
                                                "deletePublicIp has nothing to delete", frontend_id))
    found.append(note("ConnectivityGap", f"per-instance access through NAT pool {pool['name']} (ports "
                                         f"{aj.props(pool).get('frontendPortRangeStart')}-"
                                         f"{aj.props(pool).get('frontendPortRangeEnd')}) ends for each instance "
                                         "as it is updated to the new model", pool_id))
