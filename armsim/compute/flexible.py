"""Flexible orchestration: scale-set members are ordinary ``Microsoft.Compute/virtualMachines`` resources.

Each member VM carries ``virtualMachineScaleSet.id`` and uses ordinary NICs in the resource group, created from the
model through the network provider (``engine.internal_put``) and referenced with ``deleteOption: Delete`` so that
they go with the VM. The scale set remembers its members in creation order so scale-in removes the newest.
"""

from __future__ import annotations

import copy
from typing import Any

from armsim import ids
from armsim.compute.common import nic_configs, ref_ids, same
from armsim.provider import Ctx
from armsim.store import Record


def _members(vmss: Record) -> list[str]:
    members = vmss.meta.get("flex_vms")
    if not isinstance(members, list):
        members = []
        vmss.meta["flex_vms"] = members
    return members


def reconcile(ctx: Ctx, vmss: Record) -> None:
    """Create or delete member VMs until their number is the scale set's capacity."""
    members = _members(vmss)
    members[:] = [m for m in members if ctx.store.get(m) is not None]
    cap = int((vmss.body.get("sku") or {}).get("capacity") or 0)
    while len(members) > cap:
        vm_id = members.pop()
        ctx.engine.internal_delete(vm_id, principal=ctx.principal)
    while len(members) < cap:
        members.append(_create_vm(ctx, vmss))


def _create_vm(ctx: Ctx, vmss: Record) -> str:
    rg = ids.resource_group_of(vmss.id)
    sub = ids.subscription_of(vmss.id)
    suffix = format(int(vmss.meta.get("flex_seq", 0)), "08x")
    vmss.meta["flex_seq"] = int(vmss.meta.get("flex_seq", 0)) + 1
    name = f"{vmss.body['name']}_{suffix}"
    base = f"/subscriptions/{sub}/resourceGroups/{rg}/providers"
    profile = copy.deepcopy((vmss.body.get("properties") or {}).get("virtualMachineProfile") or {})
    nics = []
    for n, cfg in enumerate(nic_configs(profile)):
        cp = cfg.get("properties") or {}
        nic_id = f"{base}/Microsoft.Network/networkInterfaces/{name}-{cfg['name']}"
        ipcs = []
        for ipc in cp.get("ipConfigurations") or []:
            ip = ipc.get("properties") or {}
            ipp: dict[str, Any] = {"privateIPAllocationMethod": "Dynamic", "primary": bool(ip.get("primary", True))}
            if (ip.get("subnet") or {}).get("id"):
                ipp["subnet"] = {"id": ip["subnet"]["id"]}
            pools = ref_ids(ip.get("loadBalancerBackendAddressPools"))
            if pools:
                ipp["loadBalancerBackendAddressPools"] = [{"id": p} for p in pools]
            ipcs.append({"name": ipc["name"], "properties": ipp})
        nic_body: dict[str, Any] = {
            "location": vmss.body.get("location"),
            "properties": {
                "ipConfigurations": ipcs,
                "enableAcceleratedNetworking": bool(cp.get("enableAcceleratedNetworking", False)),
                "enableIPForwarding": bool(cp.get("enableIPForwarding", False)),
            },
        }
        if (cp.get("networkSecurityGroup") or {}).get("id"):
            nic_body["properties"]["networkSecurityGroup"] = {"id": cp["networkSecurityGroup"]["id"]}
        ctx.engine.internal_put(nic_id, nic_body, principal=ctx.principal)
        primary = bool(cp.get("primary", n == 0))
        nics.append({"id": nic_id, "properties": {"primary": primary, "deleteOption": "Delete"}})
    os_profile = copy.deepcopy(profile.get("osProfile") or {})
    prefix = os_profile.pop("computerNamePrefix", None) or vmss.body["name"][:9]
    os_profile["computerName"] = f"{prefix}{suffix[-6:]}"
    vm_body: dict[str, Any] = {
        "location": vmss.body.get("location"),
        "properties": {
            "hardwareProfile": {"vmSize": (vmss.body.get("sku") or {}).get("name", "Standard_D2s_v3")},
            "storageProfile": copy.deepcopy(profile.get("storageProfile") or {}),
            "osProfile": os_profile,
            "networkProfile": {"networkInterfaces": nics},
            "virtualMachineScaleSet": {"id": vmss.id},
        },
    }
    if vmss.body.get("tags"):
        vm_body["tags"] = copy.deepcopy(vmss.body["tags"])
    vm_id = f"{base}/Microsoft.Compute/virtualMachines/{name}"
    ctx.engine.internal_put(vm_id, vm_body, principal=ctx.principal)
    return vm_id


def forget_vm(ctx: Ctx, vmss_id: str, vm_id: str) -> None:
    """A member VM was deleted directly: the scale set's capacity follows (as Azure's does)."""
    vmss = ctx.store.get(vmss_id)
    if vmss is None:
        return
    members = _members(vmss)
    kept = [m for m in members if not same(m, vm_id)]
    if len(kept) == len(members):
        return
    members[:] = kept
    sku = vmss.body.setdefault("sku", {})
    sku["capacity"] = max(0, int(sku.get("capacity") or 0) - 1)


def delete_all(ctx: Ctx, vmss: Record) -> None:
    """Deleting a Flexible scale set deletes its member VMs (and, through deleteOption, their NICs)."""
    members = _members(vmss)
    while members:
        ctx.engine.internal_delete(members.pop(), principal=ctx.principal)


def members_of(ctx: Ctx, vmss: Record) -> list[Record]:
    """The scale set's member VMs: the ones it created (in creation order), then any VM that names it."""
    from armsim.compute.vms import vms_in_scale_set

    created = [r for m in _members(vmss) if (r := ctx.store.get(m)) is not None]
    known = {ids.key(r.id) for r in created}
    joined = sorted((r for r in vms_in_scale_set(ctx, vmss.id) if ids.key(r.id) not in known),
                    key=lambda r: r.id.lower())
    return created + joined


def as_scale_set_vm(vmss: Record, vm: Record) -> dict[str, Any]:
    """A Flexible member as the scale set's VM list (VirtualMachineScaleSetVMs_List) answers it.

    Microsoft Learn, "Orchestration modes for Virtual Machine Scale Sets", *List scale sets VM API changes*: with
    Flexible orchestration the list "provides a list of scale sets VM IDs"; the full VM is read with the standard VM
    API. "Understand names and instance IDs for Azure Virtual Machine Scale Set VMs": a Flexible member's instance ID
    is the VM's name. Azure/azure-rest-api-specs#27441: the list does not return a Flexible member's tags. So the
    entry carries the name (as ``name`` and ``instanceId``), the VM's ``vmId``, size, network profile and state, and
    no tags. Its ``id`` under the scale set's path (rather than the VM's own id) is UNCONFIRMED.
    """
    p = vm.body.get("properties") or {}
    keep = ("vmId", "hardwareProfile", "networkProfile", "provisioningState", "timeCreated")
    return {
        "name": vm.body["name"],
        "id": f"{vmss.id}/virtualMachines/{vm.body['name']}",
        "type": "Microsoft.Compute/virtualMachines",
        "location": vm.body.get("location"),
        "instanceId": vm.body["name"],
        "properties": {k: copy.deepcopy(p[k]) for k in keep if k in p},
    }
