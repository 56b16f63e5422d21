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
