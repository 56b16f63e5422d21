"""Per-VM NAT rules (V1): :func:`want_vm_rule` during the joins, :func:`allocate_vm_port` once every deletion is
known (called by the ``resolve_ports`` phase). A VM keeps its rule and port for life."""

from __future__ import annotations

from poolkeeper.changes import AssignNatRule, CreateNatRule
from poolkeeper.ids import id_key, same_id
from poolkeeper.model import IpConfiguration, Nic, Vm
from poolkeeper.planning.context import PortRequest, Target, Work
from poolkeeper.ports import PortAllocator, PortRangeExhausted


class VmRules:
    """The per-VM rules the joins phase wants, gathered while it runs."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}  # rule key → vm key
        self.requests: list[PortRequest] = []


def want_vm_rule(work: Work, rules: VmRules, vm: Vm, nic: Nic, ic: IpConfiguration, t: Target, name: str
                 ) -> str | None:
    """Ensure the VM's rule ``name`` exists and is assigned; returns its key (None if refused)."""
    ctx = work.ctx
    b = t.binding
    nat = b.nat_rule
    assert nat is not None and t.frontend is not None
    rule_id = f"{t.lb.id}/inboundNatRules/{name}"
    key = id_key(rule_id)
    claimed_by = rules.names.get(key)
    if claimed_by is not None and claimed_by != vm.key:
        work.report(vm.id, b.name, "NatRuleNameCollision",
                    f"NAT rule {name} on {t.lb.name} is already wanted by {claimed_by}; VMs of one binding need "
                    "distinct names across resource groups")
        return None
    existing = t.lb.nat_rule(name)
    holders = _other_holders(work, rule_id, ic)
    live = [h for h in holders if h[1] is not None and h[1] != vm.key]
    backref = existing.backend_ip_configuration_id if existing is not None else None
    if backref and not same_id(backref, ic.id) and ctx.snapshot.nic_for_ip_configuration(backref) is None \
            and ctx.only is not None:
        work.report(vm.id, b.name, "NatRuleHeldElsewhere",
                    f"NAT rule {name} on {t.lb.name} points at {backref}, which this partial run did not read; "
                    "left for the next full reconcile")
        return None
    if live:
        work.report(vm.id, b.name, "NatRuleNameCollision",
                    f"NAT rule {name} on {t.lb.name} already points at another VM ({live[0][1]}); rename one "
                    "of the VMs or give the bindings different backend ports")
        return None
    rules.names[key] = vm.key
    keep = existing is not None and not existing.is_v2 and existing.frontend_port is not None \
        and same_id(existing.frontend_ip_configuration_id, t.frontend.id) \
        and existing.protocol.lower() == nat.protocol.lower() and existing.backend_port == nat.backend_port
    work.wanted_rules.add(key)
    for h_nic, _ in holders:
        h_ic = next((x for x in h_nic.ip_configurations if x.has_nat_rule(rule_id)), None)
        if h_ic is not None and (id_key(h_ic.id), key) not in work.unassigned and not h_nic.is_scale_set_instance_nic:
            work.unassign(h_nic, h_ic, rule_id, b.name, f"NAT rule {name} now belongs to VM {vm.name}")
    assign = None
    if not ic.has_nat_rule(rule_id):
        assign = work.add(AssignNatRule(nic_id=nic.id, ip_configuration=ic.name, rule_id=rule_id, binding=b.name,
                                        reason=f"VM {vm.name}'s NAT rule"))
    if not keep:  # kept as it is otherwise: a VM keeps its port for life
        rules.requests.append(PortRequest(vm=vm, target=t, rule_name=name, exists=existing is not None,
                                          assign=assign,
                                          keep_port=existing.frontend_port if existing is not None else None))
    return key


def _other_holders(work: Work, rule_id: str, ic: IpConfiguration) -> list[tuple[Nic, str | None]]:
    """NICs (other than ``ic``'s) that still reference the rule, each with its live VM key (None if the VM is
    gone or the reference is being released in this plan)."""
    out: list[tuple[Nic, str | None]] = []
    for nic, other in work.ctx.snapshot.nat_rule_referrers(rule_id):
        if same_id(other.id, ic.id):
            continue
        vm = work.ctx.snapshot.vm(nic.vm_id)
        released = (id_key(other.id), id_key(rule_id)) in work.unassigned
        out.append((nic, None if vm is None or released else vm.key))
    return out


def allocate_vm_port(work: Work, ports: PortAllocator, req: PortRequest) -> None:
    """Create (or re-create with new settings) a per-VM rule, keeping its old port number when possible."""
    t, vm = req.target, req.vm
    nat = t.binding.nat_rule
    assert nat is not None and t.frontend is not None
    proto = nat.protocol
    port = req.keep_port
    if port is not None and port in ports.taken(t.lb, t.frontend.id, proto, exclude_rules=[req.rule_name]):
        port = None  # the old number clashes on the new frontend/protocol: only then is a rule renumbered
    if port is None:
        try:
            port = ports.allocate(t.lb, t.frontend.id, proto, nat.frontend_port_range)
        except PortRangeExhausted as exc:
            work.report(vm.id, t.binding.name, "PortRangeExhausted", str(exc))
            if not req.exists and req.assign is not None:
                work.changes.remove(req.assign)
            return
    else:
        ports.reserve(t.lb.id, t.frontend.id, proto, [port])
    what = "update" if req.exists else "new"
    work.add(CreateNatRule(lb_id=t.lb.id, rule_name=req.rule_name, frontend_ip_configuration_id=t.frontend.id,
                           protocol=proto, frontend_port=port, backend_port=nat.backend_port, replace=req.exists,
                           binding=t.binding.name, reason=f"{what} per-VM NAT rule for VM {vm.name}"))
