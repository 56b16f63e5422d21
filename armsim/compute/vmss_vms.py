"""Uniform scale-set instances as their own endpoints: ``.../virtualMachineScaleSets/{vmss}/virtualMachines/{id}``.

Instances are created and removed by the scale set (see ``instances``); here they are read, power-cycled, deleted
one by one (which lowers the scale set's capacity, as in Azure) and updated (only instance-level settings: tags,
``protectionPolicy``; the model is applied by ``manualupgrade``). ARM reports them with type
``Microsoft.Compute/virtualMachines`` and name ``{vmss}_{instanceId}``.
"""

from __future__ import annotations

import copy
from typing import Any

from armsim import ids
from armsim.compute.common import (
    VMSS_TYPE,
    VMSS_VM_TYPE,
    hide_user_data,
    instance_view_statuses,
    power_of,
    props,
    utcnow,
    wants_instance_view,
)
from armsim.compute.flexible import as_scale_set_vm, members_of
from armsim.compute.instances import remove_instances
from armsim.compute.lbwiring import check_not_busy, natpool_keys
from armsim.compute.vms import power_action
from armsim.compute.vmss import is_flexible
from armsim.errors import ArmError
from armsim.ids import ArmPath
from armsim.provider import ActionResult, Ctx, Provider, registered
from armsim.store import Record


def instance_view(body: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    p = body.get("properties") or {}
    when = str(meta.get("state_time") or p.get("timeCreated") or utcnow())
    prov = str(p.get("provisioningState") or "Succeeded")
    n = int(body.get("instanceId") or ids.name_of(body["id"]))
    return {
        "platformUpdateDomain": n % 5,
        "platformFaultDomain": n % 5,
        "computerName": (p.get("osProfile") or {}).get("computerName"),
        "vmAgent": {"vmAgentVersion": "2.7.41491.1102", "statuses": [
            {"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Ready",
             "message": "GuestAgent is running and processing the extensions.", "time": when}]},
        "statuses": instance_view_statuses(prov, None if prov == "Creating" else power_of(meta), when),
    }


def _normalise(body: dict[str, Any]) -> dict[str, Any]:
    vmss_name = ids.name_of(ids.parent_id(body["id"]))
    n = ids.name_of(body["id"])
    body["name"] = f"{vmss_name}_{n}"
    body["type"] = "Microsoft.Compute/virtualMachines"
    body["instanceId"] = n
    return body


@registered
class ScaleSetVMProvider(Provider):
    type = VMSS_VM_TYPE
    etag_style = "compute"
    put_duration_kind = "compute.vm.update"
    delete_duration_kind = "compute.vm.delete"

    def prepare(
        self, ctx: Ctx, resource_id: str, body: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        if existing is None:
            raise ArmError(404, "NotFound", f"The scale set instance {resource_id} does not exist. Instances are "
                                            "created by changing the scale set's capacity.")
        new = copy.deepcopy(existing)
        if "tags" in body:
            new["tags"] = body["tags"]
        pp = (body.get("properties") or {}).get("protectionPolicy")
        if pp is not None:
            props(new)["protectionPolicy"] = pp
        return new

    def custom_get(self, ctx: Ctx, path: ArmPath) -> Any:
        """A Flexible scale set's members are VMs, not records under this path: list (and get) them from there."""
        vmss = ctx.store.get(path.resource_id(1))
        if vmss is None or vmss.type != VMSS_TYPE or not is_flexible(vmss.body):
            return None
        members = members_of(ctx, vmss)
        if path.is_collection:
            return {"value": [as_scale_set_vm(vmss, vm) for vm in members]}
        found = next((vm for vm in members if vm.body["name"].lower() == path.names[-1].lower()), None)
        if found is None:
            raise ArmError(404, "NotFound", f"The scale set instance {path.resource_id()} was not found.")
        return as_scale_set_vm(vmss, found)

    def render(self, ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
        body = _normalise(body)
        hide_user_data(ctx, body)
        if wants_instance_view(ctx):
            rec = ctx.store.get(body["id"])
            props(body)["instanceView"] = instance_view(body, rec.meta if rec else {})
        return body

    def check_delete(self, ctx: Ctx, record: Record) -> None:
        keys = {k[0] for k in natpool_keys(_applied(record))}
        check_not_busy(ctx, keys, ids.parent_id(record.id))

    def after_delete(self, ctx: Ctx, record: Record) -> None:
        vmss = ctx.store.get(ids.parent_id(record.id))
        if vmss is None or vmss.type != VMSS_TYPE:
            return
        remove_instances(ctx, vmss, [record], already_gone=True)
        sku = vmss.body.setdefault("sku", {})
        sku["capacity"] = max(0, int(sku.get("capacity") or 0) - 1)

    def action(self, ctx: Ctx, record: Record, name: str, body: Any) -> ActionResult:
        result = power_action(ctx, record, name)
        if result is None:
            return super().action(ctx, record, name, body)
        return result


def _applied(record: Record) -> list[dict[str, Any]]:
    from armsim.compute.instances import applied_configs

    return applied_configs(record) or []


@registered
class ScaleSetVMInstanceViewProvider(Provider):
    """``GET .../virtualMachineScaleSets/{vmss}/virtualMachines/{id}/instanceView``."""

    type = f"{VMSS_VM_TYPE}/instanceView"
    etag_style = None

    def custom_get(self, ctx: Ctx, path: ArmPath) -> Any:
        rec = ctx.store.get(path.resource_id(2))
        if rec is None or rec.type != VMSS_VM_TYPE:
            raise ArmError(404, "NotFound", f"The scale set instance {path.resource_id(2)} was not found.")
        return instance_view(_normalise(copy.deepcopy(rec.body)), rec.meta)

    def prepare(
        self, ctx: Ctx, resource_id: str, body: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        raise ArmError(405, "MethodNotAllowed", "The instance view is read-only.")
