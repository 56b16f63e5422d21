"""migrate-natpool: replace a NAT pool with an inbound NAT rule V2 over a backend pool holding the same instances.

Swap the NAT pool for the backend pool in the scale-set models, update the instances, then delete the NAT pool and
create the NAT rule V2 in one load-balancer write (Azure refuses NAT rules while any NAT pool is on the load
balancer). The port mapping per instance, old → new, is reported when the operation finishes.
"""

from __future__ import annotations

from typing import Any

from poolkeeper import armjson as aj
from poolkeeper.changes import AddNatRuleV2
from poolkeeper.edge.schemas import MIGRATE_NATPOOL
from poolkeeper.findings import Finding
from poolkeeper.ids import id_key, same_id
from poolkeeper.model import LoadBalancer, Snapshot
from poolkeeper.natrules import nat_rule_v2_refusal
from poolkeeper.ports import port_uses
from poolkeeper.workflows.intents import BACKEND_POOL_CHOICES, INTENT_TAG, Intent
from poolkeeper.workflows.preconditions import (
    RULES_PER_NIC_LIMIT,
    check_policies,
    instance_count,
    nat_pool,
    note,
    refusal,
)
from poolkeeper.workflows.registry import workflow
from poolkeeper.workflows.remove_natpool import remove_steps
from poolkeeper.workflows.step import Raw, Step, affected_scale_sets, finish, recorded_is


def nat_rule_v2_from_pool(lb_id: str, pool: Raw, rule_name: str, backend_pool: str) -> AddNatRuleV2:
    """The NAT rule V2 that keeps the NAT pool's frontend IP, port range, protocol, backend port and settings."""
    pp = aj.props(pool)
    return AddNatRuleV2(
        lb_id=lb_id, rule_name=rule_name, frontend_ip_configuration_id=aj.ref(pp.get("frontendIPConfiguration")) or "",
        protocol=pp.get("protocol", "Tcp"), frontend_port_range_start=int(pp.get("frontendPortRangeStart") or 0),
        frontend_port_range_end=int(pp.get("frontendPortRangeEnd") or 0), backend_port=int(pp.get("backendPort") or 0),
        pool_id=aj.child_id(lb_id, "backendAddressPools", backend_pool),
        idle_timeout_in_minutes=pp.get("idleTimeoutInMinutes"), enable_floating_ip=pp.get("enableFloatingIP"),
        enable_tcp_reset=pp.get("enableTcpReset"))


def migrate_steps(intent: Intent, snap: Snapshot) -> list[Step]:
    assert snap.focus_lb is not None
    lb, lb_id = snap.focus_lb, snap.focus_lb["id"]
    p = intent.params
    pool = aj.child(lb, "inboundNatPools", p["natPool"])
    target = p["backendPool"]
    target_id = aj.child_id(lb_id, "backendAddressPools", target)
    rule_name = p.get("ruleName") or p["natPool"]
    if pool is None:
        if aj.child(lb, "inboundNatRules", rule_name) is None and recorded_is(intent, snap):
            raise ValueError(
                f"NAT pool {p['natPool']} is gone from {lb_id} but NAT rule {rule_name} was never created (someone "
                "deleted the pool outside this operation). Recreate the rule from the operation's backup "
                f"(load balancer JSON) and clear the tag {INTENT_TAG!r}"
            )
        return finish(intent, snap, [])
    create = target if aj.child(lb, "backendAddressPools", target) is None else None
    rule = nat_rule_v2_from_pool(lb_id, pool, rule_name, target)
    return remove_steps(intent, snap, add_rule=rule, add_pool=target_id, create_pool=create)


def _pool_members(pool: dict[str, Any]) -> set[str]:
    return {id_key(i) for i in aj.ref_ids(aj.props(pool).get("backendIPConfigurations"))}


def _matching_pool(snap: Snapshot, nat_members: set[str], sets: list[dict[str, Any]]) -> str | None:
    """A backend pool with exactly the NAT pool's instances: referenced by exactly those scale-set models, and
    (where Azure lists them) with exactly those instances' ipConfigurations as members."""
    lb = snap.focus_lb or {}
    set_keys = {id_key(s["id"]) for s in sets}
    for pool in aj.children(lb, "backendAddressPools"):
        pid = aj.child_id(lb["id"], "backendAddressPools", pool["name"])
        users = {id_key(s["id"]) for s in snap.scale_set_bodies()
                 if aj.model_references(s, "loadBalancerBackendAddressPools", pid)}
        if users != set_keys:
            continue
        members = _pool_members(pool)
        if nat_members and members and members != nat_members:
            continue
        if members and any(aj.scale_set_of_ip_configuration(m) is None for m in members):
            continue  # standalone VMs are in it too
        return str(pool["name"])
    return None


@workflow("migrate-natpool", schema=MIGRATE_NATPOOL, next_steps=migrate_steps)
def resolve(intent: Intent, p: dict[str, Any], snap: Snapshot, found: list[Finding]) -> None:
    """Refusals and notes; resolves ``backendPool`` (reused or created) and ``createPool``."""
    lb = snap.focus_lb or {}
    pool = nat_pool(p["natPool"], snap, found)
    if pool is None:
        rule = aj.child(lb, "inboundNatRules", p.get("ruleName") or p["natPool"])
        if rule is not None:
            found[-1] = note("NothingToDo", f"NAT pool {p['natPool']} is gone and NAT rule V2 {rule['name']} exists: "
                                            "the migration is complete; nothing to do", lb["id"])
        p.setdefault("backendPool", p.get("backendPool") or "")
        return
    pool_id = aj.child_id(lb["id"], "inboundNatPools", pool["name"])
    pp = aj.props(pool)
    sets = affected_scale_sets(snap, intent, pool_id)
    check_policies(sets, intent, found, probe_change=False)
    v2_refusal = nat_rule_v2_refusal(aj.name_of(lb["id"]), aj.sku_name(lb))  # shared with the planner
    if v2_refusal is not None:
        found.append(refusal(v2_refusal.code, f"{v2_refusal.message}, or use remove-natpool", lb["id"]))
    others = [x["name"] for x in aj.children(lb, "inboundNatPools") if x["name"].lower() != pool["name"].lower()]
    if others:
        found.append(refusal(
            "AddingOrUpdatingNatRulesWhenNatPoolIsPresentOnLoadbalancerIsNotSupported",
            f"{aj.name_of(lb['id'])} has other NAT pools ({', '.join(others)}); Azure refuses to add a NAT rule while "
            "any NAT pool is on the load balancer. Migrate or remove those first", lb["id"],
        ))
    rule_name = p.get("ruleName") or pool["name"]
    if aj.child(lb, "inboundNatRules", rule_name) is not None:
        found.append(refusal("InboundNatRuleNameConflict", f"a NAT rule named {rule_name} already exists; pass "
                                                              "ruleName to choose another name", lb["id"]))
    # --- the backend pool the rule will target
    nat_members = {id_key(aj.ref(aj.props(r).get("backendIPConfiguration")) or "")
                   for r in aj.derived_rules(lb, pool["name"])}
    choice = p.get("backendPool") or "reuse-matching-or-create"
    matching = _matching_pool(snap, nat_members, sets)
    if choice in ("reuse-matching", "reuse-matching-or-create"):
        if matching:
            p["backendPool"], p["createPool"] = matching, False
        elif choice == "reuse-matching":
            found.append(refusal("NoMatchingBackendPool",
                                    f"no backend pool of {aj.name_of(lb['id'])} holds exactly NAT pool "
                                    f"{pool['name']}'s instances; pass backendPool=create (or a new pool's name)",
                                 pool_id))
            return
        else:
            choice = "create"
    if choice == "create":
        name = f"{pool['name']}-backend"
        if aj.child(lb, "backendAddressPools", name) is not None and name != matching:
            found.append(refusal("BackendPoolNameConflict",
                                    f"backend pool {name} exists but does not hold exactly NAT pool "
                                    f"{pool['name']}'s instances; pass a pool name", pool_id))
            return
        p["backendPool"], p["createPool"] = name, aj.child(lb, "backendAddressPools", name) is None
    elif choice not in BACKEND_POOL_CHOICES and choice != "reuse-matching-or-create":
        existing = aj.child(lb, "backendAddressPools", choice)
        if existing is not None and choice != matching:
            found.append(refusal(
                "BackendPoolMembershipMismatch",
                f"backend pool {choice} does not hold exactly NAT pool {pool['name']}'s instances (its members or the "
                "scale sets referencing it differ); a NAT rule V2 would give ports to other machines or miss some. "
                "Pass backendPool=create or reuse-matching", pool_id,
            ))
            return
        p["backendPool"], p["createPool"] = choice, existing is None
    target_id = aj.child_id(lb["id"], "backendAddressPools", p["backendPool"])
    # --- ports
    start, end = int(pp.get("frontendPortRangeStart") or 0), int(pp.get("frontendPortRangeEnd") or 0)
    protocol = str(pp.get("protocol") or "Tcp").lower()
    frontend_id = aj.ref(pp.get("frontendIPConfiguration")) or ""
    count = instance_count(snap, sets)
    if end - start + 1 < count:
        found.append(refusal("InboundNatPoolFrontendPortRangeSmallerThanRequestedPorts",
                                f"ports {start}-{end} give {end - start + 1} frontend ports but the scale sets have "
                                f"{count} instances", pool_id))
    _check_ports(lb, pool, frontend_id, protocol, (start, end), found)
    for rule in aj.children(lb, "loadBalancingRules"):
        rp = aj.props(rule)
        pools = [aj.ref(rp.get("backendAddressPool")), *aj.ref_ids(rp.get("backendAddressPools"))]
        same_proto = str(rp.get("protocol", "")).lower() in (protocol, "all") or protocol == "all"
        if same_proto and any(same_id(x, target_id) for x in pools) and rp.get("backendPort") == pp.get(
            "backendPort"
        ) and not rp.get("enableFloatingIP"):
            found.append(refusal("RulesUseSameBackendPortProtocolAndPool",
                                 f"load-balancing rule {rule['name']} sends {protocol} to backend port "
                                 f"{rp.get('backendPort')} on pool {p['backendPool']}, the NAT rule's backend port; "
                                 "choose another backend pool (backendPool=create)", rule.get("id") or lb["id"]))
    _check_rules_per_nic(snap, sets, target_id, pool_id, found)
    found.append(note("PortsMayChange", "NAT rule V2 hands out frontend ports from the same range, but Azure "
                                        "assigns them itself: an instance may get a different port than it had. The "
                                        "old → new mapping is reported per instance when the operation finishes",
                      pool_id))
    found.append(note("ConnectivityGap", "per-instance SSH/RDP through the load balancer is unavailable for an "
                                         "instance from the moment it is updated to the model without the NAT pool "
                                         "until the NAT rule V2 is created (the load-balancer write right after the "
                                         "last instance batch); Azure refuses NAT rules while the NAT pool exists",
                      pool_id))


def _check_ports(lb: Raw, pool: Raw, frontend_id: str, protocol: str, span: tuple[int, int],
                 found: list[Finding]) -> None:
    """The NAT rule V2 takes the pool's port range: nothing else on the frontend may use those ports
    (``ports.port_uses``, the one port-occupancy rule; the rules Azure derived from the pool go with it, and other
    NAT pools are refused on their own above)."""
    start, end = span
    derived = [str(r.get("name", "")) for r in aj.derived_rules(lb, pool["name"])]
    for use in port_uses(LoadBalancer.from_arm(lb), frontend_id, protocol, exclude_rules=derived):
        if use.kind == "inboundNatPools" or not use.ports or use.ports.start > end or use.ports[-1] < start:
            continue
        lo, hi = use.ports.start, use.ports[-1]
        if use.kind == "inboundNatRules":
            found.append(refusal("InboundNatRuleFrontendPortConflict",
                                 f"NAT rule {use.name} already uses frontend ports {lo}-{hi} on the same frontend, "
                                 f"overlapping {start}-{end}", aj.child_id(lb["id"], "inboundNatRules", use.name)))
        else:
            port = f"{lo}" if lo == hi else "0 (HA ports: every port)"
            found.append(refusal("LoadBalancingRuleFrontendPortConflict",
                                 f"load-balancing rule {use.name} uses frontend port {port} inside {start}-{end} on "
                                 "the same frontend", aj.child_id(lb["id"], "loadBalancingRules", use.name)))


def _check_rules_per_nic(snap: Snapshot, sets: list[dict[str, Any]], target_id: str, nat_pool_id: str,
                         found: list[Finding]) -> None:
    """Rules that will apply to each instance NIC after the change must stay within Azure's per-NIC limit."""
    lb = snap.focus_lb or {}
    for vmss in sets:
        pools = {id_key(x) for x in aj.model_refs(vmss, "loadBalancerBackendAddressPools")} | {id_key(target_id)}
        nat_pools = {id_key(x) for x in aj.model_refs(vmss, "loadBalancerInboundNatPools")} - {id_key(nat_pool_id)}
        count = len(nat_pools) + 1  # the new NAT rule V2
        for collection in ("loadBalancingRules", "outboundRules", "inboundNatRules"):
            for rule in aj.children(lb, collection):
                rp = aj.props(rule)
                refs = {id_key(x) for x in [aj.ref(rp.get("backendAddressPool")), *aj.ref_ids(
                    rp.get("backendAddressPools"))] if x}
                if refs & pools:
                    count += 1
        if count > RULES_PER_NIC_LIMIT:
            found.append(refusal("LoadBalancerRuleCountLimitReachedForNic",
                                    f"instances of {vmss['name']} would be in {count} load-balancer rules, over "
                                    f"Azure's {RULES_PER_NIC_LIMIT} per NIC", vmss["id"]))
