"""Phase ``resolve_targets``: each binding with subjects in the run, resolved to its load balancer, pool and
frontend — or reported once (out of scope, missing, NAT rules impossible while a NAT pool exists)."""

from __future__ import annotations

from poolkeeper.config import Binding
from poolkeeper.natrules import NAT_POOL_RETIREMENT_FACT
from poolkeeper.planning.context import Context, Draft, Target, Work
from poolkeeper.planning.natstrategy import strategy_of


def resolve_targets(ctx: Context, draft: Draft) -> Draft:
    """Bindings in the order the joins first need them: those wanting a NAT rule V2 (configuration order), then
    those of VMs, then those of scale sets (each in id order; Uniform, then Flexible)."""
    work = Work(ctx, draft)
    vm_bindings = [s.binding for _, s in sorted(draft.vm_selection.items()) if s.binding is not None]
    ss_bindings = [s.binding for _, s in sorted(draft.ss_selection.items()) if s.binding is not None]
    flex_bindings = [s.binding for _, s in sorted(draft.flex_selection.items()) if s.binding is not None]
    pool_rules = [b for b in ctx.config.bindings if wants_pool_rule(b, vm_binding_names(draft),
                                                                     {x.name for x in ss_bindings})]
    targets: dict[str, Target | None] = dict(draft.targets)
    for b in [*pool_rules, *vm_bindings, *ss_bindings, *flex_bindings]:
        if b.name not in targets:
            targets[b.name] = _resolve(work, b)
    return work.done(targets=targets)


def vm_binding_names(draft: Draft) -> set[str]:
    """Bindings with VMs in the run. A Flexible scale set counts as VMs (its members are VMs, with per-VM NAT rules
    under ``v1``), never as a Uniform scale set, whose ``v1`` binding falls back to a NAT rule V2: so a ``v2``
    binding of a Flexible scale set gets its rule over the pool even before the set has members (they then arrive
    with NAT access too), and a ``v1`` one gets per-VM rules only."""
    return {s.binding.name for sel in (draft.vm_selection, draft.flex_selection) for s in sel.values()
            if s.binding is not None}


def wants_pool_rule(b: Binding, vm_bindings: set[str], ss_bindings: set[str]) -> bool:
    strategy = strategy_of(b)
    return strategy is not None and strategy.wants_pool_rule(has_vms=b.name in vm_bindings,
                                                             has_scale_sets=b.name in ss_bindings)


def _resolve(work: Work, b: Binding) -> Target | None:
    ctx = work.ctx
    if not ctx.in_scope(b.load_balancer):
        work.report(b.load_balancer, b.name, "LoadBalancerOutOfScope",
                    f"binding {b.name}'s load balancer is outside the configured scopes; poolkeeper will not write it")
        return None
    lb = ctx.snapshot.load_balancer(b.load_balancer)
    if lb is None:
        work.report(b.load_balancer, b.name, "LoadBalancerNotFound",
                    f"binding {b.name}'s load balancer was not found; create it or fix loadBalancer")
        return None
    pool = lb.pool(b.backend_pool)
    if pool is None:
        work.report(b.load_balancer, b.name, "BackendPoolNotFound",
                    f"load balancer {lb.name} has no backend pool {b.backend_pool!r} (pools: "
                    f"{', '.join(p.name for p in lb.backend_pools) or 'none'}); poolkeeper does not create pools")
        return None
    if b.nat_rule is None:
        return Target(binding=b, lb=lb, pool=pool, frontend=None)
    frontend = lb.frontend(b.nat_rule.frontend_ip_configuration)
    refusal = None
    if frontend is None:
        refusal = work.report(
            lb.id, b.name, "FrontendNotFound",
            f"load balancer {lb.name} has no frontend IP configuration {b.nat_rule.frontend_ip_configuration!r} "
            f"(frontends: {', '.join(f.name for f in lb.frontends) or 'none'}); NAT rules are not managed")
    elif lb.inbound_nat_pools:
        refusal = work.report(
            lb.id, b.name, "NatPoolPresent",
            f"load balancer {lb.name} has inbound NAT pool(s) {', '.join(p.name for p in lb.inbound_nat_pools)}; "
            "Azure refuses adding or updating NAT rules while a NAT pool exists "
            "(AddingOrUpdatingNatRulesWhenNatPoolIsPresentOnLoadbalancerIsNotSupported); migrate with "
            f"`poolkeeper natpool migrate` ({NAT_POOL_RETIREMENT_FACT}). Pool membership is still managed")
    return Target(binding=b, lb=lb, pool=pool, frontend=frontend, nat_refusal=refusal)
