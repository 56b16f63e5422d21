"""Scoping a plan to one binding, inside the planner: its changes plus the changes they depend on."""

from __future__ import annotations

from poolkeeper.changes import CreateNatRule, DeleteNatRule, EnsureNatRuleV2, Plan, UnassignNatRule
from poolkeeper.ids import id_key
from poolkeeper.model import Snapshot
from poolkeeper.ports import protocols_overlap


def scope_to_binding(full: Plan, binding: str, snapshot: Snapshot) -> Plan:
    """The binding's changes and findings, and the rule deletions (with their unassignments) whose ports they reuse.

    A rule this binding creates may reuse the frontend port of an orphaned rule whose deletion serves no binding;
    dropping that deletion (as filtering a finished plan did) makes the creation collide at apply time on every
    round.
    """
    kept = [c for c in full.changes if c.binding == binding]
    needed_ports: list[tuple[str, str, str, set[int]]] = []  # (lb key, frontend key, protocol, ports)
    for c in kept:
        if isinstance(c, CreateNatRule):
            needed_ports.append((id_key(c.lb_id), id_key(c.frontend_ip_configuration_id), c.protocol,
                                 {c.frontend_port}))
        elif isinstance(c, EnsureNatRuleV2):
            needed_ports.append((id_key(c.lb_id), id_key(c.frontend_ip_configuration_id), c.protocol,
                                 set(range(c.frontend_port_range_start, c.frontend_port_range_end + 1))))
    freed: set[str] = set()
    for c in full.changes:
        if not isinstance(c, DeleteNatRule) or c.binding == binding:
            continue
        lb = snapshot.load_balancer(c.lb_id)
        rule = lb.nat_rule(c.rule_name) if lb is not None else None
        if rule is None or not rule.frontend_ip_configuration_id:
            continue
        ports = set(rule.frontend_ports())
        if any(lb_key == id_key(c.lb_id) and fe == id_key(rule.frontend_ip_configuration_id)
               and protocols_overlap(proto, rule.protocol) and ports & wanted
               for lb_key, fe, proto, wanted in needed_ports):
            freed.add(id_key(c.rule_id))
    if freed:
        kept += [c for c in full.changes if c.binding != binding and isinstance(c, DeleteNatRule | UnassignNatRule)
                 and id_key(c.rule_id) in freed]
    return Plan.of(kept, (f for f in full.findings if f.binding == binding))
