"""NAT rule V2 over a binding's pool: phase ``want_pool_rules`` (which bindings need one) and, once every deletion
is known, :func:`ensure_pool_rule` (its port range), called by the ``resolve_ports`` phase."""

from __future__ import annotations

from poolkeeper.changes import EnsureNatRuleV2
from poolkeeper.ids import id_key, same_id
from poolkeeper.natrules import nat_rule_v2_refusal
from poolkeeper.planning.context import Context, Draft, Target, Work
from poolkeeper.planning.natstrategy import nat_rule_name_v2
from poolkeeper.planning.targets import vm_binding_names, wants_pool_rule
from poolkeeper.ports import PortAllocator, protocols_overlap


def want_pool_rules(ctx: Context, draft: Draft) -> Draft:
    """One NAT rule V2 per binding whose strategy wants one for the subjects it has in this run."""
    work = Work(ctx, draft)
    vm_bindings = vm_binding_names(draft)
    ss_bindings = {s.binding.name for s in draft.ss_selection.values() if s.binding is not None}
    requests: list[Target] = list(draft.pool_rule_requests)
    for b in ctx.config.bindings:
        nat = b.nat_rule
        if nat is None or not wants_pool_rule(b, vm_bindings, ss_bindings):
            continue
        t = draft.target(b)
        if t is None or t.nat_refusal is not None or t.frontend is None:
            continue
        refusal = nat_rule_v2_refusal(t.lb.name, t.lb.sku)  # the same rule `natpool migrate` applies
        if refusal is not None:
            work.report(t.lb.id, b.name, refusal.code,
                        f"binding {b.name} needs NAT rule V2 {nat_rule_name_v2(b.name, nat.backend_port)}: "
                        f"{refusal.message}; pool membership is still managed")
            continue
        work.wanted_rules.add(id_key(f"{t.lb.id}/inboundNatRules/{nat_rule_name_v2(b.name, nat.backend_port)}"))
        requests.append(t)
    return work.done(pool_rule_requests=tuple(requests))


def ensure_pool_rule(work: Work, ports: PortAllocator, t: Target) -> None:
    """Create or correct the binding's NAT rule V2, unless its range clashes or Azure would refuse it."""
    b = t.binding
    nat = b.nat_rule
    assert nat is not None and t.frontend is not None
    name = nat_rule_name_v2(b.name, nat.backend_port)
    start, end = nat.frontend_port_range
    existing = t.lb.nat_rule(name)
    if existing is not None and existing.is_v2 and same_id(existing.frontend_ip_configuration_id, t.frontend.id) \
            and existing.protocol.lower() == nat.protocol.lower() and existing.backend_port == nat.backend_port \
            and existing.frontend_port_range_start == start and existing.frontend_port_range_end == end \
            and same_id(existing.backend_address_pool_id, t.pool.id):
        return
    clash = sorted(ports.taken(t.lb, t.frontend.id, nat.protocol, exclude_rules=[name]) & set(range(start, end + 1)))
    if clash:
        shown = ", ".join(str(p) for p in clash[:5]) + (" ..." if len(clash) > 5 else "")
        work.report(t.lb.id, b.name, "NatRuleV2RangeConflict",
                    f"NAT rule V2 {name} on {t.lb.name} would use {nat.protocol} ports {start}-{end} on "
                    f"{t.frontend.name}, but {shown} are already taken; choose a free frontendPortRange")
        return
    for lbr in t.lb.load_balancing_rules:
        if lbr.backend_port == nat.backend_port and protocols_overlap(lbr.protocol, nat.protocol) \
                and any(same_id(p, t.pool.id) for p in lbr.backend_address_pool_ids):
            work.report(t.lb.id, b.name, "BackendPortInUse",
                        f"load-balancing rule {lbr.name} already sends {lbr.protocol} to backend port "
                        f"{nat.backend_port} of pool {t.pool.name}; Azure refuses a NAT rule V2 with the same "
                        "backend port on the same pool")
            return
    ports.reserve(t.lb.id, t.frontend.id, nat.protocol, range(start, end + 1))
    work.add(EnsureNatRuleV2(lb_id=t.lb.id, rule_name=name, frontend_ip_configuration_id=t.frontend.id,
                             protocol=nat.protocol, frontend_port_range_start=start, frontend_port_range_end=end,
                             backend_port=nat.backend_port, pool_id=t.pool.id, binding=b.name,
                             reason=f"NAT access to pool {t.pool.name} for binding {b.name}"))
