"""Reading the snapshot: the slice of Azure a run needs, as raw ARM JSON, into the one :class:`Snapshot`.

Events are hints, never the truth: whatever triggered a run, the planner sees Azure as it is now. A run for a few
created or changed VMs/NICs reads just those, their NICs/VMs and the load balancers they touch or are bound to
(``read_narrow``: a GET each, however large the resource group); other event runs (deletes, scale sets, bursts
larger than ``NARROW_MAX_TARGETS``) read the event's resource group (plus the bindings' load balancers) with one
paged LIST per type; a sweep reads every scope (:func:`read_snapshot`). A NAT-pool workflow reads around one load
balancer (:func:`read_around_load_balancer`), as its :class:`AroundLoadBalancer` describes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from poolkeeper.config import Config
from poolkeeper.gateway import ArmGateway
from poolkeeper.ids import ResourceId, id_key, in_scope
from poolkeeper.model import Snapshot

#: a run for at most this many VMs/NICs reads them one GET each (about 2 per VM plus the load balancers); beyond,
#: listing the resource group (2 pages per 100 VMs plus the load balancers and scale sets) costs fewer reads
NARROW_MAX_TARGETS = 8


def narrowest_scopes(scopes: list[ResourceId]) -> list[ResourceId]:
    """Drop scopes contained in another (a resource group inside a listed subscription is read once)."""
    out: list[ResourceId] = []
    for s in sorted(scopes, key=lambda r: len(str(r))):
        if not any(in_scope(s, [o]) for o in out):
            out.append(s)
    return out


def scopes_for_run(config: Config, subscription_id: str, resource_group: str | None = None) -> list[ResourceId]:
    """The scopes to read for a run in one subscription: all configured ones, or just one resource group."""
    configured = [ResourceId.parse(s) for s in config.scopes]
    mine = [s for s in configured if s.subscription.lower() == subscription_id.lower()]
    if resource_group is not None:
        rg = ResourceId.parse(f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}")
        return [rg] if in_scope(rg, mine) else []
    return narrowest_scopes(mine)


NETWORK_PARTS = frozenset({"nsgs", "public_ips", "virtual_networks"})


def read_snapshot(gateway: ArmGateway, config: Config, scopes: list[ResourceId],
                  parts: frozenset[str] = frozenset()) -> Snapshot:
    """The snapshot of ``scopes``; ``parts`` adds network parts guardrails need (``NETWORK_PARTS``), each read with
    one paged LIST per scope, never a GET per resource."""
    vms: list[dict[str, Any]] = []
    nics: list[dict[str, Any]] = []
    lbs: dict[str, dict[str, Any]] = {}
    scale_sets: list[dict[str, Any]] = []
    instances: dict[str, list[dict[str, Any]]] = {}
    for scope in scopes:
        vms += gateway.list_vms(scope)
        nics += gateway.list_nics(scope)
        for lb in gateway.list_load_balancers(scope):
            lbs[id_key(lb["id"])] = lb
        for vmss in gateway.list_scale_sets(scope):
            scale_sets.append(vmss)
            mode = str((vmss.get("properties") or {}).get("orchestrationMode") or "Uniform")
            if mode.lower() == "uniform":
                instances[vmss["id"]] = gateway.list_scale_set_instances(vmss["id"])
    sub = scopes[0].subscription.lower() if scopes else ""
    for binding in config.bindings:
        key = id_key(binding.load_balancer)
        if key in lbs or ResourceId.parse(binding.load_balancer).subscription.lower() != sub:
            continue
        if in_scope(binding.load_balancer, config.scopes):
            found = gateway.get_load_balancer(binding.load_balancer)
            if found is not None:
                lbs[key] = found
    extra: dict[str, list[dict[str, Any]]] = {}
    listers = {"nsgs": gateway.list_nsgs, "public_ips": gateway.list_public_ips,
               "virtual_networks": gateway.list_virtual_networks}
    for part in sorted(parts & NETWORK_PARTS):
        extra[part] = _dedupe([item for scope in scopes for item in listers[part](scope)])
    # the planner's "now" (poolkeeper.flexrecord), taken after the LISTs: the later, the more members are joined
    read_at = datetime.now(UTC)
    return Snapshot.from_arm(
        vms=_dedupe(vms), nics=_dedupe(nics), load_balancers=lbs.values(), scale_sets=_dedupe(scale_sets),
        scale_set_instances=instances, nsgs=extra.get("nsgs"), public_ips=extra.get("public_ips"),
        virtual_networks=extra.get("virtual_networks"), read_at=read_at,
    )


def _dedupe(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for item in items:
        seen.setdefault(id_key(item["id"]), item)
    return list(seen.values())


def read_narrow(gateway: ArmGateway, config: Config, scopes: list[ResourceId], only: set[str] | frozenset[str],
                parts: frozenset[str] = frozenset()) -> Snapshot | None:
    """The snapshot around a few VMs/NICs: each target, its NICs (or its VM), and the load balancers its NICs
    reference or its bindings name — one GET each, every resource once however many events were coalesced.

    None when that slice might not be enough (a target that is not a VM or NIC, a scale-set member, more than
    ``NARROW_MAX_TARGETS``): the caller then lists the resource group. Deletes never come here (their runs have no
    targets): releasing a deleted VM's rules needs the NICs and rules around it, which only the list shows.
    """
    if not only or len(only) > NARROW_MAX_TARGETS:
        return None
    vms: dict[str, dict[str, Any]] = {}
    nics: dict[str, dict[str, Any]] = {}
    for target in sorted(only):
        kind = "/".join(t.lower() for t in ResourceId.parse(target).types)
        if kind == "virtualmachines":
            vm = gateway.get_vm(target)
            if vm is not None:
                vms[id_key(vm["id"])] = vm
        elif kind == "networkinterfaces":
            nic = gateway.get_nic(target)
            if nic is not None:
                nics[id_key(nic["id"])] = nic
        else:
            return None
    for nic in list(nics.values()):  # a NIC's VM (which decides its binding)
        vm_id = ((nic.get("properties") or {}).get("virtualMachine") or {}).get("id")
        if vm_id and id_key(vm_id) not in vms and in_scope(vm_id, scopes):
            vm = gateway.get_vm(vm_id)
            if vm is not None:
                vms[id_key(vm["id"])] = vm
    for vm in vms.values():
        props = vm.get("properties") or {}
        if props.get("virtualMachineScaleSet"):
            return None  # a scale-set member: its scale set's model decides; the full read has it
        for ref in (props.get("networkProfile") or {}).get("networkInterfaces") or []:
            nic_id = ref.get("id")
            if nic_id and id_key(nic_id) not in nics and in_scope(nic_id, scopes):
                nic = gateway.get_nic(nic_id)
                if nic is not None:
                    nics[id_key(nic["id"])] = nic
    lbs: dict[str, dict[str, Any]] = {}
    sub = scopes[0].subscription.lower() if scopes else ""
    wanted = {id_key(b.load_balancer): b.load_balancer for b in config.bindings
              if ResourceId.parse(b.load_balancer).subscription.lower() == sub}
    for nic in nics.values():
        for lb_id in _referenced_lbs(nic):
            wanted.setdefault(id_key(lb_id), lb_id)
    for key in sorted(wanted):
        if in_scope(key, config.scopes):
            found = gateway.get_load_balancer(wanted[key])
            if found is not None:
                lbs[id_key(found["id"])] = found
    extra: dict[str, list[dict[str, Any]]] = {}
    listers = {"nsgs": gateway.list_nsgs, "public_ips": gateway.list_public_ips,
               "virtual_networks": gateway.list_virtual_networks}
    for part in sorted(parts & NETWORK_PARTS):
        extra[part] = _dedupe([item for scope in scopes for item in listers[part](scope)])
    return Snapshot.from_arm(vms=vms.values(), nics=nics.values(), load_balancers=lbs.values(),
                             nsgs=extra.get("nsgs"), public_ips=extra.get("public_ips"),
                             virtual_networks=extra.get("virtual_networks"), read_at=datetime.now(UTC))


def _referenced_lbs(nic: dict[str, Any]) -> set[str]:
    """The load balancers whose pools or NAT rules a NIC's IP configurations name (ids as the NIC spells them)."""
    out: set[str] = set()
    for ipc in (nic.get("properties") or {}).get("ipConfigurations") or []:
        props = ipc.get("properties") or {}
        for ref in [*(props.get("loadBalancerBackendAddressPools") or []), *(props.get("loadBalancerInboundNatRules")
                                                                             or [])]:
            rid = str(ref.get("id") or "")
            marker = rid.lower().find("/providers/microsoft.network/loadbalancers/")
            if marker >= 0:
                head = rid[: marker + len("/providers/microsoft.network/loadbalancers/")]
                name = rid[len(head):].split("/", 1)[0]
                out.add(head + name)
    return out


class ScopeCheck(Protocol):
    """Checks ids before they are read (``poolkeeper.workflows.scope.ScopeGuard``)."""

    def check(self, resource_id: str, what: str) -> None: ...  # raises when out of scope: nothing is read

    def why_not(self, resource_id: str, what: str) -> str | None: ...  # the reason it is out of scope, or None


Body = dict[str, Any]


@dataclass(frozen=True)
class AroundLoadBalancer:
    """What a NAT-pool workflow reads: its load balancer, the scale sets of the load balancer's resource group plus
    ``scale_sets(lb)`` (``(what, id)`` pairs: named in the request, or using the NAT pool), the instances of
    ``instances_of(snapshot)``, and ``public_ip(lb)`` if any. Every id passes ``guard`` first; a scale set or public
    IP out of scope is not read but said in ``Snapshot.out_of_scope``."""

    load_balancer: str
    guard: ScopeCheck
    scale_sets: Callable[[Body], list[tuple[str, str]]]
    instances_of: Callable[[Snapshot], list[Body]]
    public_ip: Callable[[Body], str | None]


def read_around_load_balancer(gateway: ArmGateway, what: AroundLoadBalancer) -> Snapshot:
    """The snapshot a workflow decides from (``Snapshot.focus`` is its load balancer; None if it does not exist)."""
    guard = what.guard
    guard.check(what.load_balancer, "load balancer")
    lb = gateway.get_load_balancer(what.load_balancer)
    if not lb:
        return Snapshot.from_arm(focus=what.load_balancer)
    rid = ResourceId.parse(lb["id"])
    group = ResourceId(rid.subscription, rid.resource_group)
    guard.check(str(group), "resource group")
    scale_sets = {id_key(vmss["id"]): vmss for vmss in gateway.list_scale_sets(group)}
    out_of_scope: list[str] = []
    wanted: dict[str, tuple[str, str]] = {}
    for label, vmss_id in what.scale_sets(lb):
        wanted.setdefault(id_key(vmss_id), (label, vmss_id))
    for key in sorted(wanted):
        label, vmss_id = wanted[key]
        why = guard.why_not(vmss_id, label)
        if why is not None:
            out_of_scope.append(why)
            scale_sets.pop(key, None)
        elif key not in scale_sets:
            body = gateway.get_scale_set(vmss_id)
            if body:
                scale_sets[id_key(body["id"])] = body
    seen = Snapshot.from_arm(load_balancers=[lb], scale_sets=scale_sets.values(), focus=what.load_balancer)
    instances: dict[str, list[Body]] = {}
    for vmss in what.instances_of(seen):
        guard.check(vmss["id"], "scale set")
        instances[vmss["id"]] = gateway.list_scale_set_instances(vmss["id"])
    public_ips = None
    pip_id = what.public_ip(lb)
    if pip_id:
        why = guard.why_not(pip_id, "public IP (deletePublicIp)")
        if why is not None:
            out_of_scope.append(why)
        else:
            found = gateway.get_public_ip(pip_id)
            public_ips = [found] if found else []
    return Snapshot.from_arm(load_balancers=[lb], scale_sets=scale_sets.values(), scale_set_instances=instances,
                             public_ips=public_ips, focus=what.load_balancer, out_of_scope=out_of_scope)
