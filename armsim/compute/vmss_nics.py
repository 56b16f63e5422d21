"""The network reads of scale-set instance NICs, served under the Microsoft.Compute path.

``az vmss nic list`` / ``network_interfaces.list_virtual_machine_scale_set_network_interfaces`` and friends call
``.../virtualMachineScaleSets/{vmss}[/virtualMachines/{i}]/networkInterfaces[/{nic}[/ipConfigurations[/{ip}]]]``
with network api-versions. The NIC records live at exactly those ids (see ``instances``); these read-only virtual
providers answer from them.
"""

from __future__ import annotations

import copy
from typing import Any

from armsim import ids
from armsim.compute.common import NIC_TYPE, VMSS_TYPE, VMSS_VM_TYPE
from armsim.errors import ArmError
from armsim.ids import ArmPath
from armsim.provider import Ctx, Provider, registered
from armsim.store import Record


def _nics_under(ctx: Ctx, prefix_id: str) -> list[Record]:
    prefix = ids.key(prefix_id) + "/"
    recs = [r for r in ctx.store.of_type(NIC_TYPE) if ids.key(r.id).startswith(prefix)]
    recs.sort(key=lambda r: [int(s) if s.isdigit() else s for s in ids.key(r.id).split("/")])
    return recs


def _render(rec: Record) -> dict[str, Any]:
    body = copy.deepcopy(rec.body)
    body["id"] = rec.id
    return body


def _not_found(what: str) -> ArmError:
    return ArmError(404, "ResourceNotFound", f"The resource '{what}' was not found.")


class _ReadOnly(Provider):
    etag_style = None
    requires_location = False

    def prepare(
        self, ctx: Ctx, resource_id: str, body: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        raise ArmError(405, "MethodNotAllowed", "Scale-set instance NICs are managed through the scale set's model.")

    def check_delete(self, ctx: Ctx, record: Record) -> None:
        raise ArmError(405, "MethodNotAllowed", "Scale-set instance NICs are managed through the scale set's model.")


def _vmss(ctx: Ctx, path: ArmPath) -> Record:
    rec = ctx.store.get(path.resource_id(1))
    if rec is None or rec.type != VMSS_TYPE:
        raise _not_found(path.resource_id(1))
    return rec


@registered
class ScaleSetNicListProvider(_ReadOnly):
    """ListVirtualMachineScaleSetNetworkInterfaces: every instance NIC of a scale set."""

    type = f"{VMSS_TYPE}/networkInterfaces"

    def custom_get(self, ctx: Ctx, path: ArmPath) -> Any:
        vmss = _vmss(ctx, path)
        return {"value": [_render(r) for r in _nics_under(ctx, vmss.id)]}


@registered
class ScaleSetVMNicProvider(_ReadOnly):
    """ListVirtualMachineScaleSetVMNetworkInterfaces and GetVirtualMachineScaleSetNetworkInterface."""

    type = f"{VMSS_VM_TYPE}/networkInterfaces"

    def custom_get(self, ctx: Ctx, path: ArmPath) -> Any:
        _vmss(ctx, path)
        inst = ctx.store.get(path.resource_id(2))
        if inst is None or inst.type != VMSS_VM_TYPE:
            raise _not_found(path.resource_id(2))
        if path.is_collection:
            return {"value": [_render(r) for r in _nics_under(ctx, inst.id)]}
        rec = ctx.store.get(path.resource_id())
        if rec is None or rec.type != NIC_TYPE:
            raise _not_found(path.resource_id())
        return _render(rec)


@registered
class ScaleSetVMNicIpConfigProvider(_ReadOnly):
    """ListVirtualMachineScaleSetIpConfigurations and GetVirtualMachineScaleSetIpConfiguration."""

    type = f"{VMSS_VM_TYPE}/networkInterfaces/ipConfigurations"

    def custom_get(self, ctx: Ctx, path: ArmPath) -> Any:
        nic = ctx.store.get(path.resource_id(3))
        if nic is None or nic.type != NIC_TYPE:
            raise _not_found(path.resource_id(3))
        ipcs = copy.deepcopy((nic.body.get("properties") or {}).get("ipConfigurations") or [])
        if path.is_collection:
            return {"value": ipcs}
        for ipc in ipcs:
            if str(ipc.get("name", "")).lower() == path.names[-1].lower():
                return ipc
        raise _not_found(path.resource_id())


@registered
class ScaleSetPublicIpListProvider(_ReadOnly):
    """Instance-level public IPs (``publicIPAddressConfiguration``) are not simulated: the lists are empty."""

    type = f"{VMSS_TYPE}/publicIPAddresses"

    def custom_get(self, ctx: Ctx, path: ArmPath) -> Any:
        _vmss(ctx, path)
        return {"value": []}


@registered
class ScaleSetVMPublicIpListProvider(_ReadOnly):
    type = f"{VMSS_VM_TYPE}/networkInterfaces/ipConfigurations/publicIPAddresses"

    def custom_get(self, ctx: Ctx, path: ArmPath) -> Any:
        _vmss(ctx, path)
        if path.is_collection:
            return {"value": []}
        raise _not_found(path.resource_id())
