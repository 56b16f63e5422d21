"""What armsim's Microsoft.Compute providers share: type names, read-only fields, power states, instance views.

Compute answers differ from network answers in small ways clients notice (ETags ``"1"``, ``"2"``; ``vmId``;
``instanceView`` only on request; ``adminPassword`` never echoed), so they are kept in one place.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from armsim import ids
from armsim.compute.images import latest_version
from armsim.errors import ArmError
from armsim.provider import Ctx

NAMESPACE = "Microsoft.Compute"
AVSET_TYPE = "Microsoft.Compute/availabilitySets"
VM_TYPE = "Microsoft.Compute/virtualMachines"
VMSS_TYPE = "Microsoft.Compute/virtualMachineScaleSets"
VMSS_VM_TYPE = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines"
NIC_TYPE = "Microsoft.Network/networkInterfaces"
LB_TYPE = "Microsoft.Network/loadBalancers"
VNET_TYPE = "Microsoft.Network/virtualNetworks"

# Fields a client may echo back from a GET that the server owns; dropped from PUT bodies wherever they appear.
READ_ONLY = frozenset(
    {"provisioningState", "vmId", "instanceView", "timeCreated", "uniqueId", "latestModelApplied", "statuses",
     "virtualMachines", "modelDefinitionApplied", "etag", "resources"}
)

# Power states a VM moves through, as the instance view names them ("PowerState/<state>").
POWER_DISPLAY = {
    "starting": "VM starting",
    "running": "VM running",
    "stopping": "VM stopping",
    "stopped": "VM stopped",
    "deallocating": "VM deallocating",
    "deallocated": "VM deallocated",
    "restarting": "VM restarting",
}

# POST actions on a VM or scale-set instance: name (lower case) -> (state while running, state afterwards)
POWER_ACTIONS = {
    "start": ("starting", "running"),
    "poweroff": ("stopping", "stopped"),
    "deallocate": ("deallocating", "deallocated"),
    "restart": ("restarting", "running"),
}


def utcnow() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def new_guid() -> str:
    return str(uuid.uuid4())


def props(body: dict[str, Any]) -> dict[str, Any]:
    """The ``properties`` object of a body, created if missing."""
    p = body.get("properties")
    if not isinstance(p, dict):
        p = {}
        body["properties"] = p
    return p


def ref_ids(items: Any) -> list[str]:
    """The ids of a list of ``{"id": ...}`` references (anything else ignored)."""
    if not isinstance(items, list):
        return []
    return [i["id"] for i in items if isinstance(i, dict) and isinstance(i.get("id"), str)]


def same(a: str | None, b: str | None) -> bool:
    """ARM ids compare case-insensitively."""
    return a is not None and b is not None and ids.key(a) == ids.key(b)


def query_param(ctx: Ctx, name: str) -> str | None:
    """A query parameter of the request being served (``$expand`` and friends are not passed to providers)."""
    if not ctx.url:
        return None
    values = parse_qs(urlsplit(ctx.url).query).get(name)
    return values[0] if values else None


def wants_instance_view(ctx: Ctx) -> bool:
    return (query_param(ctx, "$expand") or "").lower() == "instanceview"


def hide_user_data(ctx: Ctx, body: dict[str, Any]) -> None:
    """``userData`` is returned only to ``$expand=userData`` (it may hold secrets)."""
    if (query_param(ctx, "$expand") or "").lower() != "userdata":
        (body.get("properties") or {}).pop("userData", None)


def is_linux(profile: dict[str, Any]) -> bool:
    os_profile = profile.get("osProfile") or {}
    if os_profile.get("linuxConfiguration"):
        return True
    if os_profile.get("windowsConfiguration"):
        return False
    image = (profile.get("storageProfile") or {}).get("imageReference") or {}
    os_type = ((profile.get("storageProfile") or {}).get("osDisk") or {}).get("osType")
    if os_type:
        return str(os_type).lower() == "linux"
    return "windows" not in str(image.get("publisher", "")).lower()


def default_os_configuration(profile: dict[str, Any]) -> None:
    """The OS configuration Azure fills in when a request names none (as in the published responses)."""
    os_profile = profile.get("osProfile")
    if not isinstance(os_profile, dict):
        return
    os_profile.setdefault("secrets", [])
    if is_linux(profile):
        lc = os_profile.setdefault("linuxConfiguration", {})
        lc.setdefault("disablePasswordAuthentication", False)
        lc.setdefault("provisionVMAgent", True)
    else:
        wc = os_profile.setdefault("windowsConfiguration", {})
        wc.setdefault("provisionVMAgent", True)
        wc.setdefault("enableAutomaticUpdates", True)


def materialise_disks(profile: dict[str, Any], rg_base: str, disk_prefix: str, previous: dict[str, Any] | None) -> None:
    """Name a VM's managed disks and give them ids, sizes and OS type, keeping what an earlier version had."""
    storage = profile.get("storageProfile")
    if not isinstance(storage, dict):
        return
    prev = (previous or {}).get("storageProfile") or {}
    linux = is_linux(profile)
    image = storage.get("imageReference")
    if isinstance(image, dict) and image.get("version") and "exactVersion" not in image:
        image["exactVersion"] = image["version"] if image["version"] != "latest" else latest_version(image)
    os_disk = storage.setdefault("osDisk", {})
    # a null in the body means "not given" (az's generated templates send "name": null, "storageAccountType": null)
    for key in ("name", "caching"):
        if os_disk.get(key) is None:
            os_disk.pop(key, None)
    if isinstance(os_disk.get("managedDisk"), dict) and os_disk["managedDisk"].get("storageAccountType") is None:
        os_disk["managedDisk"].pop("storageAccountType", None)
    old_os = prev.get("osDisk") or {}
    os_disk.setdefault("osType", "Linux" if linux else "Windows")
    os_disk.setdefault("createOption", "FromImage")
    os_disk.setdefault("name", old_os.get("name") or f"{disk_prefix}_OsDisk_1_{new_guid().replace('-', '')}")
    os_disk.setdefault("caching", old_os.get("caching") or "ReadWrite")
    if not os_disk.get("vhd"):
        md = os_disk.setdefault("managedDisk", {})
        old_type = (old_os.get("managedDisk") or {}).get("storageAccountType")
        md.setdefault("storageAccountType", old_type or "Premium_LRS")
        md["id"] = f"{rg_base}/Microsoft.Compute/disks/{os_disk['name']}"
    os_disk.setdefault("diskSizeGB", old_os.get("diskSizeGB") or (30 if linux else 127))
    old_data = {d.get("lun"): d for d in prev.get("dataDisks") or [] if isinstance(d, dict)}
    for d in storage.get("dataDisks") or []:
        if not isinstance(d, dict):
            continue
        d.setdefault("name", (old_data.get(d.get("lun")) or {}).get("name")
                     or f"{disk_prefix}_disk{int(d.get('lun', 0)) + 2}_{new_guid().replace('-', '')}")
        d.setdefault("caching", "None")
        if not d.get("vhd"):
            md = d.setdefault("managedDisk", {})
            md.setdefault("storageAccountType", "Premium_LRS")
            md.setdefault("id", f"{rg_base}/Microsoft.Compute/disks/{d['name']}")


def nic_configs(profile: dict[str, Any] | None) -> list[dict[str, Any]]:
    """``networkProfile.networkInterfaceConfigurations`` of a scale-set model (or an instance's applied copy)."""
    if not profile:
        return []
    cfgs = (profile.get("networkProfile") or {}).get("networkInterfaceConfigurations")
    return [c for c in cfgs or [] if isinstance(c, dict)]


def ip_configs(cfgs: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Every (NIC configuration, IP configuration) pair of a list of NIC configurations."""
    for cfg in cfgs:
        for ipc in (cfg.get("properties") or {}).get("ipConfigurations") or []:
            if isinstance(ipc, dict):
                yield cfg, ipc


def instance_view_statuses(provisioning: str, power: str | None, when: str) -> list[dict[str, Any]]:
    state = provisioning.lower()
    out: list[dict[str, Any]] = [
        {
            "code": f"ProvisioningState/{state}",
            "level": "Info",
            "displayStatus": f"Provisioning {state}",
            "time": when,
        }
    ]
    if power:
        out.append({"code": f"PowerState/{power}", "level": "Info", "displayStatus": POWER_DISPLAY.get(power, power)})
    return out


def invalid_parameter(message: str) -> ArmError:
    """Compute's generic refusal of a bad request field (code ``InvalidParameter``, HTTP 400)."""
    return ArmError(400, "InvalidParameter", message)


def invalid_reference(ref_id: str, referrer: str) -> ArmError:
    """Azure's answer to a reference to a resource that does not exist (network's wording, used for LB children).

    Source: the ``InvalidResourceReference`` error text quoted in e.g. PaloAltoNetworks/ReferenceArchitectures#9 and
    MicrosoftLearning/AZ-700...#143 ("Resource X referenced by resource Y was not found. ...").
    """
    return ArmError(
        400,
        "InvalidResourceReference",
        f"Resource {ref_id} referenced by resource {referrer} was not found. Please make sure that the referenced "
        f"resource exists, and that both resources are in the same region.",
    )


def power_of(meta: dict[str, Any]) -> str:
    return str(meta.get("power") or "running")
