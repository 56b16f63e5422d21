"""Virtual machines: NIC attachment (with the NIC's ``virtualMachine`` back-reference), availability sets, power
state, instance view and the start/powerOff/deallocate/restart actions.

A VM does not own its NICs: they are Microsoft.Network resources created beforehand. Attaching one writes
``properties.virtualMachine`` into the NIC record (so network reads show it) and detaching clears it; a NIC reference
with ``deleteOption: Delete`` is deleted with the VM, any other NIC survives it.
"""

from __future__ import annotations

import copy
from typing import Any

from armsim import ids
from armsim.compute.common import (
    AVSET_TYPE,
    NIC_TYPE,
    POWER_ACTIONS,
    READ_ONLY,
    VM_TYPE,
    VMSS_TYPE,
    default_os_configuration,
    hide_user_data,
    instance_view_statuses,
    materialise_disks,
    new_guid,
    power_of,
    props,
    ref_ids,
    same,
    utcnow,
    wants_instance_view,
)
from armsim.errors import ArmError
from armsim.ids import ArmPath
from armsim.network.nic import check_vm_joins_basic_pools
from armsim.provider import ActionResult, Ctx, Provider, registered, strip_keys
from armsim.store import Record


def set_nic_owner(ctx: Ctx, nic_id: str, vm_id: str | None) -> None:
    """Write (or clear) a NIC's ``virtualMachine`` back-reference directly in its stored body.

    The NIC belongs to the network provider; only that one field (and the ETag, since the resource changed) is
    touched, so the network provider's own fields and semantics are untouched.
    """
    rec = ctx.store.get(nic_id)
    if rec is None:
        return
    try:  # the network provider's own helper, when present, knows its NIC fields best
        from armsim.network.nic import set_nic_virtual_machine
    except ImportError:
        set_nic_virtual_machine = None  # type: ignore[assignment]
    if set_nic_virtual_machine is not None and rec.type == NIC_TYPE:
        current = ((rec.body.get("properties") or {}).get("virtualMachine") or {}).get("id")
        if (vm_id is None and current is None) or (vm_id is not None and same(current, vm_id)):
            return
        set_nic_virtual_machine(ctx.engine, rec.id, vm_id)
        return
    body = copy.deepcopy(rec.body)
    p = props(body)
    current = (p.get("virtualMachine") or {}).get("id")
    if vm_id is None and current is None:
        return
    if vm_id is not None and same(current, vm_id):
        return
    if vm_id is None:
        p.pop("virtualMachine", None)
    else:
        p["virtualMachine"] = {"id": vm_id}
    if isinstance(body.get("etag"), str) and body["etag"].startswith("W/"):
        body["etag"] = f'W/"{new_guid()}"'
    ctx.store.put(Record(rec.id, rec.type, body, busy_op=rec.busy_op, meta=rec.meta))


def nic_refs(body: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not body:
        return []
    refs = ((body.get("properties") or {}).get("networkProfile") or {}).get("networkInterfaces") or []
    return [r for r in refs if isinstance(r, dict) and isinstance(r.get("id"), str)]


def nic_owner(ctx: Ctx, nic: Record) -> str | None:
    """The VM a NIC is attached to: its back-reference, or any VM whose body names it (whichever is found)."""
    owner = ((nic.body.get("properties") or {}).get("virtualMachine") or {}).get("id")
    if owner and ctx.store.get(owner) is not None:
        return owner
    for r in ctx.store.referrers(nic.id):
        if r.type == VM_TYPE and any(same(i, nic.id) for i in ref_ids(nic_refs(r.body))):
            return r.id
    return None


def vm_instance_view(ctx: Ctx, body: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    p = body.get("properties") or {}
    os_profile = p.get("osProfile") or {}
    os_disk = (p.get("storageProfile") or {}).get("osDisk") or {}
    prov = str(p.get("provisioningState") or "Succeeded")
    when = str(meta.get("state_time") or p.get("timeCreated") or utcnow())
    view: dict[str, Any] = {
        "computerName": os_profile.get("computerName", body.get("name")),
        "osName": "ubuntu" if os_profile.get("linuxConfiguration") else "Windows Server 2016 Datacenter",
        "vmAgent": {
            "vmAgentVersion": "2.7.41491.1102",
            "statuses": [
                {"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Ready",
                 "message": "GuestAgent is running and processing the extensions.", "time": when}
            ],
        },
        "disks": [
            {"name": os_disk.get("name", f"{body.get('name')}_OsDisk_1"),
             "statuses": [{"code": "ProvisioningState/succeeded", "level": "Info",
                           "displayStatus": "Provisioning succeeded", "time": when}]}
        ],
        "hyperVGeneration": "V1",
        "statuses": instance_view_statuses(prov, None if prov == "Creating" else power_of(meta), when),
    }
    if p.get("availabilitySet"):
        view["platformUpdateDomain"] = int(meta.get("update_domain", 0))
        view["platformFaultDomain"] = int(meta.get("fault_domain", 0))
    return view


def power_action(ctx: Ctx, record: Record, name: str) -> ActionResult | None:
    """start/powerOff/deallocate/restart for a VM or scale-set instance; None if ``name`` is not one of them."""
    n = name.lower()
    if n not in POWER_ACTIONS:
        return None
    during, after = POWER_ACTIONS[n]
    if n == "restart" and power_of(record.meta) in ("deallocated", "stopped", "deallocating"):
        raise ArmError(
            409,
            "OperationNotAllowed",
            f"Operation 'restart' is not allowed on VM '{record.body.get('name')}' since the VM is "
            f"{power_of(record.meta)}. Start it instead.",
        )
    record.meta["power"] = during
    record.meta["state_time"] = utcnow()
    rid = record.id
    store = ctx.store

    def done() -> None:
        rec = store.get(rid)
        if rec is not None:
            rec.meta["power"] = after
            rec.meta["state_time"] = utcnow()

    return ActionResult(status=200, duration=ctx.duration("compute.vm.update"), on_complete=done)


@registered
class VirtualMachineProvider(Provider):
    type = VM_TYPE
    etag_style = "compute"
    put_duration_kind = "compute.vm.create"
    delete_duration_kind = "compute.vm.delete"

    def prepare(
        self, ctx: Ctx, resource_id: str, body: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        body = strip_keys(body, READ_ONLY)
        # engine.put reads put_duration_kind right after prepare: creates take longer than updates
        self.put_duration_kind = "compute.vm.update" if existing else "compute.vm.create"
        p = props(body)
        old = (existing or {}).get("properties") or {}
        self._check_availability_set(ctx, resource_id, p, old, existing is not None)
        self._check_nics(ctx, resource_id, body)
        os_profile = p.get("osProfile")
        if isinstance(os_profile, dict):
            os_profile.pop("adminPassword", None)  # Azure never returns it
            os_profile.pop("customData", None)
            os_profile.setdefault("computerName", ids.name_of(resource_id))
            os_profile.setdefault("allowExtensionOperations", True)
            os_profile.setdefault("requireGuestProvisionSignal", True)
        default_os_configuration(p)
        rg_base = resource_id.split("/providers/")[0] + "/providers"
        materialise_disks(p, rg_base, ids.name_of(resource_id), old)
        p["vmId"] = old.get("vmId") or new_guid()
        p["timeCreated"] = old.get("timeCreated") or utcnow()
        return body

    @staticmethod
    def _check_availability_set(ctx: Ctx, rid: str, p: dict[str, Any], old: dict[str, Any], updating: bool) -> None:
        new_set = (p.get("availabilitySet") or {}).get("id")
        old_set = (old.get("availabilitySet") or {}).get("id")
        if updating and (new_set or old_set) and not same(new_set, old_set):
            # CRP: a VM's availability set is fixed at creation (409 PropertyChangeNotAllowed)
            raise ArmError(409, "PropertyChangeNotAllowed", "Changing property 'availabilitySet.id' is not allowed.")
        if new_set:
            rec = ctx.store.get(new_set)
            if rec is None or rec.type != AVSET_TYPE:
                raise ArmError(404, "NotFound", f"Availability Set {new_set} not found.")
            p["availabilitySet"] = {"id": rec.id}

    @staticmethod
    def _check_nics(ctx: Ctx, rid: str, body: dict[str, Any]) -> None:
        seen: set[str] = set()
        for ref in nic_refs(body):
            nid = ref["id"]
            nic = ctx.store.get(nid)
            if nic is None or nic.type != NIC_TYPE:
                # CRP refuses a VM whose NIC does not exist before creating anything (400 NotFound, wording as CRP's
                # "Resource <id> not found.")
                raise ArmError(400, "NotFound", f"Resource {nid} not found.")
            if ids.key(nid) in seen:
                raise ArmError(400, "InvalidParameter", f"Network interface {nid} is referenced more than once.")
            seen.add(ids.key(nid))
            owner = nic_owner(ctx, nic)
            if owner and not same(owner, rid):
                # A NIC serves one VM; Azure's code for a NIC in use by another VM is NicInUse.
                raise ArmError(
                    400,
                    "NicInUse",
                    f"Network Interface {nic.id} is used by existing resource {owner}. In order to use this network "
                    f"interface for {rid}, detach it from {owner} first.",
                )
            ref["id"] = nic.id
            avset = (props(body).get("availabilitySet") or {}).get("id")
            check_vm_joins_basic_pools(ctx.store, nic, rid, avset)
        refs = nic_refs(body)
        if len(refs) > 1 and sum(1 for r in refs if (r.get("properties") or {}).get("primary")) != 1:
            raise ArmError(
                400,
                "InvalidParameter",
                "Virtual machine with multiple network interfaces must have exactly one network interface marked "
                "primary ('properties.primary': true).",
            )

    def after_put(self, ctx: Ctx, record: Record, previous: dict[str, Any] | None) -> None:
        new_nics = {ids.key(i): i for i in ref_ids(nic_refs(record.body))}
        for old in ref_ids(nic_refs(previous)):
            if ids.key(old) not in new_nics:
                set_nic_owner(ctx, old, None)
        for nid in new_nics.values():
            set_nic_owner(ctx, nid, record.id)
        if previous is None:
            record.meta["power"] = "starting"
            record.meta["state_time"] = utcnow()
            self._place_in_domains(ctx, record)

    @staticmethod
    def _place_in_domains(ctx: Ctx, record: Record) -> None:
        """Spread members of an availability set round-robin over its fault and update domains."""
        avset_id = (record.body.get("properties", {}).get("availabilitySet") or {}).get("id")
        avset = ctx.store.get(avset_id) if avset_id else None
        if avset is None:
            return
        n = int(avset.meta.get("placed", 0))
        avset.meta["placed"] = n + 1
        ap = avset.body.get("properties", {})
        record.meta["fault_domain"] = n % int(ap.get("platformFaultDomainCount", 2) or 1)
        record.meta["update_domain"] = n % int(ap.get("platformUpdateDomainCount", 5) or 1)

    def on_put_complete(self, ctx: Ctx, record: Record) -> None:
        if power_of(record.meta) == "starting":
            record.meta["power"] = "running"
            record.meta["state_time"] = utcnow()

    def after_delete(self, ctx: Ctx, record: Record) -> None:
        for ref in nic_refs(record.body):
            set_nic_owner(ctx, ref["id"], None)
            if str((ref.get("properties") or {}).get("deleteOption", "")).lower() == "delete":
                ctx.engine.internal_delete(ref["id"], principal=ctx.principal)
        vmss_id = (record.body.get("properties", {}).get("virtualMachineScaleSet") or {}).get("id")
        if vmss_id:
            from armsim.compute.flexible import forget_vm

            forget_vm(ctx, vmss_id, record.id)

    def render(self, ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
        hide_user_data(ctx, body)
        if wants_instance_view(ctx):
            rec = ctx.store.get(body["id"])
            props(body)["instanceView"] = vm_instance_view(ctx, body, rec.meta if rec else {})
        return body

    def action(self, ctx: Ctx, record: Record, name: str, body: Any) -> ActionResult:
        result = power_action(ctx, record, name)
        if result is None:
            return super().action(ctx, record, name, body)
        return result


@registered
class VirtualMachineInstanceViewProvider(Provider):
    """``GET .../virtualMachines/{vm}/instanceView`` (a virtual resource: served from the VM record)."""

    type = f"{VM_TYPE}/instanceView"
    etag_style = None

    def custom_get(self, ctx: Ctx, path: ArmPath) -> Any:
        vm_id = path.resource_id(1)
        rec = ctx.store.get(vm_id)
        if rec is None or rec.type != VM_TYPE:
            raise ArmError(404, "ResourceNotFound",
                           f"The Resource 'Microsoft.Compute/virtualMachines/{path.names[0]}' under resource group "
                           f"'{path.resource_group}' was not found.")
        return vm_instance_view(ctx, rec.body, rec.meta)

    def prepare(
        self, ctx: Ctx, resource_id: str, body: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        raise ArmError(405, "MethodNotAllowed", "The instance view is read-only.")


def vms_in_scale_set(ctx: Ctx, vmss_id: str) -> list[Record]:
    """Flexible-orchestration members: VMs whose ``virtualMachineScaleSet.id`` names the scale set."""
    return [
        r for r in ctx.store.referrers(vmss_id)
        if r.type == VM_TYPE
        and same((r.body.get("properties", {}).get("virtualMachineScaleSet") or {}).get("id"), vmss_id)
    ]


__all__ = ["VMSS_TYPE", "VirtualMachineInstanceViewProvider", "VirtualMachineProvider", "set_nic_owner"]
