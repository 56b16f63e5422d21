"""Apply a plan to a snapshot's raw JSON the way production does, and check what Azure would refuse.

The planner's tests converge against the production write path, not a stand-in: the plan is grouped into write
batches by :meth:`Plan.group_by_resource` (as the executor does) and each batch is applied to the raw body with
the registered edits of :mod:`poolkeeper.mutations` (as the executor does after its fresh read). What ARM itself
does around a write is modelled here, and only that:

* it fills the ids of new children and the back-references (a NAT rule's ``backendIPConfiguration``, a pool's
  ``backendIPConfigurations``) from the NICs that reference them;
* a scale-set model change makes every instance out of date; ``manualUpgrade`` brings the named ones up to date;
* it refuses, with a 400, what :func:`refusals` lists: a NIC referencing a NAT rule that does not exist
  (assigning a rule before it is created, or deleting a rule a NIC still references), one per-VM rule used by two
  ip configurations, NAT rules added or changed while a NAT pool exists, a direct write of a Uniform instance's NIC.

Strict on purpose, so plan ordering bugs fail the tests. A ``StaleChange`` from an edit also fails them: a plan
applied to the very state it was made from must fit.
"""

from __future__ import annotations

import copy
from typing import Any

from poolkeeper.changes import Plan, UpgradeInstances, WriteBatch
from poolkeeper.ids import id_key
from poolkeeper.model import Snapshot
from poolkeeper.mutations import edit_resource

Raw = dict[str, Any]
_COLLECTION = {"loadBalancer": "load_balancers", "networkInterface": "nics", "scaleSet": "scale_sets"}
_LB_CHILDREN = ("frontendIPConfigurations", "backendAddressPools", "inboundNatRules", "inboundNatPools",
                "loadBalancingRules", "probes", "outboundRules")


class Refused(AssertionError):
    """What Azure would answer with a 400."""


def apply_plan_to_snapshot(snapshot: Snapshot, plan: Plan) -> Snapshot:
    """The snapshot as it is after the plan's writes, each made with the production edits."""
    state = copy.deepcopy(snapshot.to_arm())
    instances = {id_key(k): v for k, v in state["scale_set_instances"].items()}
    for batch in plan.group_by_resource():
        before = set(refusals(state))  # a write is refused for what it breaks, not for what it finds broken
        if batch.target_kind == "scaleSetInstances":
            _manual_upgrade(instances, batch)
        else:
            _write(state, instances, batch)
        problems = sorted(set(refusals(state)) - before)
        if problems:
            raise Refused(f"{batch.target_kind} write of {batch.resource_id}: " + "; ".join(problems))
    state["scale_set_instances"] = {ss["id"]: instances.get(id_key(ss["id"]), []) for ss in state["scale_sets"]}
    return Snapshot.from_arm(**state)


def _write(state: dict[str, Any], instances: dict[str, list[Raw]], batch: WriteBatch) -> None:
    """One PUT: the production edit of the body, then what ARM fills in and refuses."""
    if batch.target_kind == "networkInterface" and "/virtualmachinescalesets/" in id_key(batch.resource_id):
        raise Refused(f"{batch.resource_id} is a Uniform instance NIC; it cannot be written directly")
    bodies: list[Raw] = state[_COLLECTION[batch.target_kind]]
    index = next((i for i, b in enumerate(bodies) if id_key(b["id"]) == id_key(batch.resource_id)), None)
    if index is None:
        raise Refused(f"{batch.resource_id} not found")
    before = bodies[index]
    after = edit_resource(before, batch.changes, batch.target_kind)
    if batch.target_kind == "loadBalancer":
        _check_nat_pool_rule_lock(before, after)
        _fill_child_ids(after)
    if batch.target_kind == "scaleSet" and _model(before) != _model(after):
        for inst in instances.get(id_key(before["id"]), []):
            inst["properties"]["latestModelApplied"] = False
    bodies[index] = after
    _fill_back_references(state)


def _manual_upgrade(instances: dict[str, list[Raw]], batch: WriteBatch) -> None:
    for c in batch.changes:
        assert isinstance(c, UpgradeInstances)
        assert len(c.instance_ids) <= c.batch_size
        for inst in instances.get(id_key(c.scale_set_id), []):
            if inst["instanceId"] in c.instance_ids:
                inst["properties"]["latestModelApplied"] = True


def _model(vmss: Raw) -> Any:
    return (vmss.get("properties") or {}).get("virtualMachineProfile")


def _check_nat_pool_rule_lock(before: Raw, after: Raw) -> None:
    """AddingOrUpdatingNatRulesWhenNatPoolIsPresentOnLoadbalancerIsNotSupported: with a NAT pool present, NAT rules
    may only be deleted."""
    if not (after.get("properties") or {}).get("inboundNatPools"):
        return
    old = {r["name"].lower(): r.get("properties") for r in (before.get("properties") or {}).get("inboundNatRules", [])}
    for rule in (after.get("properties") or {}).get("inboundNatRules", []):
        if old.get(rule["name"].lower()) != rule.get("properties"):
            raise Refused("AddingOrUpdatingNatRulesWhenNatPoolIsPresentOnLoadbalancerIsNotSupported")


def _fill_child_ids(lb: Raw) -> None:
    for collection in _LB_CHILDREN:
        for child in (lb.get("properties") or {}).get(collection) or []:
            child.setdefault("id", f"{lb['id']}/{collection}/{child['name']}")


def _ip_configurations(state: dict[str, Any]) -> list[Raw]:
    return [ic for n in state["nics"] for ic in (n.get("properties") or {}).get("ipConfigurations", [])]


def _fill_back_references(state: dict[str, Any]) -> None:
    """ARM's network provider keeps the load-balancer side of every NIC reference."""
    ics = _ip_configurations(state)
    known_ics = {id_key(ic["id"]) for ic in ics}
    rule_holder: dict[str, str] = {}
    for ic in ics:
        for ref in ic["properties"].get("loadBalancerInboundNatRules", []):
            rule_holder.setdefault(id_key(ref["id"]), ic["id"])
    for lb in state["load_balancers"]:
        props = lb.setdefault("properties", {})
        for rule in props.get("inboundNatRules", []):
            rp = rule.setdefault("properties", {})
            if rp.get("backendAddressPool"):
                continue  # V2: Azure maps ports to the pool's members itself
            holder = rule_holder.get(id_key(rule["id"]))
            if holder is not None:
                rp["backendIPConfiguration"] = {"id": holder}
            elif id_key((rp.get("backendIPConfiguration") or {}).get("id", "")) in known_ics:
                del rp["backendIPConfiguration"]  # its NIC (which we know) let go of it
        for pool in props.get("backendAddressPools", []):
            pool.setdefault("properties", {})["backendIPConfigurations"] = [
                {"id": ic["id"]} for ic in ics
                if any(id_key(p["id"]) == id_key(pool["id"])
                       for p in ic["properties"].get("loadBalancerBackendAddressPools", []))]


def refusals(state: dict[str, Any]) -> list[str]:
    """What Azure refuses in the state after a write: NIC references to NAT rules that do not exist (assigned
    before created, or deleted while referenced), and a per-VM rule used by two ip configurations."""
    rules: dict[str, Raw] = {id_key(r["id"]): r for lb in state["load_balancers"]
                             for r in (lb.get("properties") or {}).get("inboundNatRules", [])}
    users: dict[str, list[str]] = {}
    problems: list[str] = []
    for ic in _ip_configurations(state):
        for ref in ic["properties"].get("loadBalancerInboundNatRules", []):
            key = id_key(ref["id"])
            lb_key = key.split("/inboundnatrules/")[0]
            if key not in rules and any(id_key(lb["id"]) == lb_key for lb in state["load_balancers"]):
                problems.append(f"{ic['id']} references NAT rule {ref['id']}, which does not exist")
            users.setdefault(key, []).append(ic["id"])
    for key, holders in users.items():
        rule = rules.get(key)
        if rule is not None and not (rule.get("properties") or {}).get("backendAddressPool") and len(holders) > 1:
            problems.append(f"NAT rule {rule['name']} is used by {', '.join(holders)}")
    return problems
