"""Virtual machine scale sets: the model, capacity, upgrade policy and the scale-set actions.

The model (``virtualMachineProfile``) and the instances are separate on purpose, as in Azure: a model change only
marks instances ``latestModelApplied: false``. What happens next depends on ``upgradePolicy.mode``: Manual waits for
``POST .../manualupgrade`` (az vmss update-instances), Automatic applies the model to all instances after
``compute.vmss.automatic_upgrade_delay``, Rolling does it in batches (``maxBatchInstancePercent``, default 20%).
Capacity changes act at once: scale-out creates instances at the current model with ids continuing upwards, scale-in
removes the highest ids. Flexible orchestration has ordinary VMs as members (see ``flexible``).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from armsim import ids
from armsim.compute import flexible, upgrades
from armsim.compute.common import (
    POWER_ACTIONS,
    READ_ONLY,
    VMSS_TYPE,
    default_os_configuration,
    instance_view_statuses,
    invalid_parameter,
    new_guid,
    nic_configs,
    props,
    utcnow,
)
from armsim.compute.instances import (
    applied_configs,
    apply_model,
    create_instances,
    instances_of,
    mark_stale,
    natpool_demand,
    remove_instances,
)
from armsim.compute.lbwiring import check_natpool_capacity, check_not_busy, natpool_keys, validate_model
from armsim.errors import ArmError
from armsim.ids import ArmPath
from armsim.provider import ActionResult, Ctx, Provider, registered, strip_keys
from armsim.store import Record

UPGRADE_MODES = {"manual": "Manual", "automatic": "Automatic", "rolling": "Rolling"}
MAX_CAPACITY = 1000


def capacity_of(body: dict[str, Any]) -> int:
    return int((body.get("sku") or {}).get("capacity") or 0)


def mode_of(body: dict[str, Any]) -> str:
    return str(((body.get("properties") or {}).get("upgradePolicy") or {}).get("mode") or "Manual")


def is_flexible(body: dict[str, Any]) -> bool:
    return str((body.get("properties") or {}).get("orchestrationMode") or "Uniform").lower() == "flexible"


def model_key(body: dict[str, Any] | None) -> str:
    """What counts as "the model": a change to it makes instances out of date."""
    if not body:
        return ""
    profile = (body.get("properties") or {}).get("virtualMachineProfile")
    return json.dumps([profile, (body.get("sku") or {}).get("name")], sort_keys=True)


def _normalise_profile(profile: dict[str, Any], old: dict[str, Any]) -> None:
    """Fill in what Azure adds to a model, and drop what it never returns (secrets)."""
    os_profile = profile.get("osProfile")
    if isinstance(os_profile, dict):
        os_profile.pop("adminPassword", None)
        os_profile.pop("customData", None)
    default_os_configuration(profile)
    for cfg in nic_configs(profile):
        cp = cfg.setdefault("properties", {})
        cp.setdefault("dnsSettings", {"dnsServers": []})
        cp.setdefault("enableAcceleratedNetworking", False)
        cp.setdefault("enableIPForwarding", False)
        for ipc in cp.get("ipConfigurations") or []:
            if isinstance(ipc, dict):
                ipc.setdefault("properties", {}).setdefault("privateIPAddressVersion", "IPv4")
        for key in ("name",):
            if key not in cfg:
                raise invalid_parameter("Every network interface configuration needs a 'name'.")


@registered
class ScaleSetProvider(Provider):
    type = VMSS_TYPE
    etag_style = "compute"
    put_duration_kind = "compute.vmss.put"
    delete_duration_kind = "compute.vmss.delete"

    # ------------------------------------------------------------------------------------------------ writes
    def prepare(
        self, ctx: Ctx, resource_id: str, body: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        body = strip_keys(body, READ_ONLY)
        p = props(body)
        old_body = existing or {}
        old = old_body.get("properties") or {}
        sku = dict(old_body.get("sku") or {})
        sku.update(body.get("sku") or {})
        sku.setdefault("capacity", 2)
        if not isinstance(sku["capacity"], int) or not 0 <= sku["capacity"] <= MAX_CAPACITY:
            raise invalid_parameter(f"The value {sku['capacity']} of parameter 'sku.capacity' is out of range. "
                                    f"The value must be between 0 and {MAX_CAPACITY}, inclusive.")
        body["sku"] = sku
        mode = str(p.get("orchestrationMode") or old.get("orchestrationMode") or "Uniform")
        if existing is not None and mode.lower() != str(old.get("orchestrationMode") or "Uniform").lower():
            raise ArmError(409, "PropertyChangeNotAllowed", "Changing property 'orchestrationMode' is not allowed.")
        p["orchestrationMode"] = "Flexible" if mode.lower() == "flexible" else "Uniform"
        policy = p.get("upgradePolicy") or copy.deepcopy(old.get("upgradePolicy")) or {"mode": "Manual"}
        m = UPGRADE_MODES.get(str(policy.get("mode") or "Manual").lower())
        if m is None:
            raise invalid_parameter(f"The value '{policy.get('mode')}' of parameter 'upgradePolicy.mode' is not "
                                    "valid. Allowed values: Manual, Automatic, Rolling.")
        policy["mode"] = m
        if m == "Rolling":
            rp = policy.setdefault("rollingUpgradePolicy", {})
            rp.setdefault("maxBatchInstancePercent", 20)
            rp.setdefault("maxUnhealthyInstancePercent", 20)
            rp.setdefault("maxUnhealthyUpgradedInstancePercent", 20)
            rp.setdefault("pauseTimeBetweenBatches", "PT0S")
        p["upgradePolicy"] = policy
        flex = p["orchestrationMode"] == "Flexible"
        if flex:
            p.setdefault("platformFaultDomainCount", old.get("platformFaultDomainCount", 1))
        else:
            p.setdefault("overprovision", old.get("overprovision", True))
            p.setdefault("singlePlacementGroup", old.get("singlePlacementGroup", True))
        if "virtualMachineProfile" not in p and "virtualMachineProfile" in old:
            p["virtualMachineProfile"] = copy.deepcopy(old["virtualMachineProfile"])
        profile = p.get("virtualMachineProfile")
        if isinstance(profile, dict):
            _normalise_profile(profile, old.get("virtualMachineProfile") or {})
        elif sku["capacity"] > 0:
            raise invalid_parameter("A scale set with instances needs 'properties.virtualMachineProfile'.")
        if flex and isinstance(profile, dict) and nic_configs(profile):
            # A Flexible model's NICs are created by the network provider from networkInterfaceConfigurations at
            # networkProfile.networkApiVersion; CRP fills in "2020-11-01" when a Flexible model leaves it out
            # (Azure/azure-cli#17830, the compute team's request for az vmss create's --network-api-version).
            profile.setdefault("networkProfile", {}).setdefault("networkApiVersion", "2020-11-01")
        validate_model(ctx, resource_id, profile if isinstance(profile, dict) else None, flexible=flex)
        if not flex:
            self._check_instances_fit(ctx, resource_id, body, existing)
        p["uniqueId"] = old.get("uniqueId") or new_guid()
        p["timeCreated"] = old.get("timeCreated") or utcnow()
        return body

    @staticmethod
    def _check_instances_fit(ctx: Ctx, rid: str, body: dict[str, Any], existing: dict[str, Any] | None) -> None:
        """NAT pools must have a port for every instance that will use them; their LBs must not be mid-update."""
        insts = instances_of(ctx, rid)
        cap = capacity_of(body)
        model = nic_configs(body["properties"].get("virtualMachineProfile"))
        changed = existing is not None and model_key(existing) != model_key(body)
        if changed and mode_of(body) != "Manual":
            after = [model] * cap
        else:
            after = [applied_configs(r) or [] for r in insts[:cap]] + [model] * max(0, cap - len(insts))
        check_natpool_capacity(ctx, natpool_demand(ctx, after))
        touched: set[str] = set()
        if cap > len(insts):
            touched |= {k[0] for k in natpool_keys(model)}
        for r in insts[cap:]:
            touched |= {k[0] for k in natpool_keys(applied_configs(r) or [])}
        check_not_busy(ctx, touched, rid)

    def after_put(self, ctx: Ctx, record: Record, previous: dict[str, Any] | None) -> None:
        record.meta.setdefault("model_version", 1)
        changed = previous is not None and model_key(previous) != model_key(record.body)
        if changed:
            record.meta["model_version"] = int(record.meta["model_version"]) + 1
        try:
            if is_flexible(record.body):
                flexible.reconcile(ctx, record)
                return
            if changed:
                mark_stale(ctx, record)
            insts = instances_of(ctx, record.id)
            cap = capacity_of(record.body)
            if len(insts) > cap:
                remove_instances(ctx, record, insts[cap:])  # scale-in removes the highest instance ids
            elif len(insts) < cap:
                create_instances(ctx, record, cap - len(insts), "Creating")
        except ArmError:
            if previous is not None:
                ctx.store.put(Record(record.id, record.type, previous, meta=record.meta))
            else:
                ctx.store.remove(record.id)
            raise
        if changed and mode_of(record.body) != "Manual":
            upgrades.schedule(ctx, record)

    def on_put_complete(self, ctx: Ctx, record: Record) -> None:
        for r in instances_of(ctx, record.id):
            p = props(r.body)
            if p.get("provisioningState") in ("Creating", "Updating"):
                p["provisioningState"] = "Succeeded"
            if r.meta.get("power") == "starting":
                r.meta["power"] = "running"

    def after_delete(self, ctx: Ctx, record: Record) -> None:
        if is_flexible(record.body):
            flexible.delete_all(ctx, record)
            return
        remove_instances(ctx, record, instances_of(ctx, record.id))

    # ------------------------------------------------------------------------------------------------ actions
    def action(self, ctx: Ctx, record: Record, name: str, body: Any) -> ActionResult:
        n = name.lower()
        if n == "manualupgrade":
            return self._manual_upgrade(ctx, record, body)
        if n == "delete":
            return self._delete_instances(ctx, record, body)
        if n in POWER_ACTIONS:
            return self._power(ctx, record, n, body)
        return super().action(ctx, record, name, body)

    @staticmethod
    def _targets(ctx: Ctx, record: Record, body: Any, *, required: bool) -> list[Record]:
        """Instances named by ``{"instanceIds": [...]}`` (``*`` = all; omitted = all unless required)."""
        insts = instances_of(ctx, record.id)
        wanted = (body or {}).get("instanceIds") if isinstance(body, dict) else None
        if wanted is None or wanted == []:
            if required:
                raise invalid_parameter("Required parameter 'instanceIds' is missing (null).")
            return insts
        if not isinstance(wanted, list) or not all(isinstance(w, str | int) for w in wanted):
            raise invalid_parameter("Parameter 'instanceIds' must be a list of instance ids.")
        if [str(w) for w in wanted] == ["*"]:
            return insts
        by_id = {ids.name_of(r.id): r for r in insts}
        out = []
        for w in wanted:
            r = by_id.get(str(w))
            if r is None:
                raise invalid_parameter(
                    f"The provided instanceId {w} is not an active Virtual Machine Scale Set VM instanceId."
                )
            if r not in out:
                out.append(r)
        return out

    def _manual_upgrade(self, ctx: Ctx, record: Record, body: Any) -> ActionResult:
        if is_flexible(record.body):
            raise ArmError(400, "OperationNotAllowed",
                           "Manual upgrade is not supported for scale sets with Flexible orchestration mode.")
        targets = self._targets(ctx, record, body, required=True)
        model = nic_configs(record.body.get("properties", {}).get("virtualMachineProfile"))
        chosen = {r.id for r in targets}
        after = [model if r.id in chosen else applied_configs(r) or [] for r in instances_of(ctx, record.id)]
        check_natpool_capacity(ctx, natpool_demand(ctx, after))
        touched = {k[0] for k in natpool_keys(model)}
        for r in targets:
            touched |= {k[0] for k in natpool_keys(applied_configs(r) or [])}
        check_not_busy(ctx, touched, record.id)
        apply_model(ctx, record, targets, provisioning="Updating")
        return ActionResult(status=200, duration=ctx.duration("compute.vmss.upgrade"),
                            on_complete=_settle(ctx, record.id, [r.id for r in targets]))

    def _delete_instances(self, ctx: Ctx, record: Record, body: Any) -> ActionResult:
        targets = self._targets(ctx, record, body, required=True)
        touched: set[str] = set()
        for r in targets:
            touched |= {k[0] for k in natpool_keys(applied_configs(r) or [])}
        check_not_busy(ctx, touched, record.id)
        remove_instances(ctx, record, targets)
        record.body["sku"]["capacity"] = max(0, capacity_of(record.body) - len(targets))
        return ActionResult(status=200, duration=ctx.duration("compute.vm.delete"))

    def _power(self, ctx: Ctx, record: Record, n: str, body: Any) -> ActionResult:
        during, after = POWER_ACTIONS[n]
        targets = self._targets(ctx, record, body, required=False)
        for r in targets:
            r.meta["power"] = during
        store = ctx.store
        target_ids = [r.id for r in targets]

        def done() -> None:
            for rid in target_ids:
                rec = store.get(rid)
                if rec is not None:
                    rec.meta["power"] = after

        return ActionResult(status=200, duration=ctx.duration("compute.vm.update"), on_complete=done)


def _settle(ctx: Ctx, vmss_id: str, instance_ids: list[str]) -> Any:
    store = ctx.store

    def done() -> None:
        for rid in instance_ids:
            rec = store.get(rid)
            if rec is not None and props(rec.body).get("provisioningState") == "Updating":
                rec.body["properties"]["provisioningState"] = "Succeeded"

    return done


@registered
class ScaleSetInstanceViewProvider(Provider):
    """``GET .../virtualMachineScaleSets/{vmss}/instanceView``: a summary computed from the instances."""

    type = f"{VMSS_TYPE}/instanceView"
    etag_style = None

    def custom_get(self, ctx: Ctx, path: ArmPath) -> Any:
        vmss = ctx.store.get(path.resource_id(1))
        if vmss is None or vmss.type != VMSS_TYPE:
            raise ArmError(404, "ResourceNotFound",
                           f"The Resource 'Microsoft.Compute/virtualMachineScaleSets/{path.names[0]}' under resource "
                           f"group '{path.resource_group}' was not found.")
        counts: dict[str, int] = {}
        for r in instances_of(ctx, vmss.id):
            state = str(props(r.body).get("provisioningState", "Succeeded")).lower()
            code = f"ProvisioningState/{state}"
            counts[code] = counts.get(code, 0) + 1
        prov = str(vmss.body.get("properties", {}).get("provisioningState", "Succeeded"))
        return {
            "virtualMachine": {"statusesSummary": [{"code": c, "count": n} for c, n in sorted(counts.items())]},
            "statuses": instance_view_statuses(prov, None, str(vmss.body.get("properties", {}).get("timeCreated"))),
        }

    def prepare(
        self, ctx: Ctx, resource_id: str, body: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        raise ArmError(405, "MethodNotAllowed", "The instance view is read-only.")
