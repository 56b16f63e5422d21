"""A pure, strict stand-in for the executor: applies a plan to a snapshot's raw JSON and returns a new snapshot.

Strict on purpose: it raises where Azure would refuse (assigning a NAT rule that does not exist yet, deleting a rule
a NIC still references, writing a Uniform instance NIC), so plan ordering bugs fail the tests.
"""

from __future__ import annotations

import copy
from typing import Any

from poolkeeper.changes import (
    OWNER_TAG,
    AssignNatRule,
    ClearUpgradeRecord,
    CreateNatRule,
    DeleteNatRule,
    EnsureNatRuleV2,
    JoinPool,
    LeavePool,
    Plan,
    Report,
    SetScaleSetModelPool,
    UnassignNatRule,
    UpgradeInstances,
)
from poolkeeper.ids import id_key
from poolkeeper.model import Snapshot
from poolkeeper.upgraderecord import decode, with_record


class Refused(AssertionError):
    """What Azure would answer with a 400."""


def _by_id(items: list[dict[str, Any]], rid: str) -> dict[str, Any]:
    for item in items:
        if id_key(item["id"]) == id_key(rid):
            return item
    raise Refused(f"{rid} not found")


def _refs(props: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return props.setdefault(key, [])


def _ipconfig(nic: dict[str, Any], name: str) -> dict[str, Any]:
    for ic in nic["properties"]["ipConfigurations"]:
        if ic["name"].lower() == name.lower():
            return ic
    raise Refused(f"{nic['id']} has no ip configuration {name}")


def _rules(lb: dict[str, Any]) -> list[dict[str, Any]]:
    return lb["properties"].setdefault("inboundNatRules", [])


def apply_plan_to_snapshot(snapshot: Snapshot, plan: Plan) -> Snapshot:
    state = copy.deepcopy(snapshot.to_arm())
    nics, lbs, sss = state["nics"], state["load_balancers"], state["scale_sets"]
    instances = {id_key(k): v for k, v in state["scale_set_instances"].items()}

    def nic_of(nic_id: str) -> dict[str, Any]:
        if "/virtualmachinescalesets/" in id_key(nic_id):
            raise Refused(f"{nic_id} is a Uniform instance NIC; it cannot be written directly")
        return _by_id(nics, nic_id)

    def lb_of(child_id: str) -> dict[str, Any]:
        return _by_id(lbs, id_key(child_id).split("/inboundnatrules/")[0].split("/backendaddresspools/")[0])

    for c in plan.changes:
        if isinstance(c, Report):
            continue
        if isinstance(c, JoinPool):
            n = nic_of(c.nic_id)
            ip = _ipconfig(n, c.ip_configuration)["properties"]
            pools = _refs(ip, "loadBalancerBackendAddressPools")
            if not any(id_key(p["id"]) == id_key(c.pool_id) for p in pools):
                pools.append({"id": c.pool_id})
            n.setdefault("tags", {})[OWNER_TAG] = c.owner_tag
        elif isinstance(c, LeavePool):
            n = nic_of(c.nic_id)
            ip = _ipconfig(n, c.ip_configuration)["properties"]
            ip["loadBalancerBackendAddressPools"] = [p for p in ip.get("loadBalancerBackendAddressPools", [])
                                                     if id_key(p["id"]) != id_key(c.pool_id)]
            if c.remove_owner_tag:
                n.get("tags", {}).pop(OWNER_TAG, None)
        elif isinstance(c, CreateNatRule):
            lb = _by_id(lbs, c.lb_id)
            if lb["properties"].get("inboundNatPools"):
                raise Refused("AddingOrUpdatingNatRulesWhenNatPoolIsPresentOnLoadbalancerIsNotSupported")
            rules = [r for r in _rules(lb) if r["name"].lower() != c.rule_name.lower()]
            old = next((r for r in _rules(lb) if r["name"].lower() == c.rule_name.lower()), None)
            props: dict[str, Any] = {"frontendIPConfiguration": {"id": c.frontend_ip_configuration_id},
                                     "frontendPort": c.frontend_port, "backendPort": c.backend_port,
                                     "protocol": c.protocol}
            if old and not c.replace:
                have = old["properties"]
                if (id_key(have["frontendIPConfiguration"]["id"]), have.get("frontendPort"), have.get("backendPort"),
                        str(have.get("protocol")).lower()) != (id_key(c.frontend_ip_configuration_id),
                                                               c.frontend_port, c.backend_port, c.protocol.lower()):
                    raise Refused(f"rule {c.rule_name} exists with other settings and the change does not replace")
            if old and old["properties"].get("backendIPConfiguration"):
                props["backendIPConfiguration"] = old["properties"]["backendIPConfiguration"]
            rules.append({"name": c.rule_name, "id": c.rule_id, "properties": props})
            lb["properties"]["inboundNatRules"] = rules
        elif isinstance(c, EnsureNatRuleV2):
            lb = _by_id(lbs, c.lb_id)
            if lb["properties"].get("inboundNatPools"):
                raise Refused("AddingOrUpdatingNatRulesWhenNatPoolIsPresentOnLoadbalancerIsNotSupported")
            rules = [r for r in _rules(lb) if r["name"].lower() != c.rule_name.lower()]
            rules.append({"name": c.rule_name, "id": c.rule_id, "properties": {
                "frontendIPConfiguration": {"id": c.frontend_ip_configuration_id}, "protocol": c.protocol,
                "frontendPortRangeStart": c.frontend_port_range_start,
                "frontendPortRangeEnd": c.frontend_port_range_end, "backendPort": c.backend_port,
                "backendAddressPool": {"id": c.pool_id}}})
            lb["properties"]["inboundNatRules"] = rules
        elif isinstance(c, DeleteNatRule):
            lb = _by_id(lbs, c.lb_id)
            for n in nics:
                for ic in n["properties"].get("ipConfigurations", []):
                    if any(id_key(r["id"]) == id_key(c.rule_id)
                           for r in ic["properties"].get("loadBalancerInboundNatRules", [])):
                        raise Refused(f"rule {c.rule_name} is still referenced by {ic['id']}")
            lb["properties"]["inboundNatRules"] = [r for r in _rules(lb)
                                                   if r["name"].lower() != c.rule_name.lower()]
        elif isinstance(c, AssignNatRule):
            lb = lb_of(c.rule_id)
            rule = _by_id(_rules(lb), c.rule_id)
            n = nic_of(c.nic_id)
            ic = _ipconfig(n, c.ip_configuration)
            holder = rule["properties"].get("backendIPConfiguration")
            if holder and id_key(holder["id"]) != id_key(ic["id"]) and any(
                    id_key(r["id"]) == id_key(c.rule_id)
                    for other in nics for oic in other["properties"].get("ipConfigurations", [])
                    for r in oic["properties"].get("loadBalancerInboundNatRules", [])):
                raise Refused(f"rule {c.rule_id} is already used by {holder['id']}")
            refs = _refs(ic["properties"], "loadBalancerInboundNatRules")
            if not any(id_key(r["id"]) == id_key(c.rule_id) for r in refs):
                refs.append({"id": c.rule_id})
            rule["properties"]["backendIPConfiguration"] = {"id": ic["id"]}
        elif isinstance(c, UnassignNatRule):
            n = nic_of(c.nic_id)
            ic = _ipconfig(n, c.ip_configuration)
            ic["properties"]["loadBalancerInboundNatRules"] = [
                r for r in ic["properties"].get("loadBalancerInboundNatRules", [])
                if id_key(r["id"]) != id_key(c.rule_id)]
            try:
                rule = _by_id(_rules(lb_of(c.rule_id)), c.rule_id)
            except Refused:
                continue
            holder = rule["properties"].get("backendIPConfiguration")
            if holder and id_key(holder["id"]) == id_key(ic["id"]):
                del rule["properties"]["backendIPConfiguration"]
        elif isinstance(c, SetScaleSetModelPool):
            ss = _by_id(sss, c.scale_set_id)
            for nc in ss["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"]:
                if nc["name"] != c.nic_config:
                    continue
                for ic in nc["properties"]["ipConfigurations"]:
                    if ic["name"] == c.ip_config:
                        _refs(ic["properties"], "loadBalancerBackendAddressPools").append({"id": c.pool_id})
            if c.record_instance_ids:  # the same PUT records what it makes stale
                ss["tags"] = with_record(ss.get("tags"), decode(ss.get("tags")) | set(c.record_instance_ids))
            for inst in instances.get(id_key(c.scale_set_id), []):
                inst["properties"]["latestModelApplied"] = False
        elif isinstance(c, ClearUpgradeRecord):
            ss = _by_id(sss, c.scale_set_id)
            ss["tags"] = with_record(ss.get("tags"), decode(ss.get("tags")) - set(c.instance_ids))
            if not ss["tags"]:
                del ss["tags"]
        elif isinstance(c, UpgradeInstances):
            assert len(c.instance_ids) <= c.batch_size
            for inst in instances.get(id_key(c.scale_set_id), []):
                if inst["instanceId"] in c.instance_ids:
                    inst["properties"]["latestModelApplied"] = True
        else:  # pragma: no cover
            raise AssertionError(f"unknown change {c!r}")
    # ARM fills the pool's backendIPConfigurations back-references from the NIC side.
    for lb in lbs:
        for pool in lb["properties"].get("backendAddressPools", []):
            pool.setdefault("properties", {})["backendIPConfigurations"] = [
                {"id": ic["id"]} for n in nics for ic in n["properties"].get("ipConfigurations", [])
                if any(id_key(p["id"]) == id_key(pool["id"])
                       for p in ic["properties"].get("loadBalancerBackendAddressPools", []))]
    state["scale_set_instances"] = {ss["id"]: instances.get(id_key(ss["id"]), []) for ss in sss}
    return Snapshot.from_arm(**state)
