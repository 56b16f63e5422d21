"""Phase ``join``: VMs and scale sets into their binding's pool, with the NAT access their strategy gives.

VMs join through their primary NIC (and get their per-VM rule when the strategy has one); Uniform scale sets through
their model, followed by upgrading only the instances poolkeeper's own model change made out of date; Flexible scale
sets through their model too, so that new members are created wired, while their existing members (VMs) join per
NIC like any VM. A join Azure would refuse (another virtual network; a Basic load balancer mixing availability sets
or serving a Flexible scale set) is reported instead.
"""

from __future__ import annotations

from collections import Counter

from poolkeeper import flexrecord, upgraderecord
from poolkeeper.changes import OWNER_TAG, ClearUpgradeRecord, JoinPool, SetScaleSetModelPool, UpgradeInstances
from poolkeeper.config import Binding
from poolkeeper.findings import Finding
from poolkeeper.ids import id_key, scale_set_of, vnet_of_subnet
from poolkeeper.maintenance import held_report
from poolkeeper.model import LoadBalancer, Nic, ScaleSet, ScaleSetInstance, Vm
from poolkeeper.planning.context import (
    Context,
    Draft,
    Target,
    Work,
    deleting,
    instance_sort_key,
    owned_rule_on,
    sorted_ids,
    sorted_values,
    tag_value,
)
from poolkeeper.planning.natstrategy import strategy_of
from poolkeeper.planning.vmrules import VmRules, want_vm_rule

# per load balancer: members (ip configuration, pool) -> (vnet, group), and the counts of vnets and groups
MemberFacts = tuple[dict[tuple[str, str], tuple[str | None, str | None]], Counter[str], Counter[str]]


class _Joins:
    """Backends joined so far in this phase (what the refusals compare a new join with)."""

    def __init__(self, work: Work, leaving: frozenset[tuple[str, str]]) -> None:
        self.work = work
        self.leaving = leaving
        self.member_facts: dict[str, MemberFacts] = {}
        self.joiners: dict[str, list[tuple[str | None, str | None]]] = {}  # lb key → (vnet, group)


def join(ctx: Context, draft: Draft) -> Draft:
    work = Work(ctx, draft)
    joins = _Joins(work, draft.leaving)
    rules = VmRules()
    for vm in sorted_values(ctx.snapshot.vms):
        sel = draft.vm_selection.get(vm.key)
        if sel is not None and sel.binding is not None:
            _join_vm(joins, rules, draft.target(sel.binding), vm, sel.binding)
    for ss in sorted_values(ctx.snapshot.scale_sets):
        sel = draft.ss_selection.get(ss.key)
        if sel is not None and sel.binding is not None:
            _join_scale_set(joins, draft.target(sel.binding), ss, sel.binding)
        flex = draft.flex_selection.get(ss.key)
        if flex is not None and flex.binding is not None:
            _join_flexible_model(joins, draft.target(flex.binding), ss, flex.binding)
    return work.done(port_requests=(*draft.port_requests, *rules.requests))


# -- VMs --------------------------------------------------------------------------------------------------------------
def _join_vm(joins: _Joins, rules: VmRules, t: Target | None, vm: Vm, b: Binding) -> None:
    work = joins.work
    if t is None:
        return
    nic = work.ctx.snapshot.primary_nic(vm)
    if nic is None:
        work.report(vm.id, b.name, "PrimaryNicNotFound",
                    f"VM {vm.name}'s primary NIC {vm.primary_nic_id or '(none)'} is not in the snapshot")
        return
    ic = nic.primary_ip_configuration
    if ic is None:
        work.report(nic.id, b.name, "NoPrimaryIpConfiguration",
                    f"NIC {nic.name} has no primary ip configuration to put into pool {t.pool.name}")
        return
    owner = tag_value(nic.tags, OWNER_TAG)
    if not ic.in_pool(t.pool.id):
        if (held := held_report(nic, ic, b, t.lb.id, _created_wired(work, vm, t, b))) is not None:
            work.found(held)  # issue 12: drained, or taken out by a person: never fight it; it keeps its NAT rule
            keep = strategy_of(b)
            kept = keep.vm_rule_name(vm.name, b.nat_rule) if keep is not None and b.nat_rule is not None else None
            if kept is not None:
                work.wanted_rules.add(id_key(f"{t.lb.id}/inboundNatRules/{kept}"))
            return
        if _check_join(joins, t, vm.id, ic.subnet_id, group_of_vm(vm), f"VM {vm.name}") is not None:
            return
        work.add(JoinPool(nic_id=nic.id, ip_configuration=ic.name, pool_id=t.pool.id, owner_tag=b.name,
                          binding=b.name, reason=f"VM {vm.name} matches binding {b.name}"))
    elif owner is not None and owner != b.name:
        work.add(JoinPool(nic_id=nic.id, ip_configuration=ic.name, pool_id=t.pool.id, owner_tag=b.name,
                          binding=b.name, reason=f"VM {vm.name} moved from binding {owner} to {b.name}"))
    if t.nat_refusal is not None:
        return
    desired: str | None = None
    strategy = strategy_of(b)
    name = strategy.vm_rule_name(vm.name, b.nat_rule) if strategy is not None and b.nat_rule is not None else None
    if name is not None and t.frontend is not None:
        desired = want_vm_rule(work, rules, vm, nic, ic, t, name)
    # pk- rules on this LB that are not (or no longer) the one the binding wants: stale after a config change.
    for rule_id in ic.nat_rule_ids:
        if owned_rule_on(rule_id, t.lb.id) and id_key(rule_id) != desired:
            reason = f"NAT rule {rule_id.rsplit('/', 1)[-1]} is not what binding {b.name} asks for"
            work.unassign(nic, ic, rule_id, b.name, reason)
            work.delete_if_sole(t.lb, ic, rule_id, b.name, reason)


def _created_wired(work: Work, vm: Vm, t: Target, b: Binding) -> bool:
    """``vm`` is a member of a Flexible scale set whose model holds the pool, created after poolkeeper's record of
    writing it there for ``b`` (:mod:`poolkeeper.flexrecord`): Azure created its NIC in the pool."""
    ss = work.ctx.snapshot.scale_set(vm.scale_set_id) if vm.scale_set_id else None
    if ss is None or ss.is_uniform or not _model_has_pool(ss, t.pool.id):
        return False
    return flexrecord.created_wired(flexrecord.decode(ss.tags), b.name, vm.time_created)


def _model_has_pool(ss: ScaleSet, pool_id: str) -> bool:
    nc = ss.primary_nic_configuration
    ipc = nc.primary_ip_configuration if nc is not None else None
    return ipc is not None and ipc.in_pool(pool_id)


# -- scale sets -------------------------------------------------------------------------------------------------------
def _join_scale_set(joins: _Joins, t: Target | None, ss: ScaleSet, b: Binding) -> None:
    work = joins.work
    if t is None:
        return
    nc = ss.primary_nic_configuration
    ipc = nc.primary_ip_configuration if nc is not None else None
    if nc is None or ipc is None:
        work.report(ss.id, b.name, "NoPrimaryIpConfiguration",
                    f"scale set {ss.name}'s model has no primary NIC/ip configuration to put into pool {t.pool.name}")
        return
    manual = ss.upgrade_mode.lower() == "manual"
    live = [i for i in ss.instances if not deleting(i.provisioning_state)]
    made_stale: list[str] = []  # instances this plan's model write makes out of date
    if not ipc.in_pool(t.pool.id):
        if _check_join(joins, t, ss.id, ipc.subnet_id, ss.key, f"scale set {ss.name}") is not None:
            return
        if manual:
            made_stale = [i.instance_id for i in live if i.latest_model_applied is not False]
        work.add(SetScaleSetModelPool(scale_set_id=ss.id, nic_config=nc.name, ip_config=ipc.name, pool_id=t.pool.id,
                                      binding=b.name,
                                      record_instance_ids=tuple(sorted(made_stale, key=instance_sort_key)),
                                      model_etag=ss.etag, reason=f"scale set {ss.name} matches binding {b.name}"))
    strategy = strategy_of(b)
    note = strategy.scale_set_note(ss.name, b) if strategy is not None else None
    if note is not None:
        work.report(ss.id, b.name, *note)
    _upgrades(work, ss, b, live, made_stale)


def _join_flexible_model(joins: _Joins, t: Target | None, ss: ScaleSet, b: Binding) -> None:
    """Put the pool into a Flexible scale set's model: members created from then on are wired at creation, with no
    write of poolkeeper's per member. Nothing else: no upgrade record, no ``manualUpgrade``.

    Azure (sources as cited; UNCONFIRMED where said):

    - the NICs of a Flexible scale set's members are created by the network provider from the model's
      ``networkInterfaceConfigurations``, at ``networkProfile.networkApiVersion`` ("specifies the Microsoft.Network
      API version used when creating networking resources in the Network Interface Configurations for Virtual
      Machine Scale Set with orchestration mode 'Flexible'", known value ``2020-11-01``: compute REST API,
      VirtualMachineScaleSetNetworkProfile). Each ip configuration's ``loadBalancerBackendAddressPools`` is what
      the member's NIC is created in. The write is a read-modify-write of the body as read, so ``networkApiVersion``
      (which Azure's GET returns for such a model) goes back unchanged;
    - a model change does not touch existing members: "New instances added to the scale set use the most
      update-to-date model available" (Learn, *Upgrade policy modes for Virtual Machine Scale Sets*, Manual).
      Whether an upgrade of a Flexible member would re-create or re-wire its existing NIC from the model is
      UNCONFIRMED, so existing members are joined per NIC (one NIC write each, once), never upgraded. Flexible
      scale sets accept Automatic and Rolling policies too (same page); whether Azure then applies a network-profile
      change to existing members itself is UNCONFIRMED — the per-NIC joins are idempotent either way;
    - Flexible orchestration supports neither a Basic load balancer nor port forwarding through a NAT pool ("Basic
      LB: No", "Network Port Forwarding: Yes (NAT Rules for individual instances)"; unsupported parameters "Basic
      Load Balancer" and "Port Forwarding via Standard Load Balancer NAT Pool - you can configure NAT rules": Learn,
      *Orchestration modes for Virtual Machine Scale Sets*). So the model only ever gets the backend pool; NAT
      access is the binding's strategy on the members: a NAT rule V2 over the pool (``v2``) reaches new members
      with no further write, a per-VM V1 rule (``v1``) still costs one NIC write per member for its assignment.

    Like a Uniform model, a model whose pool is missing gets it (again): model drift is repaired, and reported by
    the sweep as PK013; the ETag the plan saw guards the write.

    The same write records ``poolkeeper.flexwired`` (:mod:`poolkeeper.flexrecord`: the binding and the snapshot's
    read time plus a grace): a member created later carries no poolkeeper tag, and this record is how its NIC, found
    outside the pool, is known to have been taken out by a person (held, :func:`_created_wired`). A model that
    already has the pool is not written, record or not (one written by someone else keeps today's joins).
    """
    work = joins.work
    if t is None or not ss.nic_configurations:
        return  # no network profile: members are attached VMs, wired per NIC only
    nc = ss.primary_nic_configuration
    ipc = nc.primary_ip_configuration if nc is not None else None
    if nc is None or ipc is None:
        work.report(ss.id, b.name, "NoPrimaryIpConfiguration",
                    f"Flexible scale set {ss.name}'s model has no primary NIC/ip configuration to put into pool "
                    f"{t.pool.name}; its members are wired per NIC")
        return
    if ipc.in_pool(t.pool.id):
        return
    if t.lb.is_basic:
        work.report(ss.id, b.name, "FlexibleScaleSetOnBasicLoadBalancer",
                    f"Flexible scale set {ss.name} cannot use Basic load balancer {t.lb.name} (Flexible "
                    "orchestration supports Standard load balancers only); its model is left as it is")
        return
    if _check_join(joins, t, ss.id, ipc.subnet_id, ss.key, f"Flexible scale set {ss.name}") is not None:
        return
    now, grace = work.ctx.now, work.ctx.config.flexible_wired_grace_s
    record = flexrecord.encode(b.name, now, grace) if now is not None else None
    write_by = flexrecord.write_by(now, grace) if now is not None and record is not None else None
    work.add(SetScaleSetModelPool(scale_set_id=ss.id, nic_config=nc.name, ip_config=ipc.name, pool_id=t.pool.id,
                                  binding=b.name, model_etag=ss.etag, flex_record=record, write_by=write_by,
                                  reason=f"Flexible scale set {ss.name} matches binding {b.name}: new members are "
                                         "created in the pool"))


def _upgrades(work: Work, ss: ScaleSet, b: Binding, live: list[ScaleSetInstance], made_stale: list[str]) -> None:
    """Upgrade only what poolkeeper's own model change made out of date, in batches; report the rest.

    Ours: the instances this plan's model write makes stale, and those in the scale set's upgrade record (a
    previous write, perhaps interrupted before its upgrade). Any other out-of-date instance runs an older model
    because someone else changed it: rolling that out is their decision, so it is reported, never upgraded.
    """
    recorded = upgraderecord.decode(ss.tags)
    if ss.upgrade_mode.lower() != "manual":
        if recorded:  # the policy became Automatic/Rolling: Azure rolls the model out itself
            work.add(ClearUpgradeRecord(scale_set_id=ss.id, instance_ids=sorted_ids(recorded), binding=b.name,
                                        reason=f"upgrade policy of {ss.name} is {ss.upgrade_mode}; Azure applies "
                                               "the model"))
        return
    stale_now = {i.instance_id for i in live if i.latest_model_applied is False}
    ours = set(made_stale) | (recorded & stale_now)
    foreign = sorted(stale_now - ours, key=instance_sort_key)
    if foreign:
        work.report(ss.id, b.name, "ModelChangedBySomeoneElse",
                    f"instances {', '.join(foreign)} of {ss.name} do not run the latest model, and not because "
                    "of a change poolkeeper made: someone else changed the model. poolkeeper does not roll out "
                    "other people's model changes; upgrade them yourself (az vmss update-instances) when ready")
    upgrade = sorted(ours, key=instance_sort_key)
    if not b.apply_model_to_instances:
        if upgrade:
            work.report(ss.id, b.name, "InstancesOutOfDate",
                        f"instances {', '.join(upgrade)} of {ss.name} do not run the latest model and binding "
                        f"{b.name} has applyModelToInstances false; upgrade them to apply the pool change")
        settled = recorded - stale_now  # upgraded by someone, or gone
        if settled:
            work.add(ClearUpgradeRecord(scale_set_id=ss.id, instance_ids=sorted_ids(settled), binding=b.name,
                                        reason=f"instances of {ss.name} upgraded or gone"))
        return
    size = work.ctx.config.upgrade_batch_size
    for start in range(0, len(upgrade), size):
        work.add(UpgradeInstances(scale_set_id=ss.id, instance_ids=tuple(upgrade[start:start + size]),
                                  batch_size=size, binding=b.name,
                                  reason=f"apply poolkeeper's model change to {ss.name} (upgrade policy Manual)"))
    done = recorded | set(made_stale)
    if done:
        work.add(ClearUpgradeRecord(scale_set_id=ss.id, instance_ids=sorted_ids(done), binding=b.name,
                                    reason=f"instances of {ss.name} upgraded or gone"))


# -- refusals ---------------------------------------------------------------------------------------------------------
def group_of_vm(vm: Vm) -> str:
    """What a Basic load balancer counts as one availability set."""
    return id_key(vm.availability_set_id or vm.scale_set_id or vm.id)


def _lb_members(joins: _Joins, lb: LoadBalancer) -> MemberFacts:
    """(ip configuration key, pool key) → (virtual network, availability group) of every current backend of the
    load balancer, with the counts of each; computed once per run so that checking N joins stays linear."""
    cached = joins.member_facts.get(lb.key)
    if cached is None:
        snapshot = joins.work.ctx.snapshot
        members: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        for pool in lb.backend_pools:
            for nic, ic in snapshot.pool_members(pool.id):
                members[(id_key(ic.id), id_key(pool.id))] = (vnet_of_subnet(ic.subnet_id), _group_of_nic(joins, nic))
        cached = (members, Counter(v for v, _ in members.values() if v), Counter(g for _, g in members.values() if g))
        joins.member_facts[lb.key] = cached
    return cached


def _group_of_nic(joins: _Joins, nic: Nic) -> str | None:
    ss = scale_set_of(nic.id)
    if ss is not None:
        return ss
    vm = joins.work.ctx.snapshot.vm(nic.vm_id)
    return group_of_vm(vm) if vm is not None else None


def _check_join(joins: _Joins, t: Target, subject_id: str, subnet_id: str | None, group: str, what: str
                ) -> Finding | None:
    """Refuse a join Azure would reject: another virtual network, or (Basic SKU) another availability set."""
    snapshot = joins.work.ctx.snapshot
    vnet = vnet_of_subnet(subnet_id)
    vnets: set[str] = set()
    groups: set[str] = set()
    members, base_vnets, base_groups = _lb_members(joins, t.lb)
    leaving = [members[k] for k in joins.leaving if k in members]
    vnet_counts = base_vnets.copy()
    group_counts = base_groups.copy()
    vnet_counts.subtract(v for v, _ in leaving if v)
    group_counts.subtract(g for _, g in leaving if g)
    vnets |= {v for v, n in vnet_counts.items() if n > 0}
    groups |= {g for g, n in group_counts.items() if n > 0}
    for pool in t.lb.backend_pools:
        if pool.virtual_network_id:
            vnets.add(id_key(pool.virtual_network_id))
        for ss in snapshot.scale_sets_using_pool(pool.id):
            groups.add(ss.key)
            for nc in ss.nic_configurations:
                for sic in nc.ip_configurations:
                    if sic.in_pool(pool.id) and vnet_of_subnet(sic.subnet_id):
                        vnets.add(vnet_of_subnet(sic.subnet_id) or "")
    for fe in t.lb.frontends:
        if vnet_of_subnet(fe.subnet_id):
            vnets.add(vnet_of_subnet(fe.subnet_id) or "")
    for j_vnet, j_group in joins.joiners.get(t.lb.key, []):
        if j_vnet:
            vnets.add(j_vnet)
        if j_group:
            groups.add(j_group)
    b = t.binding
    if vnet is not None and vnets - {vnet}:
        return joins.work.report(subject_id, b.name, "VirtualNetworkMismatch",
                                 f"{what} is in virtual network {vnet.rsplit('/', 1)[-1]} but load balancer "
                                 f"{t.lb.name}'s backends/frontends use "
                                 f"{', '.join(sorted(v.rsplit('/', 1)[-1] for v in vnets - {vnet}))}; a backend pool "
                                 "cannot span virtual networks")
    if t.lb.is_basic and groups - {group}:
        return joins.work.report(subject_id, b.name, "BasicSkuAvailabilitySetMix",
                                 f"{what} is not in the availability set / scale set that the other backends of Basic "
                                 f"load balancer {t.lb.name} use; all VMs behind a Basic load balancer must share one "
                                 "availability set (use a Standard load balancer to mix)")
    joins.joiners.setdefault(t.lb.key, []).append((vnet, group))
    return None
