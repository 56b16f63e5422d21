"""The Event Grid events poolkeeper reacts to.

One list, used by the ``on_resource_event`` handler to decide what to handle and by the infra test that checks the
Bicep event-subscription filter delivers exactly these (and nothing poolkeeper would ignore).
"""

from __future__ import annotations

from azure.eventgrid import SystemEventNames

# The event type strings come from Microsoft's own catalogue of system events (azure-eventgrid's SystemEventNames,
# generated from the Event Grid data-plane spec), so a typo cannot silently filter every event out.
HANDLED_EVENT_TYPES: tuple[str, ...] = (
    SystemEventNames.ResourceWriteSuccessEventName.value,
    SystemEventNames.ResourceDeleteSuccessEventName.value,
)

HANDLED_OPERATION_NAMES: tuple[str, ...] = (
    "Microsoft.Compute/virtualMachines/write",
    "Microsoft.Compute/virtualMachines/delete",
    "Microsoft.Compute/virtualMachineScaleSets/write",
    "Microsoft.Compute/virtualMachineScaleSets/delete",
    "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/write",
    "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/delete",
    "Microsoft.Network/networkInterfaces/write",
    "Microsoft.Network/networkInterfaces/delete",
)
