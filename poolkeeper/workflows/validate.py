"""Preconditions: everything Azure would refuse, checked on a snapshot before the first write.

A dry run that passes these means the real run will not be refused for a reason visible now (someone may still
change the estate in between; the run then stops at the refused step with Azure's code, and its intent stays
recorded so it can be resumed once the cause is fixed). Each problem carries the code Azure would answer with, so
operators can search for it.

:func:`resolve` also fixes the choices a request leaves open (which backend pool, which probe, which scale sets),
so that the recorded intent is exact and a resumed run makes the same choices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from poolkeeper.ids import id_key, same_id
from poolkeeper.natrules import nat_rule_v2_refusal
from poolkeeper.workflows import armjson as aj
from poolkeeper.workflows.intents import BACKEND_POOL_CHOICES, INTENT_TAG, Intent
from poolkeeper.workflows.state import Snapshot

RULES_PER_NIC_LIMIT = 300  # LoadBalancerRuleCountLimitReachedForNic


@dataclass(frozen=True)
class Problem:
    """A precondition that fails. ``code`` is Azure's error code for the refusal it predicts (or ours)."""

    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Note:
    """Something the operator should know that does not stop the operation (e.g. the ports may change)."""

    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def resolve(intent: Intent, snap: Snapshot) -> tuple[list[Problem], list[Note]]:
    """Check a *new* operation and fill in its resolved parameters. Nothing is changed in Azure."""
    if snap.lb is None:
        return [Problem("ResourceNotFound", f"load balancer {intent.load_balancer} does not exist or poolkeeper "
                                            "cannot read it; check the id and poolkeeper's role assignment")], []
    if snap.out_of_scope:  # nothing else is judged on a partial view; nothing out of scope was read
        return [Problem("OutOfScope", why) for why in snap.out_of_scope], []
    problems: list[Problem] = []
    notes: list[Note] = []
    recorded = snap.recorded_intent()
    if recorded:
        try:
            other = Intent.from_tag(snap.lb["id"], recorded)
            problems.append(Problem(
                "OperationInProgress",
                f"operation {other.id} ({other.kind}) is recorded on {aj.name_of(snap.lb['id'])} and not finished; "
                f"resume it first (python -m poolkeeper operation resume {other.id}) — one operation per load "
                "balancer at a time",
            ))
        except ValueError as err:
            problems.append(Problem("OperationInProgress", str(err)))
    for sid in intent.scale_set_ids():
        if snap.scale_set(sid) is None:
            problems.append(Problem("ResourceNotFound", f"scale set {sid} (scaleSets) does not exist"))
    if intent.kind == "remove-natpool":
        _check_remove(intent, snap, problems, notes)
    elif intent.kind == "migrate-natpool":
        _check_migrate(intent, snap, problems, notes)
    else:
        _check_probed_port(intent, snap, problems, notes)
    return problems, notes


# ---------------------------------------------------------------------------------------------------- shared
def _nat_pool(intent: Intent, snap: Snapshot, problems: list[Problem], notes: list[Note]) -> dict[str, Any] | None:
    lb = snap.lb or {}
    pool = aj.child(lb, "inboundNatPools", intent.params["natPool"])
    if pool is None:
        names = [p.get("name") for p in aj.children(lb, "inboundNatPools")]
        notes.append(Note("NothingToDo", f"NAT pool {intent.params['natPool']} is not on {aj.name_of(lb['id'])} "
                                         f"(NAT pools there: {names or 'none'}); nothing to do"))
    return pool


def _pool_scale_sets(snap: Snapshot, intent: Intent, pool_id: str) -> list[dict[str, Any]]:
    from poolkeeper.workflows.state import affected_scale_sets

    return affected_scale_sets(snap, intent, pool_id)


def _check_policies(sets: list[dict[str, Any]], intent: Intent, problems: list[Problem], *, probe_change: bool) -> None:
    for vmss in sets:
        mode = aj.upgrade_mode(vmss)
        if mode.lower() == "rolling" and (probe_change or not intent.allow_rolling):
            why = ("a Rolling scale set needs its health probe, so Azure refuses to detach it; switch the upgrade "
                   "policy to Manual for the change and back afterwards" if probe_change else
                   "a Rolling upgrade replaces instances in batches Azure chooses; pass allowRolling=true to accept "
                   "that and let poolkeeper wait for it, or switch the policy to Manual")
            problems.append(Problem("RollingUpgradePolicy", f"scale set {vmss['name']} uses the Rolling upgrade "
                                                            f"policy: {why}"))


def _instance_count(snap: Snapshot, sets: list[dict[str, Any]]) -> int:
    return sum(max(len(snap.instances.get(id_key(s["id"]), [])), aj.capacity(s)) for s in sets)


# ---------------------------------------------------------------------------------------------------- remove
def _check_remove(intent: Intent, snap: Snapshot, problems: list[Problem], notes: list[Note]) -> None:
    lb = snap.lb or {}
    pool = _nat_pool(intent, snap, problems, notes)
    if pool is None:
        return
    pool_id = aj.child_id(lb["id"], "inboundNatPools", pool["name"])
    sets = _pool_scale_sets(snap, intent, pool_id)
    _check_policies(sets, intent, problems, probe_change=False)
    frontend_id = aj.ref(aj.props(pool).get("frontendIPConfiguration")) or ""
    intent.params["frontend"] = aj.name_of(frontend_id) if frontend_id else None
    if intent.params.get("deleteFrontend") and frontend_id:
        users = [u for u in aj.references_to(lb, frontend_id)
                 if u.lower() != f"inboundnatpools/{pool['name']}".lower()
                 and not aj.derived_rule_pattern(pool["name"]).match(u.split("/", 1)[1])]
        if users:
            outbound = [u for u in users if u.startswith("outboundRules/")]
            problems.append(Problem(
                "InvalidResourceReference",
                f"frontend IP configuration {aj.name_of(frontend_id)} is still used by {', '.join(users)}"
                + (" (outbound rules keep SNAT on it)" if outbound else "")
                + "; Azure refuses to delete a referenced frontend. Drop deleteFrontend or move those first",
            ))
        frontend = aj.child(lb, "frontendIPConfigurations", aj.name_of(frontend_id)) or {}
        pip = aj.ref(aj.props(frontend).get("publicIPAddress"))
        if intent.params.get("deletePublicIp"):
            if pip:
                intent.params["publicIp"] = aj.short_ref(pip, lb["id"])
            else:
                notes.append(Note("NoPublicIp", f"frontend {aj.name_of(frontend_id)} has no public IP; "
                                                "deletePublicIp has nothing to delete"))
    notes.append(Note("ConnectivityGap", f"per-instance access through NAT pool {pool['name']} (ports "
                                         f"{aj.props(pool).get('frontendPortRangeStart')}-"
                                         f"{aj.props(pool).get('frontendPortRangeEnd')}) ends for each instance as "
                                         "it is updated to the new model"))


# ---------------------------------------------------------------------------------------------------- migrate
def _pool_members(pool: dict[str, Any]) -> set[str]:
    return {id_key(i) for i in aj.ref_ids(aj.props(pool).get("backendIPConfigurations"))}


def _matching_pool(snap: Snapshot, nat_members: set[str], sets: list[dict[str, Any]]) -> str | None:
    """A backend pool with exactly the NAT pool's instances: referenced by exactly those scale-set models, and
    (where Azure lists them) with exactly those instances' ipConfigurations as members."""
    lb = snap.lb or {}
    set_keys = {id_key(s["id"]) for s in sets}
    for pool in aj.children(lb, "backendAddressPools"):
        pid = aj.child_id(lb["id"], "backendAddressPools", pool["name"])
        users = {k for k, s in snap.scale_sets.items()
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


def _check_migrate(intent: Intent, snap: Snapshot, problems: list[Problem], notes: list[Note]) -> None:
    lb = snap.lb or {}
    p = intent.params
    pool = _nat_pool(intent, snap, problems, notes)
    if pool is None:
        rule = aj.child(lb, "inboundNatRules", p.get("ruleName") or p["natPool"])
        if rule is not None:
            notes[-1] = Note("NothingToDo", f"NAT pool {p['natPool']} is gone and NAT rule V2 {rule['name']} exists: "
                                            "the migration is complete; nothing to do")
        p.setdefault("backendPool", p.get("backendPool") or "")
        return
    pool_id = aj.child_id(lb["id"], "inboundNatPools", pool["name"])
    pp = aj.props(pool)
    sets = _pool_scale_sets(snap, intent, pool_id)
    _check_policies(sets, intent, problems, probe_change=False)
    v2_refusal = nat_rule_v2_refusal(aj.name_of(lb["id"]), aj.sku_name(lb))  # shared with the planner
    if v2_refusal is not None:
        problems.append(Problem(v2_refusal.code, f"{v2_refusal.message}, or use remove-natpool"))
    others = [x["name"] for x in aj.children(lb, "inboundNatPools") if x["name"].lower() != pool["name"].lower()]
    if others:
        problems.append(Problem(
            "AddingOrUpdatingNatRulesWhenNatPoolIsPresentOnLoadbalancerIsNotSupported",
            f"{aj.name_of(lb['id'])} has other NAT pools ({', '.join(others)}); Azure refuses to add a NAT rule while "
            "any NAT pool is on the load balancer. Migrate or remove those first",
        ))
    rule_name = p.get("ruleName") or pool["name"]
    if aj.child(lb, "inboundNatRules", rule_name) is not None:
        problems.append(Problem("InboundNatRuleNameConflict", f"a NAT rule named {rule_name} already exists; pass "
                                                              "ruleName to choose another name"))
    # --- the backend pool the rule will target
    nat_members = {id_key(aj.ref(aj.props(r).get("backendIPConfiguration")) or "")
                   for r in aj.derived_rules(lb, pool["name"])}
    choice = p.get("backendPool") or "reuse-matching-or-create"
    matching = _matching_pool(snap, nat_members, sets)
    if choice in ("reuse-matching", "reuse-matching-or-create"):
        if matching:
            p["backendPool"], p["createPool"] = matching, False
        elif choice == "reuse-matching":
            problems.append(Problem("NoMatchingBackendPool",
                                    f"no backend pool of {aj.name_of(lb['id'])} holds exactly NAT pool "
                                    f"{pool['name']}'s instances; pass backendPool=create (or a new pool's name)"))
            return
        else:
            choice = "create"
    if choice == "create":
        name = f"{pool['name']}-backend"
        if aj.child(lb, "backendAddressPools", name) is not None and name != matching:
            problems.append(Problem("BackendPoolNameConflict",
                                    f"backend pool {name} exists but does not hold exactly NAT pool "
                                    f"{pool['name']}'s instances; pass a pool name"))
            return
        p["backendPool"], p["createPool"] = name, aj.child(lb, "backendAddressPools", name) is None
    elif choice not in BACKEND_POOL_CHOICES and choice != "reuse-matching-or-create":
        existing = aj.child(lb, "backendAddressPools", choice)
        if existing is not None and choice != matching:
            problems.append(Problem(
                "BackendPoolMembershipMismatch",
                f"backend pool {choice} does not hold exactly NAT pool {pool['name']}'s instances (its members or the "
                "scale sets referencing it differ); a NAT rule V2 would give ports to other machines or miss some. "
                "Pass backendPool=create or reuse-matching",
            ))
            return
        p["backendPool"], p["createPool"] = choice, existing is None
    target_id = aj.child_id(lb["id"], "backendAddressPools", p["backendPool"])
    # --- ports
    start, end = int(pp.get("frontendPortRangeStart") or 0), int(pp.get("frontendPortRangeEnd") or 0)
    protocol = str(pp.get("protocol") or "Tcp").lower()
    frontend_id = aj.ref(pp.get("frontendIPConfiguration")) or ""
    count = _instance_count(snap, sets)
    if end - start + 1 < count:
        problems.append(Problem("InboundNatPoolFrontendPortRangeSmallerThanRequestedPorts",
                                f"ports {start}-{end} give {end - start + 1} frontend ports but the scale sets have "
                                f"{count} instances"))
    derived = {str(r.get("name", "")).lower() for r in aj.derived_rules(lb, pool["name"])}
    for rule in aj.children(lb, "inboundNatRules"):
        rp = aj.props(rule)
        if str(rule.get("name", "")).lower() in derived or not same_id(aj.ref(rp.get("frontendIPConfiguration")),
                                                                         frontend_id):
            continue
        if str(rp.get("protocol", "")).lower() not in (protocol, "all"):
            continue
        lo = rp.get("frontendPortRangeStart", rp.get("frontendPort"))
        hi = rp.get("frontendPortRangeEnd", rp.get("frontendPort"))
        if lo is not None and hi is not None and int(lo) <= end and int(hi) >= start:
            problems.append(Problem("InboundNatRuleFrontendPortConflict",
                                    f"NAT rule {rule['name']} already uses frontend ports {lo}-{hi} on the same "
                                    f"frontend, overlapping {start}-{end}"))
    for rule in aj.children(lb, "loadBalancingRules"):
        rp = aj.props(rule)
        pools = [aj.ref(rp.get("backendAddressPool")), *aj.ref_ids(rp.get("backendAddressPools"))]
        same_proto = str(rp.get("protocol", "")).lower() in (protocol, "all") or protocol == "all"
        if same_proto and same_id(aj.ref(rp.get("frontendIPConfiguration")), frontend_id) and rp.get(
            "frontendPort"
        ) and start <= int(rp["frontendPort"]) <= end:
            problems.append(Problem("LoadBalancingRuleFrontendPortConflict",
                                    f"load-balancing rule {rule['name']} uses frontend port {rp['frontendPort']} "
                                    f"inside {start}-{end} on the same frontend"))
        if same_proto and any(same_id(x, target_id) for x in pools) and rp.get("backendPort") == pp.get(
            "backendPort"
        ) and not rp.get("enableFloatingIP"):
            problems.append(Problem("RulesUseSameBackendPortProtocolAndPool",
                                    f"load-balancing rule {rule['name']} sends {protocol} to backend port "
                                    f"{rp.get('backendPort')} on pool {p['backendPool']}, the NAT rule's backend port; "
                                    "choose another backend pool (backendPool=create)"))
    _check_rules_per_nic(snap, sets, target_id, pool_id, problems)
    notes.append(Note("PortsMayChange", "NAT rule V2 hands out frontend ports from the same range, but Azure "
                                        "assigns them itself: an instance may get a different port than it had. The "
                                        "old → new mapping is reported per instance when the operation finishes"))
    notes.append(Note("ConnectivityGap", "per-instance SSH/RDP through the load balancer is unavailable for an "
                                         "instance from the moment it is updated to the model without the NAT pool "
                                         "until the NAT rule V2 is created (the load-balancer write right after the "
                                         "last instance batch); Azure refuses NAT rules while the NAT pool exists"))


def _check_rules_per_nic(snap: Snapshot, sets: list[dict[str, Any]], target_id: str, nat_pool_id: str,
                         problems: list[Problem]) -> None:
    """Rules that will apply to each instance NIC after the change must stay within Azure's per-NIC limit."""
    lb = snap.lb or {}
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
            problems.append(Problem("LoadBalancerRuleCountLimitReachedForNic",
                                    f"instances of {vmss['name']} would be in {count} load-balancer rules, over "
                                    f"Azure's {RULES_PER_NIC_LIMIT} per NIC"))


# ---------------------------------------------------------------------------------------------------- probed port
def _check_probed_port(intent: Intent, snap: Snapshot, problems: list[Problem], notes: list[Note]) -> None:
    lb = snap.lb or {}
    p = intent.params
    rule = aj.child(lb, "loadBalancingRules", p["rule"])
    if rule is None:
        names = [r.get("name") for r in aj.children(lb, "loadBalancingRules")]
        problems.append(Problem("ResourceNotFound", f"load-balancing rule {p['rule']} is not on "
                                                    f"{aj.name_of(lb['id'])} (rules there: {names or 'none'})"))
        return
    rp = aj.props(rule)
    new_port = int(p["newBackendPort"])
    if rp.get("backendPort") == new_port:
        notes.append(Note("NothingToDo", f"rule {rule['name']} already sends to backend port {new_port}; nothing to "
                                         "do"))
    probe_id = aj.ref(rp.get("probe"))
    p["probe"] = aj.name_of(probe_id) if probe_id else None
    users = [s for s in snap.sorted_scale_sets() if probe_id and same_id(aj.health_probe(s), probe_id)]
    named = {id_key(x) for x in intent.scale_set_ids()}
    for vmss in users:
        named.add(id_key(vmss["id"]))
    p["scaleSets"] = [aj.short_ref(snap.scale_sets[k]["id"], lb["id"]) for k in sorted(named) if k in snap.scale_sets]
    _check_policies(users, intent, problems, probe_change=True)
    protocol = str(rp.get("protocol", "")).lower()
    pools = {id_key(x) for x in [aj.ref(rp.get("backendAddressPool")), *aj.ref_ids(rp.get("backendAddressPools"))]
             if x}
    for other in aj.children(lb, "loadBalancingRules") + aj.children(lb, "inboundNatRules"):
        if other is rule or str(other.get("name", "")).lower() == rule["name"].lower():
            continue
        op = aj.props(other)
        refs = {id_key(x) for x in [aj.ref(op.get("backendAddressPool")), *aj.ref_ids(op.get("backendAddressPools"))]
                if x}
        if refs & pools and op.get("backendPort") == new_port and str(op.get("protocol", "")).lower() in (
            protocol, "all"
        ) and not (op.get("enableFloatingIP") and rp.get("enableFloatingIP")):
            problems.append(Problem("RulesUseSameBackendPortProtocolAndPool",
                                    f"{other['name']} already sends {protocol} to backend port {new_port} on the same "
                                    "backend pool; choose another port"))
    if probe_id:
        probe = aj.child(lb, "probes", aj.name_of(probe_id)) or {}
        if aj.props(probe).get("port") == rp.get("backendPort"):
            notes.append(Note("ProbePort", f"probe {probe.get('name')} checks port {aj.props(probe).get('port')}, the "
                                           f"rule's old backend port; make sure it still tells healthy instances "
                                           "apart once traffic goes to the new port"))
    if users:
        notes.append(Note("HealthProbeDetached", f"while the rule changes, {', '.join(s['name'] for s in users)} run "
                                                 "without a health probe in their model (Azure's automatic instance "
                                                 "repair and rolling upgrades cannot see instance health then)"))


def refuse_if(problems: list[Problem]) -> None:
    """Raise :class:`PreconditionsFailed` when there are problems (the real run changes nothing then)."""
    if problems:
        raise PreconditionsFailed(problems)


class PreconditionsFailed(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("the operation was not started, Azure would refuse it: " + "; ".join(
            f"{p.code}: {p.message}" for p in problems) + f". Nothing was changed (no {INTENT_TAG} tag written)")
