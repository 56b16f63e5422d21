"""The planner: configuration + snapshot → :class:`~poolkeeper.changes.Plan`. Pure and deterministic.

No I/O and no clock: the same inputs always give the same plan (everything is visited sorted by lower-cased id,
bindings in configuration order), so a dry run shows exactly what a real run would do and a re-plan after a
successful apply is empty.

Ownership is what keeps poolkeeper from fighting humans: it only ever removes what it can prove it added, i.e.
pool memberships of NICs tagged ``poolkeeper.binding=<binding>`` and NAT rules named ``pk-...``. Pool members
without the tag are left alone (never adopted, never removed).

Anything Azure would refuse, or that poolkeeper will not decide for a human, becomes a ``Report`` rather than a
change that is bound to fail half-way.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from poolkeeper import upgraderecord
from poolkeeper.changes import (
    IGNORE_TAG,
    OWNER_TAG,
    RULE_PREFIX,
    AssignNatRule,
    Change,
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
from poolkeeper.config import Binding, Config, Match
from poolkeeper.ids import id_key, in_scope, parent_key, same_id, scale_set_of, vnet_of_subnet
from poolkeeper.maintenance import held_report
from poolkeeper.model import (
    BackendPool,
    Frontend,
    IpConfiguration,
    LoadBalancer,
    Nic,
    ScaleSet,
    ScaleSetInstance,
    Snapshot,
    Vm,
)
from poolkeeper.natrules import NAT_POOL_RETIREMENT_FACT, nat_rule_v2_refusal
from poolkeeper.ports import PortAllocator, PortRangeExhausted, protocols_overlap

# per load balancer: members (ip configuration, pool) -> (vnet, group), and the counts of vnets and groups
MemberFacts = tuple[dict[tuple[str, str], tuple[str | None, str | None]], Counter[str], Counter[str]]


def plan(config: Config, snapshot: Snapshot, *, only: Iterable[str] | None = None,
         binding: str | None = None) -> Plan:
    """Compute the changes that bring the snapshot in line with the configuration.

    ``only`` restricts the run to these resource ids (VMs, scale sets, NICs, scale-set instances; any casing), for
    event-driven runs on a partial snapshot. ``None`` means a full reconcile of everything in scope.

    ``binding`` restricts the plan to one binding's changes *plus the changes they depend on*: a rule this binding
    creates may reuse the frontend port of an orphaned rule whose deletion serves no binding; dropping that deletion
    (as filtering a finished plan did) makes the creation collide at apply time on every round.
    """
    planned = _Planner(config, snapshot, only).run()
    return planned if binding is None else scope_to_binding(planned, binding, snapshot)


def scope_to_binding(full: Plan, binding: str, snapshot: Snapshot) -> Plan:
    """The binding's changes and the rule deletions (with their unassignments) whose ports they reuse."""
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
    return Plan.of(kept)


def nat_rule_name_v1(vm_name: str, backend_port: int) -> str:
    """Name of a VM's per-VM NAT rule; the ``pk-`` prefix marks poolkeeper ownership."""
    return f"{RULE_PREFIX}{vm_name}-{backend_port}"


def nat_rule_name_v2(binding_name: str, backend_port: int) -> str:
    """Name of a binding's NAT rule V2 over its pool."""
    return f"{RULE_PREFIX}{binding_name}-{backend_port}"


def tag_value(tags: Mapping[str, str], key: str) -> str | None:
    """Azure tag names are case-insensitive; values are not."""
    lowered = key.lower()
    for k, v in tags.items():
        if k.lower() == lowered:
            return v
    return None


def matches(match: Match, *, name: str, resource_group: str, tags: Mapping[str, str],
            availability_set_id: str | None, scale_set_id: str | None) -> bool:
    """Whether every criterion given in ``match`` holds for the subject (VM or scale set)."""
    if match.resource_group is not None and match.resource_group.lower() != resource_group.lower():
        return False
    if match.availability_set is not None and not _same_ref(match.availability_set, availability_set_id):
        return False
    if match.scale_set is not None and not _same_ref(match.scale_set, scale_set_id):
        return False
    for k, v in match.tags.items():
        if tag_value(tags, k) != v:
            return False
    return match.name_pattern is None or fnmatch.fnmatchcase(name.lower(), match.name_pattern.lower())


def _same_ref(wanted: str, actual: str | None) -> bool:
    """Config gives an id or a bare name; ARM gives an id."""
    if actual is None:
        return False
    if "/" in wanted:
        return same_id(wanted, actual)
    return actual.rstrip("/").rsplit("/", 1)[-1].lower() == wanted.lower()


@dataclass
class _Selection:
    binding: Binding | None = None
    ignored: bool = False


@dataclass
class _Target:
    """A binding resolved against the snapshot."""

    binding: Binding
    lb: LoadBalancer
    pool: BackendPool
    frontend: Frontend | None
    nat_refusal: Report | None = None


@dataclass
class _PortRequest:
    """A per-VM rule that needs a (new) frontend port, decided once every deletion in the plan is known."""

    vm: Vm
    target: _Target
    rule_name: str
    keep_port: int | None  # the existing rule's port, kept if still free
    assign: AssignNatRule | None  # dropped if no port can be found and the rule does not exist yet
    exists: bool


@dataclass
class _Planner:
    config: Config
    snapshot: Snapshot
    only_ids: Iterable[str] | None
    out: list[Change] = field(default_factory=list)
    ports: PortAllocator = field(default_factory=PortAllocator)
    only: set[str] | None = None
    targets: dict[str, _Target | None] = field(default_factory=dict)
    wanted_rules: set[str] = field(default_factory=set)
    unassigned: set[tuple[str, str]] = field(default_factory=set)  # (ip configuration key, rule key)
    leaving: set[tuple[str, str]] = field(default_factory=set)  # (ip configuration key, pool key)
    member_facts: dict[str, MemberFacts] = field(default_factory=dict)
    joiners: dict[str, list[tuple[str | None, str | None]]] = field(default_factory=dict)  # lb key → (vnet, group)
    v1_names: dict[str, str] = field(default_factory=dict)  # rule key → vm key
    port_requests: list[_PortRequest] = field(default_factory=list)
    v2_requests: list[_Target] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.only = None if self.only_ids is None else {id_key(i) for i in self.only_ids}

    # -- entry ---------------------------------------------------------------------------------------------------
    def run(self) -> Plan:
        vm_sel: dict[str, _Selection] = {}
        for vm in _sorted(self.snapshot.vms):
            if self._in_scope(vm.id) and scale_set_of(vm.id) is None and self._considered_vm(vm) \
                    and not _deleting(vm.provisioning_state):
                vm_sel[vm.key] = self.select(vm.id, vm.name, vm.resource_group, vm.tags, vm.availability_set_id,
                                             vm.scale_set_id)
        ss_sel: dict[str, _Selection] = {}
        for ss in _sorted(self.snapshot.scale_sets):
            if ss.is_uniform and self._in_scope(ss.id) and self._considered_scale_set(ss) \
                    and not _deleting(ss.provisioning_state):
                ss_sel[ss.key] = self.select(ss.id, ss.name, ss.resource_group, ss.tags, None, ss.id)

        self.plan_releases(vm_sel)
        self.plan_nat_v2(vm_sel, ss_sel)
        for vm in _sorted(self.snapshot.vms):
            sel = vm_sel.get(vm.key)
            if sel is not None and sel.binding is not None:
                self.plan_vm(vm, sel.binding)
        for ss in _sorted(self.snapshot.scale_sets):
            sel = ss_sel.get(ss.key)
            if sel is not None and sel.binding is not None:
                self.plan_scale_set(ss, sel.binding)
        self.plan_stray_rules()
        # A rule that one subject releases and another keeps (a VM re-created under the same name) is kept.
        self.out = [c for c in self.out
                    if not (isinstance(c, DeleteNatRule) and id_key(c.rule_id) in self.wanted_rules)]
        self.resolve_ports()
        return Plan.of(self.out)

    def resolve_ports(self) -> None:
        """Decide frontend ports last, so ports of rules this plan deletes can be reused at once (one-step
        convergence), then V2 ranges (whole ranges) before single per-VM ports, each in deterministic order."""
        for c in self.out:
            if isinstance(c, DeleteNatRule):
                self.ports.free_rule(c.lb_id, c.rule_name)
        for t in self.v2_requests:
            self.ensure_v2(t)
        for req in self.port_requests:
            self.allocate_v1(req)

    # -- scope and selection -------------------------------------------------------------------------------------
    def _in_scope(self, resource_id: str) -> bool:
        return in_scope(resource_id, self.config.scopes)

    def _considered_vm(self, vm: Vm) -> bool:
        if self.only is None:
            return True
        keys = {vm.key, *(id_key(n) for n in vm.nic_ids)}
        if vm.scale_set_id:
            keys.add(id_key(vm.scale_set_id))
        return bool(keys & self.only)

    def _considered_scale_set(self, ss: ScaleSet) -> bool:
        if self.only is None:
            return True
        return any(k == ss.key or k.startswith(ss.key + "/") for k in self.only)

    def select(self, subject_id: str, name: str, resource_group: str, tags: Mapping[str, str],
               availability_set_id: str | None, scale_set_id: str | None) -> _Selection:
        """Which binding a VM or scale set belongs to (ignore tag, explicit binding tag, then first match)."""
        if (tag_value(tags, IGNORE_TAG) or "").strip().lower() == "true":
            return _Selection(ignored=True)
        explicit = tag_value(tags, OWNER_TAG)
        if explicit is not None:
            b = self.config.binding(explicit)
            if b is None:
                known = ", ".join(x.name for x in self.config.bindings) or "none"
                self.report(subject_id, "", "UnknownBinding",
                            f"tag {OWNER_TAG}={explicit!r} names no configured binding (known: {known}); "
                            "nothing is changed for it until the tag or the configuration is fixed")
                return _Selection(ignored=True)
            return _Selection(binding=b)
        hits = [b for b in self.config.bindings
                if matches(b.match, name=name, resource_group=resource_group, tags=tags,
                           availability_set_id=availability_set_id, scale_set_id=scale_set_id)]
        if not hits:
            return _Selection()
        if len(hits) > 1:
            self.report(subject_id, hits[0].name, "SeveralBindingsMatch",
                        f"matches bindings {', '.join(b.name for b in hits)}; using {hits[0].name} (first in the "
                        f"configuration) and ignoring {', '.join(b.name for b in hits[1:])}; tag it "
                        f"{OWNER_TAG}=<name> to choose explicitly")
        return _Selection(binding=hits[0])

    def report(self, subject_id: str, binding: str, code: str, message: str) -> Report:
        r = Report(subject_id=subject_id, message=message, code=code, binding=binding, reason=message)
        self.out.append(r)
        return r

    # -- binding targets -----------------------------------------------------------------------------------------
    def target(self, b: Binding) -> _Target | None:
        """Resolve the binding's load balancer, pool and frontend, reporting (once) what is missing."""
        if b.name in self.targets:
            return self.targets[b.name]
        t = self._resolve(b)
        self.targets[b.name] = t
        return t

    def _resolve(self, b: Binding) -> _Target | None:
        if not self._in_scope(b.load_balancer):
            self.report(b.load_balancer, b.name, "LoadBalancerOutOfScope",
                        f"binding {b.name}'s load balancer is outside the configured scopes; poolkeeper will not "
                        "write it")
            return None
        lb = self.snapshot.load_balancer(b.load_balancer)
        if lb is None:
            self.report(b.load_balancer, b.name, "LoadBalancerNotFound",
                        f"binding {b.name}'s load balancer was not found; create it or fix loadBalancer")
            return None
        pool = lb.pool(b.backend_pool)
        if pool is None:
            self.report(b.load_balancer, b.name, "BackendPoolNotFound",
                        f"load balancer {lb.name} has no backend pool {b.backend_pool!r} (pools: "
                        f"{', '.join(p.name for p in lb.backend_pools) or 'none'}); poolkeeper does not create pools")
            return None
        t = _Target(binding=b, lb=lb, pool=pool, frontend=None)
        if b.nat_rule is not None:
            t.frontend = lb.frontend(b.nat_rule.frontend_ip_configuration)
            if t.frontend is None:
                t.nat_refusal = self.report(
                    lb.id, b.name, "FrontendNotFound",
                    f"load balancer {lb.name} has no frontend IP configuration "
                    f"{b.nat_rule.frontend_ip_configuration!r} (frontends: "
                    f"{', '.join(f.name for f in lb.frontends) or 'none'}); NAT rules are not managed")
            elif lb.inbound_nat_pools:
                t.nat_refusal = self.report(
                    lb.id, b.name, "NatPoolPresent",
                    f"load balancer {lb.name} has inbound NAT pool(s) "
                    f"{', '.join(p.name for p in lb.inbound_nat_pools)}; Azure refuses adding or updating NAT rules "
                    "while a NAT pool exists (AddingOrUpdatingNatRulesWhenNatPoolIsPresentOnLoadbalancerIsNotSupported)"
                    f"; migrate with `poolkeeper natpool migrate` ({NAT_POOL_RETIREMENT_FACT}). Pool membership is "
                    "still managed")
        return t

    # -- releases ------------------------------------------------------------------------------------------------
    def plan_releases(self, vm_sel: Mapping[str, _Selection]) -> None:
        """NICs poolkeeper owns whose VM is gone or no longer matches the owning binding; and ``pk-`` rules on any
        NIC whose VM is gone (the operator may have pooled the NIC, but the rule is poolkeeper's by name)."""
        for nic in _sorted(self.snapshot.nics):
            owner = tag_value(nic.tags, OWNER_TAG)
            if nic.is_scale_set_instance_nic or not self._in_scope(nic.id):
                continue
            if self.only is not None and nic.key not in self.only \
                    and (nic.vm_id is None or id_key(nic.vm_id) not in self.only):
                continue
            if not owner:
                self.release_rules_of_unowned(nic)
                continue
            next_binding: Binding | None = None
            if nic.vm_id is None:
                why = "its NIC is no longer attached to a VM"
            else:
                vm = self.snapshot.vm(nic.vm_id)
                if vm is None:
                    if not self._in_scope(nic.vm_id):
                        continue  # the VM lives outside scope: unknown, not gone
                    why = f"VM {nic.vm_id.rsplit('/', 1)[-1]} no longer exists"
                else:
                    sel = vm_sel.get(vm.key)
                    if sel is None or sel.ignored:
                        continue
                    if sel.binding is not None and sel.binding.name == owner:
                        continue
                    next_binding = sel.binding
                    why = (f"VM {vm.name} now belongs to binding {next_binding.name}" if next_binding
                           else f"VM {vm.name} no longer matches binding {owner}")
            self.release(nic, owner, next_binding, why)

    def release(self, nic: Nic, owner: str, next_binding: Binding | None, why: str) -> None:
        b = self.config.binding(owner)
        if b is None:
            self.report(nic.id, owner, "UnknownOwnerBinding",
                        f"NIC {nic.name} is tagged {OWNER_TAG}={owner!r} but no such binding is configured, so "
                        f"poolkeeper cannot tell which pool it joined; remove the tag or restore the binding ({why})")
            return
        pool_id = b.pool_id
        stays_in_pool = next_binding is not None and same_id(next_binding.pool_id, pool_id)
        keep_rule = None
        if next_binding is not None and next_binding.nat_rule is not None and next_binding.nat_rule.mode == "v1" \
                and nic.vm_id and same_id(next_binding.load_balancer, b.load_balancer):
            vm = self.snapshot.vm(nic.vm_id)
            if vm is not None:
                keep_rule = id_key(f"{b.load_balancer}/inboundNatRules/"
                                   f"{nat_rule_name_v1(vm.name, next_binding.nat_rule.backend_port)}")
        lb = self.snapshot.load_balancer(b.load_balancer)
        for ic in nic.ip_configurations:
            for rule_id in ic.nat_rule_ids:
                if id_key(rule_id) == keep_rule or not self._owned_rule_on(rule_id, b.load_balancer):
                    continue
                self.unassign(nic, ic, rule_id, owner, f"release: {why}")
                self.delete_if_sole(lb, ic, rule_id, owner, f"release: {why}")
            if ic.in_pool(pool_id) and not stays_in_pool:
                self.leaving.add((id_key(ic.id), id_key(pool_id)))
                self.out.append(LeavePool(nic_id=nic.id, ip_configuration=ic.name, pool_id=pool_id,
                                          remove_owner_tag=True, binding=owner, reason=f"release: {why}"))

    def release_rules_of_unowned(self, nic: Nic) -> None:
        """A NIC poolkeeper did not pool (no ownership tag) whose VM is gone: release its ``pk-`` rules and their
        ports, never its pool memberships (those are the operator's) and never a rule without the prefix."""
        if nic.vm_id is None:
            why = f"NIC {nic.name} is no longer attached to a VM"
        elif self.snapshot.vm(nic.vm_id) is None and self._in_scope(nic.vm_id):
            why = f"VM {nic.vm_id.rsplit('/', 1)[-1]} no longer exists"
        else:
            return  # the VM is alive (or outside scope: unknown, not gone)
        for ic in nic.ip_configurations:
            for rule_id in ic.nat_rule_ids:
                lb_key = parent_key(rule_id)
                if not self._owned_rule_on(rule_id, lb_key) or not self._in_scope(rule_id):
                    continue
                binding = self._binding_of_rule(rule_id)
                self.unassign(nic, ic, rule_id, binding, f"release: {why}")
                self.delete_if_sole(self.snapshot.load_balancer(lb_key), ic, rule_id, binding, f"release: {why}")

    def _binding_of_rule(self, rule_id: str) -> str:
        """The binding a per-VM ``pk-{vm}-{port}`` rule serves: the first V1 binding on its load balancer with that
        backend port ("" when none does any more)."""
        name = rule_id.rstrip("/").rsplit("/", 1)[-1]
        for b in self.config.bindings:
            nat = b.nat_rule
            if nat is not None and nat.mode == "v1" and parent_key(rule_id) == id_key(b.load_balancer) \
                    and name.lower().endswith(f"-{nat.backend_port}"):
                return b.name
        return ""

    def _owned_rule_on(self, rule_id: str, lb_id: str) -> bool:
        """A ``pk-`` rule on this load balancer."""
        return parent_key(rule_id) == id_key(lb_id) and rule_id.rstrip("/").rsplit("/", 1)[-1].lower().startswith(
            RULE_PREFIX)

    def unassign(self, nic: Nic, ic: IpConfiguration, rule_id: str, binding: str, reason: str) -> None:
        self.unassigned.add((id_key(ic.id), id_key(rule_id)))
        self.out.append(UnassignNatRule(nic_id=nic.id, ip_configuration=ic.name, rule_id=rule_id, binding=binding,
                                        reason=reason))

    def delete_if_sole(self, lb: LoadBalancer | None, ic: IpConfiguration, rule_id: str, binding: str,
                       reason: str) -> None:
        """Delete a per-VM rule once its only target lets go of it (V2 rules belong to a pool, not a VM)."""
        if lb is None:
            return
        rule = lb.nat_rule(rule_id.rstrip("/").rsplit("/", 1)[-1])
        if rule is None or rule.is_v2:
            return
        if rule.backend_ip_configuration_id and not same_id(rule.backend_ip_configuration_id, ic.id):
            return
        others = [o for n, o in self.snapshot.nat_rule_referrers(rule.id)
                  if not same_id(o.id, ic.id) and (id_key(o.id), id_key(rule.id)) not in self.unassigned]
        if not others:
            self.out.append(DeleteNatRule(lb_id=lb.id, rule_name=rule.name, binding=binding, reason=reason))

    # -- joins: VMs ----------------------------------------------------------------------------------------------
    def plan_vm(self, vm: Vm, b: Binding) -> None:
        t = self.target(b)
        if t is None:
            return
        nic = self.snapshot.primary_nic(vm)
        if nic is None:
            self.report(vm.id, b.name, "PrimaryNicNotFound",
                        f"VM {vm.name}'s primary NIC {vm.primary_nic_id or '(none)'} is not in the snapshot")
            return
        ic = nic.primary_ip_configuration
        if ic is None:
            self.report(nic.id, b.name, "NoPrimaryIpConfiguration",
                        f"NIC {nic.name} has no primary ip configuration to put into pool {t.pool.name}")
            return
        owner = tag_value(nic.tags, OWNER_TAG)
        if not ic.in_pool(t.pool.id):
            if (held := held_report(nic.id, nic.name, nic.tags, b.name, b.repair)) is not None:
                self.out.append(held)  # issue 12: drained, or taken out by a person: never fight it
                if b.nat_rule is not None:  # the VM keeps its NAT rule (and port) while out of the pool
                    self.wanted_rules.add(id_key(f"{t.lb.id}/inboundNatRules/"
                                                 f"{nat_rule_name_v1(vm.name, b.nat_rule.backend_port)}"))
                return
            refusal = self.check_join(t, vm.id, ic.subnet_id, self.group_of_vm(vm), f"VM {vm.name}")
            if refusal is not None:
                return
            self.out.append(JoinPool(nic_id=nic.id, ip_configuration=ic.name, pool_id=t.pool.id, owner_tag=b.name,
                                     binding=b.name, reason=f"VM {vm.name} matches binding {b.name}"))
        elif owner is not None and owner != b.name:
            self.out.append(JoinPool(nic_id=nic.id, ip_configuration=ic.name, pool_id=t.pool.id, owner_tag=b.name,
                                     binding=b.name, reason=f"VM {vm.name} moved from binding {owner} to {b.name}"))
        if t.nat_refusal is not None:
            return
        desired: str | None = None
        if b.nat_rule is not None and b.nat_rule.mode == "v1" and t.frontend is not None:
            desired = self.plan_v1_rule(vm, nic, ic, t)
        # pk- rules on this LB that are not (or no longer) the one the binding wants: stale after a config change.
        for rule_id in ic.nat_rule_ids:
            if self._owned_rule_on(rule_id, t.lb.id) and id_key(rule_id) != desired:
                reason = f"NAT rule {rule_id.rsplit('/', 1)[-1]} is not what binding {b.name} asks for"
                self.unassign(nic, ic, rule_id, b.name, reason)
                self.delete_if_sole(t.lb, ic, rule_id, b.name, reason)

    def plan_v1_rule(self, vm: Vm, nic: Nic, ic: IpConfiguration, t: _Target) -> str | None:
        """Ensure the VM's ``pk-{vm}-{port}`` rule exists and is assigned; returns its key (None if refused)."""
        b = t.binding
        nat = b.nat_rule
        assert nat is not None and t.frontend is not None
        name = nat_rule_name_v1(vm.name, nat.backend_port)
        rule_id = f"{t.lb.id}/inboundNatRules/{name}"
        key = id_key(rule_id)
        claimed_by = self.v1_names.get(key)
        if claimed_by is not None and claimed_by != vm.key:
            self.report(vm.id, b.name, "NatRuleNameCollision",
                        f"NAT rule {name} on {t.lb.name} is already wanted by {claimed_by}; VMs of one binding need "
                        "distinct names across resource groups")
            return None
        existing = t.lb.nat_rule(name)
        holders = self._other_holders(rule_id, ic)
        live = [h for h in holders if h[1] is not None and h[1] != vm.key]
        backref = existing.backend_ip_configuration_id if existing is not None else None
        if backref and not same_id(backref, ic.id) and self.snapshot.nic_for_ip_configuration(backref) is None \
                and self.only is not None:
            self.report(vm.id, b.name, "NatRuleHeldElsewhere",
                        f"NAT rule {name} on {t.lb.name} points at {backref}, which this partial run did not read; "
                        "left for the next full reconcile")
            return None
        if live:
            self.report(vm.id, b.name, "NatRuleNameCollision",
                        f"NAT rule {name} on {t.lb.name} already points at another VM ({live[0][1]}); rename one "
                        "of the VMs or give the bindings different backend ports")
            return None
        self.v1_names[key] = vm.key
        request: _PortRequest | None = None
        if existing is not None and not existing.is_v2 and existing.frontend_port is not None \
                and same_id(existing.frontend_ip_configuration_id, t.frontend.id) \
                and existing.protocol.lower() == nat.protocol.lower() and existing.backend_port == nat.backend_port:
            pass  # kept as it is: a VM keeps its port for life
        else:
            request = _PortRequest(vm=vm, target=t, rule_name=name, exists=existing is not None, assign=None,
                                   keep_port=existing.frontend_port if existing is not None else None)
            self.port_requests.append(request)
        self.wanted_rules.add(key)
        for h_nic, _ in holders:
            h_ic = next((x for x in h_nic.ip_configurations if x.has_nat_rule(rule_id)), None)
            if h_ic is not None and (id_key(h_ic.id), key) not in self.unassigned \
                    and not h_nic.is_scale_set_instance_nic:
                self.unassign(h_nic, h_ic, rule_id, b.name, f"NAT rule {name} now belongs to VM {vm.name}")
        if not ic.has_nat_rule(rule_id):
            assign = AssignNatRule(nic_id=nic.id, ip_configuration=ic.name, rule_id=rule_id, binding=b.name,
                                   reason=f"VM {vm.name}'s NAT rule")
            self.out.append(assign)
            if request is not None:
                request.assign = assign
        return key

    def allocate_v1(self, req: _PortRequest) -> None:
        """Create (or re-create with new settings) a per-VM rule, keeping its old port number when possible."""
        t, vm = req.target, req.vm
        nat = t.binding.nat_rule
        assert nat is not None and t.frontend is not None
        proto = nat.protocol
        port = req.keep_port
        if port is not None and port in self.ports.taken(t.lb, t.frontend.id, proto, exclude_rules=[req.rule_name]):
            port = None  # the old number clashes on the new frontend/protocol: only then is a rule renumbered
        if port is None:
            try:
                port = self.ports.allocate(t.lb, t.frontend.id, proto, nat.frontend_port_range)
            except PortRangeExhausted as exc:
                self.report(vm.id, t.binding.name, "PortRangeExhausted", str(exc))
                if not req.exists and req.assign is not None:
                    self.out.remove(req.assign)
                return
        else:
            self.ports.reserve(t.lb.id, t.frontend.id, proto, [port])
        what = "update" if req.exists else "new"
        self.out.append(CreateNatRule(lb_id=t.lb.id, rule_name=req.rule_name,
                                      frontend_ip_configuration_id=t.frontend.id, protocol=proto, frontend_port=port,
                                      backend_port=nat.backend_port, replace=req.exists, binding=t.binding.name,
                                      reason=f"{what} per-VM NAT rule for VM {vm.name}"))

    def _other_holders(self, rule_id: str, ic: IpConfiguration) -> list[tuple[Nic, str | None]]:
        """NICs (other than ``ic``'s) that still reference the rule, each with its live VM key (None if the VM is
        gone or the reference is being released in this plan)."""
        out: list[tuple[Nic, str | None]] = []
        for nic, other in self.snapshot.nat_rule_referrers(rule_id):
            if same_id(other.id, ic.id):
                continue
            vm = self.snapshot.vm(nic.vm_id)
            released = (id_key(other.id), id_key(rule_id)) in self.unassigned
            out.append((nic, None if vm is None or released else vm.key))
        return out

    # -- joins: scale sets ---------------------------------------------------------------------------------------
    def plan_scale_set(self, ss: ScaleSet, b: Binding) -> None:
        t = self.target(b)
        if t is None:
            return
        nc = ss.primary_nic_configuration
        ipc = nc.primary_ip_configuration if nc is not None else None
        if nc is None or ipc is None:
            self.report(ss.id, b.name, "NoPrimaryIpConfiguration",
                        f"scale set {ss.name}'s model has no primary NIC/ip configuration to put into pool "
                        f"{t.pool.name}")
            return
        manual = ss.upgrade_mode.lower() == "manual"
        live = [i for i in ss.instances if not _deleting(i.provisioning_state)]
        made_stale: list[str] = []  # instances this plan's model write makes out of date
        if not any(same_id(p, t.pool.id) for p in ipc.backend_pool_ids):
            if self.check_join(t, ss.id, ipc.subnet_id, ss.key, f"scale set {ss.name}") is not None:
                return
            if manual:
                made_stale = [i.instance_id for i in live if i.latest_model_applied is not False]
            self.out.append(SetScaleSetModelPool(scale_set_id=ss.id, nic_config=nc.name, ip_config=ipc.name,
                                                 pool_id=t.pool.id, binding=b.name,
                                                 record_instance_ids=tuple(sorted(made_stale,
                                                                                  key=_instance_sort_key)),
                                                 model_etag=ss.etag,
                                                 reason=f"scale set {ss.name} matches binding {b.name}"))
        if b.nat_rule is not None and b.nat_rule.mode == "v1":
            self.report(ss.id, b.name, "NatRuleV1OnScaleSet",
                        f"binding {b.name} asks for per-VM NAT rules (v1) but {ss.name} is a Uniform scale set; "
                        f"poolkeeper uses one NAT rule V2 over the pool instead and never creates NAT pools "
                        f"({NAT_POOL_RETIREMENT_FACT}); set natRule.mode to \"v2\" to silence this")
        self.plan_upgrades(ss, b, live, made_stale)

    def plan_upgrades(self, ss: ScaleSet, b: Binding, live: list[ScaleSetInstance], made_stale: list[str]) -> None:
        """Upgrade only what poolkeeper's own model change made out of date, in batches; report the rest.

        Ours: the instances this plan's model write makes stale, and those in the scale set's upgrade record (a
        previous write, perhaps interrupted before its upgrade). Any other out-of-date instance runs an older model
        because someone else changed it: rolling that out is their decision, so it is reported, never upgraded.
        """
        recorded = upgraderecord.decode(ss.tags)
        if ss.upgrade_mode.lower() != "manual":
            if recorded:  # the policy became Automatic/Rolling: Azure rolls the model out itself
                self.out.append(ClearUpgradeRecord(scale_set_id=ss.id, instance_ids=_sorted_ids(recorded),
                                                   binding=b.name, reason=f"upgrade policy of {ss.name} is "
                                                   f"{ss.upgrade_mode}; Azure applies the model"))
            return
        stale_now = {i.instance_id for i in live if i.latest_model_applied is False}
        ours = set(made_stale) | (recorded & stale_now)
        foreign = sorted(stale_now - ours, key=_instance_sort_key)
        if foreign:
            self.report(ss.id, b.name, "ModelChangedBySomeoneElse",
                        f"instances {', '.join(foreign)} of {ss.name} do not run the latest model, and not because "
                        "of a change poolkeeper made: someone else changed the model. poolkeeper does not roll out "
                        "other people's model changes; upgrade them yourself (az vmss update-instances) when ready")
        upgrade = sorted(ours, key=_instance_sort_key)
        if not b.apply_model_to_instances:
            if upgrade:
                self.report(ss.id, b.name, "InstancesOutOfDate",
                            f"instances {', '.join(upgrade)} of {ss.name} do not run the latest model and binding "
                            f"{b.name} has applyModelToInstances false; upgrade them to apply the pool change")
            settled = recorded - stale_now  # upgraded by someone, or gone
            if settled:
                self.out.append(ClearUpgradeRecord(scale_set_id=ss.id, instance_ids=_sorted_ids(settled),
                                                   binding=b.name, reason=f"instances of {ss.name} upgraded or gone"))
            return
        size = self.config.upgrade_batch_size
        for start in range(0, len(upgrade), size):
            self.out.append(UpgradeInstances(scale_set_id=ss.id, instance_ids=tuple(upgrade[start:start + size]),
                                             batch_size=size, binding=b.name,
                                             reason=f"apply poolkeeper's model change to {ss.name} (upgrade policy "
                                                    "Manual)"))
        done = recorded | set(made_stale)
        if done:
            self.out.append(ClearUpgradeRecord(scale_set_id=ss.id, instance_ids=_sorted_ids(done), binding=b.name,
                                               reason=f"instances of {ss.name} upgraded or gone"))

    # -- NAT rule V2 ---------------------------------------------------------------------------------------------
    def plan_nat_v2(self, vm_sel: Mapping[str, _Selection], ss_sel: Mapping[str, _Selection]) -> None:
        """One NAT rule V2 per binding that wants one and has at least one subject in this run (decided in
        :meth:`resolve_ports`)."""
        vm_bindings = {s.binding.name for s in vm_sel.values() if s.binding is not None}
        ss_bindings = {s.binding.name for s in ss_sel.values() if s.binding is not None}
        for b in self.config.bindings:
            nat = b.nat_rule
            if nat is None:
                continue
            wanted = (nat.mode == "v2" and (b.name in vm_bindings or b.name in ss_bindings)) or b.name in ss_bindings
            if not wanted:
                continue
            t = self.target(b)
            if t is None or t.nat_refusal is not None or t.frontend is None:
                continue
            refusal = nat_rule_v2_refusal(t.lb.name, t.lb.sku)  # the same rule `natpool migrate` applies
            if refusal is not None:
                self.report(t.lb.id, b.name, refusal.code,
                            f"binding {b.name} needs NAT rule V2 {nat_rule_name_v2(b.name, nat.backend_port)}: "
                            f"{refusal.message}; pool membership is still managed")
                continue
            self.wanted_rules.add(id_key(f"{t.lb.id}/inboundNatRules/{nat_rule_name_v2(b.name, nat.backend_port)}"))
            self.v2_requests.append(t)

    def ensure_v2(self, t: _Target) -> None:
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
        clash = sorted(self.ports.taken(t.lb, t.frontend.id, nat.protocol, exclude_rules=[name]) & set(range(start,
                                                                                                         end + 1)))
        if clash:
            shown = ", ".join(str(p) for p in clash[:5]) + (" ..." if len(clash) > 5 else "")
            self.report(t.lb.id, b.name, "NatRuleV2RangeConflict",
                        f"NAT rule V2 {name} on {t.lb.name} would use {nat.protocol} ports {start}-{end} on "
                        f"{t.frontend.name}, but {shown} are already taken; choose a free frontendPortRange")
            return
        for lbr in t.lb.load_balancing_rules:
            if lbr.backend_port == nat.backend_port and protocols_overlap(lbr.protocol, nat.protocol) \
                    and any(same_id(p, t.pool.id) for p in lbr.backend_address_pool_ids):
                self.report(t.lb.id, b.name, "BackendPortInUse",
                            f"load-balancing rule {lbr.name} already sends {lbr.protocol} to backend port "
                            f"{nat.backend_port} of pool {t.pool.name}; Azure refuses a NAT rule V2 with the same "
                            "backend port on the same pool")
                return
        self.ports.reserve(t.lb.id, t.frontend.id, nat.protocol, range(start, end + 1))
        self.out.append(EnsureNatRuleV2(lb_id=t.lb.id, rule_name=name, frontend_ip_configuration_id=t.frontend.id,
                                        protocol=nat.protocol, frontend_port_range_start=start,
                                        frontend_port_range_end=end, backend_port=nat.backend_port,
                                        pool_id=t.pool.id, binding=b.name,
                                        reason=f"NAT access to pool {t.pool.name} for binding {b.name}"))

    # -- refusals ------------------------------------------------------------------------------------------------
    def group_of_vm(self, vm: Vm) -> str:
        """What a Basic load balancer counts as one availability set."""
        return id_key(vm.availability_set_id or vm.scale_set_id or vm.id)

    def _lb_members(self, lb: LoadBalancer) -> MemberFacts:
        """(ip configuration key, pool key) → (virtual network, availability group) of every current backend of the
        load balancer, with the counts of each; computed once per run so that checking N joins stays linear."""
        cached = self.member_facts.get(lb.key)
        if cached is None:
            members: dict[tuple[str, str], tuple[str | None, str | None]] = {}
            for pool in lb.backend_pools:
                for nic, ic in self.snapshot.pool_members(pool.id):
                    members[(id_key(ic.id), id_key(pool.id))] = (vnet_of_subnet(ic.subnet_id), self._group_of_nic(nic))
            cached = (members, Counter(v for v, _ in members.values() if v),
                      Counter(g for _, g in members.values() if g))
            self.member_facts[lb.key] = cached
        return cached

    def _group_of_nic(self, nic: Nic) -> str | None:
        ss = scale_set_of(nic.id)
        if ss is not None:
            return ss
        vm = self.snapshot.vm(nic.vm_id)
        return self.group_of_vm(vm) if vm is not None else None

    def check_join(self, t: _Target, subject_id: str, subnet_id: str | None, group: str, what: str
                   ) -> Report | None:
        """Refuse a join Azure would reject: another virtual network, or (Basic SKU) another availability set."""
        vnet = vnet_of_subnet(subnet_id)
        vnets: set[str] = set()
        groups: set[str] = set()
        members, base_vnets, base_groups = self._lb_members(t.lb)
        leaving = [members[k] for k in self.leaving if k in members]
        vnet_counts = base_vnets.copy()
        group_counts = base_groups.copy()
        vnet_counts.subtract(v for v, _ in leaving if v)
        group_counts.subtract(g for _, g in leaving if g)
        vnets |= {v for v, n in vnet_counts.items() if n > 0}
        groups |= {g for g, n in group_counts.items() if n > 0}
        for pool in t.lb.backend_pools:
            if pool.virtual_network_id:
                vnets.add(id_key(pool.virtual_network_id))
            for ss in self.snapshot.scale_sets_using_pool(pool.id):
                groups.add(ss.key)
                for nc in ss.nic_configurations:
                    for sic in nc.ip_configurations:
                        if any(same_id(p, pool.id) for p in sic.backend_pool_ids) and vnet_of_subnet(sic.subnet_id):
                            vnets.add(vnet_of_subnet(sic.subnet_id) or "")
        for fe in t.lb.frontends:
            if vnet_of_subnet(fe.subnet_id):
                vnets.add(vnet_of_subnet(fe.subnet_id) or "")
        for j_vnet, j_group in self.joiners.get(t.lb.key, []):
            if j_vnet:
                vnets.add(j_vnet)
            if j_group:
                groups.add(j_group)
        b = t.binding
        if vnet is not None and vnets - {vnet}:
            return self.report(subject_id, b.name, "VirtualNetworkMismatch",
                               f"{what} is in virtual network {vnet.rsplit('/', 1)[-1]} but load balancer "
                               f"{t.lb.name}'s backends/frontends use "
                               f"{', '.join(sorted(v.rsplit('/', 1)[-1] for v in vnets - {vnet}))}; a backend pool "
                               "cannot span virtual networks")
        if t.lb.is_basic and groups - {group}:
            return self.report(subject_id, b.name, "BasicSkuAvailabilitySetMix",
                               f"{what} is not in the availability set / scale set that the other backends of Basic "
                               f"load balancer {t.lb.name} use; all VMs behind a Basic load balancer must share one "
                               "availability set (use a Standard load balancer to mix)")
        self.joiners.setdefault(t.lb.key, []).append((vnet, group))
        return None

    # -- orphans -------------------------------------------------------------------------------------------------
    def plan_stray_rules(self) -> None:
        """``pk-`` rules nobody needs: V1 rules whose NIC is gone, and in a full run also unreferenced V1 rules and
        V2 rules no binding with subjects wants."""
        for lb in _sorted(self.snapshot.load_balancers):
            if not self._in_scope(lb.id) or lb.inbound_nat_pools:
                continue
            for rule in sorted(lb.inbound_nat_rules, key=lambda r: r.name.lower()):
                if not rule.name.lower().startswith(RULE_PREFIX) or id_key(rule.id) in self.wanted_rules:
                    continue
                backend = rule.backend_ip_configuration_id
                if rule.is_v2:
                    if self.only is not None:
                        continue
                    why = "no binding with subjects asks for this NAT rule V2 any more"
                elif backend:
                    nic_key = parent_key(backend)
                    if self.snapshot.nics.get(nic_key) is not None or not self._in_scope(backend):
                        continue
                    if self.only is not None and nic_key not in self.only:
                        continue
                    why = f"its NIC {nic_key.rsplit('/', 1)[-1]} no longer exists"
                else:
                    if self.only is not None or self.snapshot.nat_rule_referrers(rule.id):
                        continue
                    why = "no VM references it and no VM wants it"
                self.out.append(DeleteNatRule(lb_id=lb.id, rule_name=rule.name, binding="",
                                              reason=f"orphaned NAT rule: {why}"))


def _sorted(items: Mapping[str, object]) -> list:  # type: ignore[type-arg]
    """Values of an id-keyed mapping in key order: the one source of determinism."""
    return [items[k] for k in sorted(items)]


def _deleting(state: str | None) -> bool:
    return (state or "").lower() == "deleting"


def _sorted_ids(ids: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(ids), key=_instance_sort_key))


def _instance_sort_key(instance_id: str) -> tuple[int, str]:
    return (0, f"{int(instance_id):012d}") if instance_id.isdigit() else (1, instance_id)
