"""The pure core of the workflows: from a snapshot of Azure, the ordered steps still to do.

Level-triggered: nothing here remembers what was done before. Each run reads the load balancer, the scale sets and
their instances, and :func:`plan` answers "what is left?" from that alone (plus the intent's resolved parameters).
The runner executes the first step, reads again and plans again, so a run that was killed anywhere resumes at the
first step whose effect is not yet visible in Azure, and a finished operation plans nothing (no write).

Steps are data: which resource, which edits, which ARM calls. The edits are applied to the body as freshly read just
before the write (:mod:`poolkeeper.workflows.steps`), so concurrent changes by others are kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from poolkeeper.ids import ResourceId, id_key, same_id
from poolkeeper.workflows import armjson as aj
from poolkeeper.workflows.intents import INTENT_TAG, Intent

Raw = dict[str, Any]
Edit = tuple[Any, ...]


@dataclass
class Snapshot:
    """What the workflows need to see of Azure: the load balancer, the relevant scale sets and their instances."""

    lb: Raw | None
    scale_sets: dict[str, Raw] = field(default_factory=dict)  # id key -> body
    instances: dict[str, list[Raw]] = field(default_factory=dict)  # scale-set id key -> instances
    public_ip: Raw | None = None
    out_of_scope: list[str] = field(default_factory=list)  # why each resource the intent reaches was not read

    def recorded_intent(self) -> str | None:
        """The raw intent tag on the load balancer, if any."""
        return aj.tags(self.lb).get(INTENT_TAG)

    def scale_set(self, scale_set_id: str) -> Raw | None:
        return self.scale_sets.get(id_key(scale_set_id))

    def sorted_scale_sets(self) -> list[Raw]:
        return [self.scale_sets[k] for k in sorted(self.scale_sets)]


@dataclass
class Step:
    """One step of an operation: a write (or a wait) on one resource.

    ``key`` is stable across runs (progress and the "no step repeated" checks use it); ``edits`` say what to change
    on the freshly read body; ``calls`` are the ARM requests it makes, for dry runs and progress.
    """

    key: str
    kind: str  # lb-write | update-model | upgrade-instances | wait-instances | delete-public-ip
    title: str
    target: str
    edits: list[Edit] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    batches: list[list[str]] = field(default_factory=list)
    phase: str = ""

    @property
    def writes(self) -> int:
        return sum(1 for c in self.calls if not c.startswith("GET"))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "kind": self.kind, "title": self.title, "target": self.target,
                               "phase": self.phase, "armCalls": list(self.calls)}
        if self.batches:
            out["batches"] = [list(b) for b in self.batches]
        return out


# ---------------------------------------------------------------------------------------------------- helpers
def _put(resource_id: str) -> str:
    return f"PUT {resource_id} (If-Match)"


def lb_step(lb_id: str, key: str, title: str, edits: list[Edit], phase: str) -> Step:
    return Step(key, "lb-write", title, lb_id, edits, [_put(lb_id)], phase=phase)


def model_step(vmss: Raw, key: str, title: str, edits: list[Edit], phase: str) -> Step:
    return Step(f"{key}:{vmss['name']}", "update-model", f"{title} ({vmss['name']})", vmss["id"], edits,
                [_put(vmss["id"])], phase=phase)


def instance_steps(vmss: Raw, pending: list[str], batch_size: int, phase: str, allow_rolling: bool) -> list[Step]:
    """Bring these instances to the latest model: Manual policy → manualUpgrade batches; otherwise wait for Azure."""
    if not pending:
        return []
    name, vid = vmss["name"], vmss["id"]
    mode = aj.upgrade_mode(vmss).lower()
    if mode == "manual":
        ids = aj.sort_instance_ids(pending)
        batches = [ids[i:i + batch_size] for i in range(0, len(ids), batch_size)]
        calls = [f"POST {vid}/manualUpgrade {{instanceIds: {len(b)}}}" for b in batches]
        return [Step(f"upgrade:{name}:{phase}", "upgrade-instances",
                     f"update {len(ids)} instance(s) of {name} to the new model in {len(batches)} batch(es)", vid,
                     calls=calls, batches=batches, phase=phase)]
    how = "Automatic upgrade policy" if mode == "automatic" else "Rolling upgrade policy (allowRolling)"
    return [Step(f"wait:{name}:{phase}", "wait-instances",
                 f"wait for Azure to apply the model to {len(pending)} instance(s) of {name} ({how})", vid,
                 calls=[f"GET {vid}/virtualMachines (poll latestModelApplied)"], phase=phase)]


def _pending_after_model_change(snap: Snapshot, vmss: Raw, model_changes: bool) -> list[str]:
    instances = snap.instances.get(id_key(vmss["id"]), [])
    if model_changes:  # every instance will be behind the model once it is written
        return [str(i.get("instanceId") or aj.name_of(str(i.get("id", "")))) for i in instances]
    return aj.pending_instances(instances)


def finish(intent: Intent, snap: Snapshot, work: list[Step]) -> list[Step]:
    """Wrap the work with the intent record: recorded with (or before) the first write, cleared with the last.

    - nothing to do and nothing recorded: done (no write at all);
    - nothing left but our record: one load-balancer write clears it;
    - the first write is a load-balancer write: the intent rides on it (same PUT, same If-Match);
    - otherwise a load-balancer write records it first; the last load-balancer write clears it when nothing
      follows it, else a final write does.
    """
    assert snap.lb is not None
    lb_id = snap.lb["id"]
    ours = _recorded_is(intent, snap)
    if not work:
        if ours:
            return [lb_step(lb_id, "clear-intent", "clear the operation's intent record", [("clear-intent",)], "done")]
        return []
    steps = list(work)
    if not ours:
        if steps[0].kind == "lb-write":
            steps[0].edits = [("record-intent", intent.tag_value()), *steps[0].edits]
            steps[0].title += " + record the operation's intent"
        else:
            steps.insert(0, lb_step(lb_id, "record-intent", "record the operation's intent on the load balancer",
                                    [("record-intent", intent.tag_value())], "intent"))
    if steps[-1].kind == "lb-write":
        steps[-1].edits = [*steps[-1].edits, ("clear-intent",)]
        steps[-1].title += " + clear the intent record"
    else:
        steps.append(lb_step(lb_id, "clear-intent", "clear the operation's intent record", [("clear-intent",)], "done"))
    return steps


def _recorded_is(intent: Intent, snap: Snapshot) -> bool:
    raw = snap.recorded_intent()
    if not raw:
        return False
    try:
        return Intent.from_tag(snap.lb["id"], raw).id == intent.id  # type: ignore[index]
    except ValueError:
        return False


def affected_scale_sets(snap: Snapshot, intent: Intent, nat_pool_id: str | None) -> list[Raw]:
    """Scale sets the operation touches: named in the request, referencing the NAT pool in their model, or with
    instances still using it (the rules Azure derived from it name the instances)."""
    wanted = {id_key(s) for s in intent.scale_set_ids()}
    if nat_pool_id is not None and snap.lb is not None:
        for rule in aj.derived_rules(snap.lb, aj.name_of(nat_pool_id)):
            vmss_id = aj.scale_set_of_ip_configuration(aj.ref(aj.props(rule).get("backendIPConfiguration")) or "")
            if vmss_id:
                wanted.add(id_key(vmss_id))
    out = []
    for vmss in snap.sorted_scale_sets():
        refs_pool = nat_pool_id is not None and aj.model_references(vmss, "loadBalancerInboundNatPools", nat_pool_id)
        if id_key(vmss["id"]) in wanted or refs_pool:
            out.append(vmss)
    return out


# ---------------------------------------------------------------------------------------------------- remove
def plan_remove(intent: Intent, snap: Snapshot, *, extra_lb_edits: list[Edit] | None = None,
                add_pool: str | None = None, create_pool: Raw | None = None) -> list[Step]:
    """remove-natpool (also the tail of migrate-natpool, which adds a pool reference and a NAT rule V2)."""
    assert snap.lb is not None
    lb, lb_id = snap.lb, snap.lb["id"]
    p = intent.params
    pool_name = p["natPool"]
    pool = aj.child(lb, "inboundNatPools", pool_name)
    pool_id = aj.child_id(lb_id, "inboundNatPools", pool_name)
    work: list[Step] = []
    if pool is not None:
        if create_pool is not None:
            work.append(lb_step(lb_id, "create-backend-pool", f"create backend pool {create_pool['name']}",
                                [("add-child", "backendAddressPools", create_pool)], "prepare"))
        sets = affected_scale_sets(snap, intent, pool_id)
        changing: dict[str, bool] = {}
        for vmss in sets:
            edits: list[Edit] = []
            if aj.model_references(vmss, "loadBalancerInboundNatPools", pool_id):
                edits.append(("drop-model-ref", "loadBalancerInboundNatPools", pool_id))
            if add_pool is not None and not aj.model_references(vmss, "loadBalancerBackendAddressPools", add_pool):
                edits.append(("add-model-ref", "loadBalancerBackendAddressPools", add_pool, pool_id))
            changing[id_key(vmss["id"])] = bool(edits)
            if edits:
                title = f"remove NAT pool {pool_name} from the scale-set model"
                if (add_pool is not None and len(edits) > 1) or edits[0][0] == "add-model-ref":
                    title = f"swap NAT pool {pool_name} for backend pool {aj.name_of(add_pool or '')} in the model"
                work.append(model_step(vmss, "update-model", title, edits, "model"))
        for vmss in sets:
            pending = _pending_after_model_change(snap, vmss, changing[id_key(vmss["id"])])
            work += instance_steps(vmss, pending, intent.batch_size, "instances", intent.allow_rolling)
        title = f"delete NAT pool {pool_name}"
        if extra_lb_edits:
            title += f" and create NAT rule V2 {p.get('ruleName') or pool_name} (one load-balancer write)"
        work.append(lb_step(lb_id, "delete-natpool", title, [("delete-natpool", pool_name), *(extra_lb_edits or [])],
                            "load-balancer"))
    elif extra_lb_edits and _missing_rule(lb, extra_lb_edits):
        work.append(lb_step(lb_id, "create-nat-rule", f"create NAT rule V2 {p.get('ruleName') or pool_name}",
                            list(extra_lb_edits), "load-balancer"))
    frontend = p.get("frontend")
    if p.get("deleteFrontend") and frontend and aj.child(lb, "frontendIPConfigurations", frontend) is not None:
        work.append(lb_step(lb_id, "delete-frontend", f"delete frontend IP configuration {frontend}",
                            [("delete-child", "frontendIPConfigurations", frontend)], "frontend"))
    if p.get("deletePublicIp") and p.get("publicIp") and snap.public_ip is not None:
        pip_id = snap.public_ip["id"]
        work.append(Step("delete-public-ip", "delete-public-ip", f"delete public IP {aj.name_of(pip_id)}", pip_id,
                         calls=[f"DELETE {pip_id}"], phase="frontend"))
    return finish(intent, snap, work)


def _missing_rule(lb: Raw, edits: list[Edit]) -> bool:
    return any(e[0] == "add-child" and aj.child(lb, e[1], e[2]["name"]) is None for e in edits)


# ---------------------------------------------------------------------------------------------------- migrate
def nat_rule_v2_from_pool(lb_id: str, pool: Raw, rule_name: str, backend_pool: str) -> Raw:
    """The NAT rule V2 that keeps the NAT pool's frontend IP, port range, protocol and backend port."""
    pp = aj.props(pool)
    out: Raw = {
        "name": rule_name,
        "properties": {
            "frontendIPConfiguration": {"id": aj.ref(pp.get("frontendIPConfiguration"))},
            "backendAddressPool": {"id": aj.child_id(lb_id, "backendAddressPools", backend_pool)},
            "protocol": pp.get("protocol", "Tcp"),
            "frontendPortRangeStart": pp.get("frontendPortRangeStart"),
            "frontendPortRangeEnd": pp.get("frontendPortRangeEnd"),
            "backendPort": pp.get("backendPort"),
        },
    }
    for k in ("idleTimeoutInMinutes", "enableFloatingIP", "enableTcpReset"):
        if pp.get(k) is not None:
            out["properties"][k] = pp[k]
    return out


def plan_migrate(intent: Intent, snap: Snapshot) -> list[Step]:
    assert snap.lb is not None
    lb, lb_id = snap.lb, snap.lb["id"]
    p = intent.params
    pool = aj.child(lb, "inboundNatPools", p["natPool"])
    target = p["backendPool"]
    target_id = aj.child_id(lb_id, "backendAddressPools", target)
    rule_name = p.get("ruleName") or p["natPool"]
    if pool is None:
        if aj.child(lb, "inboundNatRules", rule_name) is None and _recorded_is(intent, snap):
            raise ValueError(
                f"NAT pool {p['natPool']} is gone from {lb_id} but NAT rule {rule_name} was never created (someone "
                "deleted the pool outside this operation). Recreate the rule from the operation's backup "
                f"(load balancer JSON) and clear the tag {INTENT_TAG!r}"
            )
        return finish(intent, snap, [])
    create = None
    if aj.child(lb, "backendAddressPools", target) is None:
        create = {"name": target, "properties": {}}
    rule = nat_rule_v2_from_pool(lb_id, pool, rule_name, target)
    return plan_remove(intent, snap, extra_lb_edits=[("add-child", "inboundNatRules", rule)], add_pool=target_id,
                       create_pool=create)


# ---------------------------------------------------------------------------------------------------- probed port
def plan_change_probed_port(intent: Intent, snap: Snapshot) -> list[Step]:
    """Detach the probe from the models → update instances → change the rule → reattach → update instances."""
    assert snap.lb is not None
    lb, lb_id = snap.lb, snap.lb["id"]
    p = intent.params
    rule = aj.child(lb, "loadBalancingRules", p["rule"])
    if rule is None:
        raise ValueError(f"load-balancing rule {p['rule']} is not on {lb_id}; nothing to change")
    probe_id = aj.child_id(lb_id, "probes", p["probe"]) if p.get("probe") else None
    sets = [s for s in (snap.scale_set(i) for i in intent.scale_set_ids()) if s is not None]
    new_port = int(p["newBackendPort"])
    work: list[Step] = []
    if aj.props(rule).get("backendPort") != new_port:
        detaching = {id_key(s["id"]) for s in sets if probe_id and same_id(aj.health_probe(s), probe_id)}
        for vmss in sets:
            if id_key(vmss["id"]) in detaching:
                work.append(model_step(vmss, "detach-probe", f"detach health probe {p['probe']} from the model",
                                       [("set-probe", None)], "detach"))
        for vmss in sets:
            pending = _pending_after_model_change(snap, vmss, id_key(vmss["id"]) in detaching)
            work += instance_steps(vmss, pending, intent.batch_size, "detach", intent.allow_rolling)
        work.append(lb_step(lb_id, "change-rule", f"change rule {p['rule']} backend port "
                            f"{aj.props(rule).get('backendPort')} → {new_port}",
                            [("set-rule-port", p["rule"], new_port)], "rule"))
        for vmss in sets if probe_id else []:
            work.append(model_step(vmss, "reattach-probe", f"reattach health probe {p['probe']} to the model",
                                   [("set-probe", probe_id)], "reattach"))
        for vmss in sets if probe_id else []:
            work += instance_steps(vmss, [str(i.get("instanceId")) for i in snap.instances.get(id_key(vmss["id"]),
                                                                                                  [])],
                                   intent.batch_size, "reattach", intent.allow_rolling)
    elif _recorded_is(intent, snap) and probe_id:
        reattaching = {id_key(s["id"]) for s in sets if not same_id(aj.health_probe(s), probe_id)}
        for vmss in sets:
            if id_key(vmss["id"]) in reattaching:
                work.append(model_step(vmss, "reattach-probe", f"reattach health probe {p['probe']} to the model",
                                       [("set-probe", probe_id)], "reattach"))
        for vmss in sets:
            pending = _pending_after_model_change(snap, vmss, id_key(vmss["id"]) in reattaching)
            work += instance_steps(vmss, pending, intent.batch_size, "reattach", intent.allow_rolling)
    return finish(intent, snap, work)


def plan(intent: Intent, snap: Snapshot) -> list[Step]:
    """Every step still to do, in order (empty: the operation is finished and its record cleared)."""
    if snap.lb is None:
        raise ValueError(f"load balancer {intent.load_balancer} does not exist (or poolkeeper cannot read it)")
    if intent.kind == "remove-natpool":
        return plan_remove(intent, snap)
    if intent.kind == "migrate-natpool":
        return plan_migrate(intent, snap)
    return plan_change_probed_port(intent, snap)


def count_calls(steps: list[Step]) -> dict[str, int]:
    """ARM writes the steps make, by kind of resource: what a dry run promises and the tests assert."""
    out = {"loadBalancerWrites": 0, "scaleSetWrites": 0, "manualUpgrades": 0, "deletes": 0}
    for s in steps:
        if s.kind == "lb-write":
            out["loadBalancerWrites"] += 1
        elif s.kind == "update-model":
            out["scaleSetWrites"] += 1
        elif s.kind == "upgrade-instances":
            out["manualUpgrades"] += len(s.batches)
        elif s.kind == "delete-public-ip":
            out["deletes"] += 1
    return out


def batches_needed(instances: int, batch_size: int) -> int:
    return math.ceil(instances / batch_size) if instances else 0


def describe_scope(resource_id: str) -> str:
    rid = ResourceId.parse(resource_id)
    return f"{rid.name} ({rid.resource_group})"
