"""Phase ``release``: let go of what poolkeeper owns and no longer needs.

NICs tagged ``poolkeeper.binding`` whose VM is gone or now belongs elsewhere leave the binding's pool and lose its
``pk-`` rules; a NIC poolkeeper did not pool loses only its ``pk-`` rules once its VM is gone (the rule is
poolkeeper's by name, the membership the operator's).
"""

from __future__ import annotations

from poolkeeper.changes import OWNER_TAG, LeavePool
from poolkeeper.config import Binding
from poolkeeper.ids import id_key, parent_key, same_id
from poolkeeper.model import Nic
from poolkeeper.planning.context import Context, Draft, Work, owned_rule_on, sorted_values, tag_value
from poolkeeper.planning.natstrategy import strategy_of


def release(ctx: Context, draft: Draft) -> Draft:
    work = Work(ctx, draft)
    leaving: set[tuple[str, str]] = set(draft.leaving)
    for nic in sorted_values(ctx.snapshot.nics):
        owner = tag_value(nic.tags, OWNER_TAG)
        if nic.is_scale_set_instance_nic or not ctx.in_scope(nic.id):
            continue
        if ctx.only is not None and nic.key not in ctx.only \
                and (nic.vm_id is None or id_key(nic.vm_id) not in ctx.only):
            continue
        if not owner:
            _release_rules_of_unowned(work, nic)
            continue
        next_binding: Binding | None = None
        if nic.vm_id is None:
            why = "its NIC is no longer attached to a VM"
        else:
            vm = ctx.snapshot.vm(nic.vm_id)
            if vm is None:
                if not ctx.in_scope(nic.vm_id):
                    continue  # the VM lives outside scope: unknown, not gone
                why = f"VM {nic.vm_id.rsplit('/', 1)[-1]} no longer exists"
            else:
                sel = draft.vm_selection.get(vm.key)
                if sel is None or sel.ignored:
                    continue
                if sel.binding is not None and sel.binding.name == owner:
                    continue
                next_binding = sel.binding
                why = (f"VM {vm.name} now belongs to binding {next_binding.name}" if next_binding
                       else f"VM {vm.name} no longer matches binding {owner}")
        _release(work, leaving, nic, owner, next_binding, why)
    return work.done(leaving=frozenset(leaving))


def _release(work: Work, leaving: set[tuple[str, str]], nic: Nic, owner: str, next_binding: Binding | None,
             why: str) -> None:
    snapshot = work.ctx.snapshot
    b = work.ctx.config.binding(owner)
    if b is None:
        work.report(nic.id, owner, "UnknownOwnerBinding",
                    f"NIC {nic.name} is tagged {OWNER_TAG}={owner!r} but no such binding is configured, so "
                    f"poolkeeper cannot tell which pool it joined; remove the tag or restore the binding ({why})")
        return
    pool_id = b.pool_id
    stays_in_pool = next_binding is not None and same_id(next_binding.pool_id, pool_id)
    keep_rule = None  # the per-VM rule the next binding wants on the same load balancer: kept, not re-created
    strategy = strategy_of(next_binding) if next_binding is not None else None
    if next_binding is not None and strategy is not None and next_binding.nat_rule is not None and nic.vm_id \
            and same_id(next_binding.load_balancer, b.load_balancer):
        vm = snapshot.vm(nic.vm_id)
        name = strategy.vm_rule_name(vm.name, next_binding.nat_rule) if vm is not None else None
        if name is not None:
            keep_rule = id_key(f"{b.load_balancer}/inboundNatRules/{name}")
    lb = snapshot.load_balancer(b.load_balancer)
    for ic in nic.ip_configurations:
        for rule_id in ic.nat_rule_ids:
            if id_key(rule_id) == keep_rule or not owned_rule_on(rule_id, b.load_balancer):
                continue
            work.unassign(nic, ic, rule_id, owner, f"release: {why}")
            work.delete_if_sole(lb, ic, rule_id, owner, f"release: {why}")
        if ic.in_pool(pool_id) and not stays_in_pool:
            leaving.add((id_key(ic.id), id_key(pool_id)))
            work.add(LeavePool(nic_id=nic.id, ip_configuration=ic.name, pool_id=pool_id, remove_owner_tag=True,
                               binding=owner, reason=f"release: {why}"))


def _release_rules_of_unowned(work: Work, nic: Nic) -> None:
    """A NIC poolkeeper did not pool (no ownership tag) whose VM is gone: release its ``pk-`` rules and their
    ports, never its pool memberships (those are the operator's) and never a rule without the prefix."""
    ctx = work.ctx
    if nic.vm_id is None:
        why = f"NIC {nic.name} is no longer attached to a VM"
    elif ctx.snapshot.vm(nic.vm_id) is None and ctx.in_scope(nic.vm_id):
        why = f"VM {nic.vm_id.rsplit('/', 1)[-1]} no longer exists"
    else:
        return  # the VM is alive (or outside scope: unknown, not gone)
    for ic in nic.ip_configurations:
        for rule_id in ic.nat_rule_ids:
            lb_key = parent_key(rule_id)
            if not owned_rule_on(rule_id, lb_key) or not ctx.in_scope(rule_id):
                continue
            binding = _binding_of_rule(ctx, rule_id)
            work.unassign(nic, ic, rule_id, binding, f"release: {why}")
            work.delete_if_sole(ctx.snapshot.load_balancer(lb_key), ic, rule_id, binding, f"release: {why}")


def _binding_of_rule(ctx: Context, rule_id: str) -> str:
    """The binding a per-VM ``pk-{vm}-{port}`` rule serves: the first binding on its load balancer whose strategy
    would name it so ("" when none does any more)."""
    name = rule_id.rstrip("/").rsplit("/", 1)[-1]
    for b in ctx.config.bindings:
        strategy = strategy_of(b)
        if strategy is not None and b.nat_rule is not None and parent_key(rule_id) == id_key(b.load_balancer) \
                and strategy.serves_vm_rule(name, b.nat_rule):
            return b.name
    return ""
