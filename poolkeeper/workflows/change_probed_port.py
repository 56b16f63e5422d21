"""change-probed-port: change the backend port of a load-balancing rule whose probe the scale-set models use.

Azure refuses to change a rule whose probe a scale-set model uses as its health probe, so: detach the probe from
the models, update the instances, change the rule, reattach the probe, update the instances again.
"""

from __future__ import annotations

from typing import Any

from poolkeeper import armjson as aj
from poolkeeper.changes import SetHealthProbe, SetRuleBackendPort
from poolkeeper.edge.schemas import CHANGE_PROBED_PORT
from poolkeeper.findings import Finding
from poolkeeper.ids import id_key, same_id
from poolkeeper.model import Snapshot
from poolkeeper.workflows.intents import Intent
from poolkeeper.workflows.preconditions import check_policies, note, refusal
from poolkeeper.workflows.registry import workflow
from poolkeeper.workflows.step import (
    Step,
    finish,
    instance_steps,
    lb_step,
    model_step,
    pending_after_model_change,
    recorded_is,
)


def probed_port_steps(intent: Intent, snap: Snapshot) -> list[Step]:
    """Detach the probe from the models → update instances → change the rule → reattach → update instances."""
    assert snap.focus_lb is not None
    lb, lb_id = snap.focus_lb, snap.focus_lb["id"]
    p = intent.params
    rule = aj.child(lb, "loadBalancingRules", p["rule"])
    if rule is None:
        raise ValueError(f"load-balancing rule {p['rule']} is not on {lb_id}; nothing to change")
    probe_id = aj.child_id(lb_id, "probes", p["probe"]) if p.get("probe") else None
    sets = [s for s in (snap.scale_set_body(i) for i in intent.scale_set_ids()) if s is not None]
    new_port = int(p["newBackendPort"])
    work: list[Step] = []
    if aj.props(rule).get("backendPort") != new_port:
        detaching = {id_key(s["id"]) for s in sets if probe_id and same_id(aj.health_probe(s), probe_id)}
        for vmss in sets:
            if id_key(vmss["id"]) in detaching:
                work.append(model_step(vmss, "detach-probe", f"detach health probe {p['probe']} from the model",
                                       [SetHealthProbe(scale_set_id=vmss["id"], probe_id=None)], "detach"))
        for vmss in sets:
            pending = pending_after_model_change(snap, vmss, id_key(vmss["id"]) in detaching)
            work += instance_steps(vmss, pending, intent.batch_size, "detach", intent.allow_rolling)
        work.append(lb_step(lb_id, "change-rule", f"change rule {p['rule']} backend port "
                            f"{aj.props(rule).get('backendPort')} → {new_port}",
                            [SetRuleBackendPort(lb_id=lb_id, rule_name=p["rule"], backend_port=new_port)], "rule"))
        for vmss in sets if probe_id else []:
            work.append(model_step(vmss, "reattach-probe", f"reattach health probe {p['probe']} to the model",
                                   [SetHealthProbe(scale_set_id=vmss["id"], probe_id=probe_id)],
                                   "reattach"))
        for vmss in sets if probe_id else []:
            work += instance_steps(vmss, [str(i.get("instanceId")) for i in snap.instance_bodies(vmss["id"])],
                                   intent.batch_size, "reattach", intent.allow_rolling)
    elif recorded_is(intent, snap) and probe_id:
        reattaching = {id_key(s["id"]) for s in sets if not same_id(aj.health_probe(s), probe_id)}
        for vmss in sets:
            if id_key(vmss["id"]) in reattaching:
                work.append(model_step(vmss, "reattach-probe", f"reattach health probe {p['probe']} to the model",
                                       [SetHealthProbe(scale_set_id=vmss["id"], probe_id=probe_id)],
                                   "reattach"))
        for vmss in sets:
            pending = pending_after_model_change(snap, vmss, id_key(vmss["id"]) in reattaching)
            work += instance_steps(vmss, pending, intent.batch_size, "reattach", intent.allow_rolling)
    return finish(intent, snap, work)


@workflow("change-probed-port", schema=CHANGE_PROBED_PORT, next_steps=probed_port_steps)
def resolve(intent: Intent, p: dict[str, Any], snap: Snapshot, found: list[Finding]) -> None:
    """Refusals and notes; resolves ``probe`` (the rule's) and ``scaleSets`` (named ones plus the probe's users)."""
    lb = snap.focus_lb or {}
    rule = aj.child(lb, "loadBalancingRules", p["rule"])
    if rule is None:
        names = [r.get("name") for r in aj.children(lb, "loadBalancingRules")]
        found.append(refusal("ResourceNotFound", f"load-balancing rule {p['rule']} is not on "
                                                 f"{aj.name_of(lb['id'])} (rules there: {names or 'none'})",
                             lb["id"]))
        return
    rp = aj.props(rule)
    rule_id = aj.child_id(lb["id"], "loadBalancingRules", rule["name"])
    new_port = int(p["newBackendPort"])
    if rp.get("backendPort") == new_port:
        found.append(note("NothingToDo", f"rule {rule['name']} already sends to backend port {new_port}; nothing to "
                                         "do", rule_id))
    probe_id = aj.ref(rp.get("probe"))
    p["probe"] = aj.name_of(probe_id) if probe_id else None
    users = [s for s in snap.scale_set_bodies() if probe_id and same_id(aj.health_probe(s), probe_id)]
    named = {id_key(x) for x in intent.scale_set_ids()}
    for vmss in users:
        named.add(id_key(vmss["id"]))
    p["scaleSets"] = [aj.short_ref(snap.scale_sets[k].id, lb["id"]) for k in sorted(named) if k in snap.scale_sets]
    check_policies(users, intent, found, probe_change=True)
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
            found.append(refusal("RulesUseSameBackendPortProtocolAndPool",
                                    f"{other['name']} already sends {protocol} to backend port {new_port} on the same "
                                    "backend pool; choose another port", rule_id))
    if probe_id:
        probe = aj.child(lb, "probes", aj.name_of(probe_id)) or {}
        if aj.props(probe).get("port") == rp.get("backendPort"):
            found.append(note("ProbePort", f"probe {probe.get('name')} checks port {aj.props(probe).get('port')}, the "
                                           f"rule's old backend port; make sure it still tells healthy instances "
                                           "apart once traffic goes to the new port", probe_id))
    if users:
        found.append(note("HealthProbeDetached", f"while the rule changes, {', '.join(s['name'] for s in users)} run "
                                                 "without a health probe in their model (Azure's automatic instance "
                                                 "repair and rolling upgrades cannot see instance health then)",
                          probe_id or rule_id))
